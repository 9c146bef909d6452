"""Encryption at rest (bot/crypto.py, issue 8): what people wrote is in neither database in clear.

* The values: a round trip, a plain value from before encryption still reads, a new key in front of
  DATA_KEYS still reads what the old one wrote, wrong or malformed keys give an error naming
  DATA_KEYS and never the value or the key.
* On SQLite and PostgreSQL: a report made through ``submit_report``, with a note, messages,
  evidence, a safety check and a text received, leaves no trace of its marker in any raw table,
  while the ORM reads it all back; subject access still finds a safer email address.
* Rotation: after ``rotate_all`` with the new key in front, the old key can go and everything
  (tracker events too) still reads; plain values are encrypted on the way; a second run rewrites
  nothing; a row the service changed meanwhile is left as the service wrote it.
* Rasa's tracker store (``UrlSQLTrackerStore``) encrypts events and reads them back, and the whole
  stack keeps a conversation encrypted while Rasa's HTTP API and the console transcript read it.
"""
from __future__ import annotations

import asyncio
import json
import os
import stat
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from bot import crypto
from bot.cases import submit_report
from bot.console import privacy
from bot.console.transcript import transcript
from bot.db import engine_for
from bot.models import (
    Case, CaseNote, Evidence, InboundMessage, OutboxMessage, PhoneContact, Referral, RiskAssessment, WorkOrder,
)
from tests.test_privacy import scan  # every value of every table, as stored

NOW = datetime(2026, 11, 21, 22, 30, tzinfo=timezone.utc)
OLD, NEW, OTHER = (Fernet.generate_key().decode("ascii") for _ in range(3))
EVENTS = """CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), type_name VARCHAR(255),
            timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"""


@pytest.fixture
def keys(monkeypatch):
    """DATA_KEYS for this test only: the old key to begin with; call it to change them."""
    def use(value: str) -> None:
        monkeypatch.setenv("DATA_KEYS", value)

    use(OLD)
    return use


def new_marker() -> str:
    return f"Marker{uuid.uuid4().hex[:10]}Xyzzy"


# --- The values --------------------------------------------------------------------------------

def test_text_and_bytes_round_trip_with_a_recognisable_prefix(keys):
    secret = "They wrote ÄÖÜ, 中文 and Marker123 on my door"
    stored = crypto.encrypt_text(secret)
    assert stored.startswith("enc1:") and "Marker123" not in stored and crypto.is_encrypted(stored)
    assert crypto.decrypt_text(stored) == secret
    assert crypto.encrypt_text(secret) != stored  # a fresh IV each time: equal texts do not show
    photo = b"\xff\xd8\xff\xe0 JPEG Marker123"
    stored_bytes = crypto.encrypt_bytes(photo)
    assert stored_bytes.startswith(b"enc1:") and b"Marker123" not in stored_bytes
    assert crypto.decrypt_bytes(stored_bytes) == photo
    assert crypto.encrypt_text(None) is None and crypto.decrypt_text(None) is None
    assert crypto.encrypt_bytes(None) is None and crypto.decrypt_bytes(None) is None
    assert crypto.decrypt_text(crypto.encrypt_text("")) == ""


def test_values_written_before_encryption_still_read(keys):
    assert crypto.decrypt_text("Flat 4, Oak Court") == "Flat 4, Oak Court"
    assert crypto.decrypt_bytes(b"\x89PNG raw") == b"\x89PNG raw"
    assert not crypto.is_encrypted("Flat 4") and not crypto.is_encrypted(b"\x89PNG")


def test_a_new_key_in_front_reads_the_old_values_and_writes_with_the_new(keys):
    old_value = crypto.encrypt_text("written with the old key")
    keys(f"{NEW},{OLD}")
    assert crypto.decrypt_text(old_value) == "written with the old key"
    new_value = crypto.encrypt_text("written with the new key")
    assert crypto.decrypt_text(new_value, keys=NEW) == "written with the new key"
    with pytest.raises(crypto.DataKeyError):
        crypto.decrypt_text(new_value, keys=OLD)


def test_wrong_keys_give_a_clear_error_naming_data_keys_never_the_value(keys):
    stored = crypto.encrypt_text("Marker123 secret")
    keys(OTHER)
    with pytest.raises(crypto.DataKeyError) as raised:
        crypto.decrypt_text(stored)
    message = str(raised.value)
    assert "DATA_KEYS" in message and "rotate-keys" in message
    assert stored not in message and "Marker123" not in message and OTHER not in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    with pytest.raises(crypto.DataKeyError, match="DATA_KEYS"):
        crypto.decrypt_bytes(crypto.encrypt_bytes(b"x", keys=OLD))


def test_a_malformed_key_is_named_by_its_place_not_shown(keys):
    keys(f"{NEW},not-a-key-Marker123")
    with pytest.raises(crypto.DataKeyError) as raised:
        crypto.encrypt_text("x")
    assert "DATA_KEYS: key 2 of 2" in str(raised.value) and "Marker123" not in str(raised.value)


def test_rotating_a_value_says_what_it_did(keys):
    old = crypto.encrypt_text("text")
    keys(f"{NEW},{OLD}")
    outcome, rotated = crypto.rotate_value(old)
    assert outcome == "rotated" and crypto.decrypt_text(rotated, keys=NEW) == "text"
    assert crypto.rotate_value(rotated) == ("current", None)
    outcome, encrypted = crypto.rotate_value("plain text")
    assert outcome == "encrypted" and crypto.decrypt_text(encrypted, keys=NEW) == "plain text"
    outcome, blob = crypto.rotate_value(crypto.encrypt_bytes(b"photo", keys=OLD))
    assert outcome == "rotated" and crypto.decrypt_bytes(blob, keys=NEW) == b"photo"
    outcome, answers = crypto.rotate_json(json.dumps({"code_word": "bluebird"}))
    assert outcome == "encrypted" and json.loads(crypto.decrypt_text(json.loads(answers))) == {"code_word": "bluebird"}
    assert crypto.rotate_json(answers) == ("current", None)
    keys(OTHER)
    with pytest.raises(crypto.DataKeyError):
        crypto.rotate_value(old)


def test_event_data_reads_encrypted_plain_and_broken_events(keys):
    event = {"event": "user", "text": "hello"}
    assert crypto.event_data(crypto.encrypt_text(json.dumps(event))) == event
    assert crypto.event_data(json.dumps(event)) == event
    assert crypto.event_data(None) == {} and crypto.event_data("not json") == {} and crypto.event_data("[1]") == {}


def test_the_development_key_is_made_once_and_kept_for_its_owner_only(tmp_path):
    store = tmp_path / "var" / "data.key"
    key = crypto.development_key(store)
    assert Fernet(key) and store.read_text().strip() == key
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
    crypto.development_key.cache_clear()
    assert crypto.development_key(store) == key
    assert [p.name for p in store.parent.iterdir()] == ["data.key"]


# --- The case database ---------------------------------------------------------------------------

def make_report(factory, settings, marker: str) -> str:
    """A report through the case service with ``marker`` in its free text, and everything else that
    holds what a person wrote: a safety check, a note, messages, evidence, a text received."""
    answers = {
        "reporter_role": "victim", "description": f"They shouted at me. {marker}",
        "incident_type": ["abuse"], "motivation": ["race"], "incident_when": "2026-11-20",
        "location": "home", "address": f"Flat 4, {marker} Court, CF10 1AA", "perpetrator_known": "known",
        "perpetrator_description": f"tall man {marker}", "graffiti": "yes", "graffiti_location": f"door {marker}",
        "home_insecure": "yes", "contact_name": f"Sam {marker}", "contact": {"phone": "+447700900123"},
        "consent_police": "yes", "consent_agencies": "no",
    }
    tag = uuid.uuid4().hex[:12]  # ids in clear: not the marker
    submission = submit_report(factory, settings, report_id=f"r-{tag}", conversation_id=f"conv-{tag}",
                               channel="rest", language="en", answers=answers, consent_log={}, now=NOW)
    with factory() as s:
        case = s.execute(select(Case).where(Case.reference == submission.reference)).scalar_one()
        case.code_word, case.safe_contact_other = f"bluebird {marker}", f"{marker.lower()}@example.org"
        case.assessments.append(RiskAssessment(
            matrix_version="v", answers={"code_word": f"bluebird {marker}"}, score=1, scored_level="standard",
            assessed_by="reporter:chat", override_reason=f"spoke to {marker}"))
        for referral in case.referrals:
            referral.outcome = f"PC Smith saw {marker}"
        s.add(CaseNote(case_id=case.id, author="asha", body=f"Rang them: {marker}"))
        s.add(OutboxMessage(dedupe_key=f"reply:{tag}", topic="reply", transport="sms", recipient="+447700900123",
                            body=f"You said {marker}", case_id=case.id))
        s.add(Evidence(conversation_id=case.conversation_id, case_id=case.id, content_type="image/jpeg", size=10,
                       sha256="f" * 64, data=f"JPEG {marker}".encode(), consented_at=NOW))
        s.add(InboundMessage(message_sid=f"SM{tag}", channel="sms", conversation_id=case.conversation_id,
                             body=f"hello {marker}"))
        s.add(PhoneContact(conversation_id=case.conversation_id, channel="sms", number="+447700900123",
                           service_number="+447700900100", last_reply=f"Did you mean {marker}?"))
        s.commit()
    return submission.reference


def read_back(factory, reference: str) -> list:
    """What the ORM reads of the report: every encrypted column, decrypted."""
    with factory() as s:
        case = s.execute(select(Case).where(Case.reference == reference)).scalar_one()
        related = [s.execute(select(m).where(m.case_id == case.id)).scalars().all()
                   for m in (CaseNote, OutboxMessage, Evidence, WorkOrder, Referral)]
        notes, messages, evidence, orders, referrals = related
        return [case.description, case.address, case.perpetrator_description, case.graffiti_location,
                case.contact_name, case.code_word, case.safe_contact_other, case.assessments[0].answers["code_word"],
                case.assessments[0].override_reason, notes[0].body, evidence[0].data.decode(),
                *[m.body for m in messages if m.topic == "reply"], *[o.location for o in orders],
                *[r.outcome for r in referrals],
                s.execute(select(InboundMessage.body).where(InboundMessage.conversation_id == case.conversation_id))
                .scalar_one(), s.get(PhoneContact, case.conversation_id).last_reply]


def test_a_report_leaves_no_plaintext_in_the_raw_tables_and_reads_back(factory, settings, keys):
    marker = new_marker()
    reference = make_report(factory, settings, marker)
    raw = scan(settings.database_url)
    assert reference.lower() in raw and "+447700900123" in raw  # the scan sees what is kept in clear
    assert raw.count("enc1:") >= 15
    assert marker.lower() not in raw
    values = read_back(factory, reference)
    assert len(values) >= 17 and all(marker in v or marker.lower() in v for v in values)


def test_subject_access_finds_a_safer_email_address_though_it_is_encrypted(factory, settings, keys):
    marker = new_marker()
    reference = make_report(factory, settings, marker)
    found = privacy.subject_access(factory, settings, email=f"  {marker.upper()}@EXAMPLE.org ")
    assert [c["reference"] for c in found["cases"]] == [reference]
    assert found["cases"][0]["report"]["description"].endswith(marker)


def tracker_url(settings, tmp_path) -> str:
    """A tracker store with an events table: its own SQLite file, or the case database on PostgreSQL."""
    url = settings.database_url
    if url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'tracker.db'}"
    with engine_for(url).begin() as conn:
        conn.execute(text(EVENTS))
    return url


def add_event(url: str, sender: str, said: str, encrypted: bool) -> None:
    data = json.dumps({"event": "user", "text": said, "parse_data": {"intent": {"name": "inform"}, "entities": []}})
    with engine_for(url).begin() as conn:
        next_id = conn.execute(text("SELECT COALESCE(MAX(id), 0) + 1 FROM events")).scalar_one()
        conn.execute(text("INSERT INTO events (id, sender_id, type_name, timestamp, data) "
                          "VALUES (:i, :s, 'user', :t, :d)"),
                     {"i": next_id, "s": sender, "t": NOW.timestamp(),
                      "d": crypto.encrypt_text(data) if encrypted else data})


def test_rotate_keys_rewrites_everything_so_the_old_key_can_go(factory, settings, keys, tmp_path):
    marker = new_marker()
    reference = make_report(factory, settings, marker)
    with engine_for(settings.database_url).begin() as conn:  # written before encryption was switched on
        conn.execute(text("UPDATE case_notes SET body = :b"), {"b": f"plain note {marker}"})
    tracker = tracker_url(settings, tmp_path)
    add_event(tracker, "conv-1", f"encrypted {marker}", encrypted=True)
    add_event(tracker, "conv-1", f"plain {marker}", encrypted=False)

    keys(f"{NEW},{OLD}")
    done = crypto.rotate_all(settings.database_url, tracker, batch=3)
    assert done["cases.description"].rotated == 1 and done["case_notes.body"].encrypted == 1
    assert done["evidence.data"].rotated == 1 and done["risk_assessments.answers"].rotated == 1
    events = done["tracker events.data"]
    assert (events.rotated, events.encrypted, events.changed) == (1, 1, 0)
    assert all(c.changed == 0 for c in done.values())
    again = crypto.rotate_all(settings.database_url, tracker)
    assert sum(c.rotated + c.encrypted for c in again.values()) == 0
    assert sum(c.current for c in again.values()) == sum(c.rotated + c.encrypted + c.current for c in done.values())

    keys(NEW)  # the old key removed: everything still reads
    assert all(marker in v or marker.lower() in v for v in read_back(factory, reference))
    assert [line.text for line in transcript(tracker, "conv-1")] == [f"encrypted {marker}", f"plain {marker}"]
    assert marker.lower() not in scan(settings.database_url) + scan(tracker)
    keys(OLD)  # and nothing is left that only the old key reads
    with pytest.raises(crypto.DataKeyError):
        read_back(factory, reference)


def test_rotation_leaves_a_row_the_service_changed_meanwhile(factory, settings, keys):
    reference = make_report(factory, settings, new_marker())
    target = crypto.Target("cases", "id", "description", "text")
    engine = engine_for(settings.database_url)
    with engine.connect() as conn:
        case_id, stale = conn.execute(text("SELECT id, description FROM cases WHERE reference = :r"),
                                      {"r": reference}).one()
    with factory() as s:  # the service writes meanwhile
        s.get(Case, case_id).description = "changed by an officer"
        s.commit()
    keys(f"{NEW},{OLD}")
    with engine.begin() as conn:
        assert not crypto._write(conn, target, case_id, stale, crypto.rotate_value(stale)[1])
    with factory() as s:
        assert s.get(Case, case_id).description == "changed by an officer"


# --- The tracker store ---------------------------------------------------------------------------

def test_rasas_tracker_store_encrypts_events_and_reads_them_back(settings, keys, tmp_path):
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa_ext.stores import UrlSQLTrackerStore

    marker, sender = new_marker(), f"web-{uuid.uuid4().hex}"
    url = settings.database_url if settings.database_url.startswith("postgresql") else \
        f"sqlite:///{tmp_path / 'tracker.db'}"
    domain = Domain.from_dict({"intents": ["inform"],
                               "slots": {"description": {"type": "text", "mappings": [{"type": "custom"}]}}})
    store = UrlSQLTrackerStore(domain=domain, url=url)
    tracker = DialogueStateTracker.from_events(sender, [
        UserUttered(f"they wrote {marker}", {"name": "inform", "confidence": 1.0}),
        SlotSet("description", f"they wrote {marker}"), BotUttered(f"You said {marker}")], domain.slots)
    asyncio.run(store.save(tracker))
    assert marker.lower() not in scan(url)
    add_event(url, sender, f"plain {marker}", encrypted=False)  # a row from before encryption

    back = asyncio.run(store.retrieve_full_tracker(sender))
    assert back.get_slot("description") == f"they wrote {marker}"
    assert [e.text for e in back.events if hasattr(e, "text")] == [
        f"they wrote {marker}", f"You said {marker}", f"plain {marker}"]
    assert [line.text for line in transcript(url, sender)] == [
        f"they wrote {marker}", f"You said {marker}", f"plain {marker}"]
    store.engine.dispose()


@pytest.mark.integration
def test_a_conversation_is_encrypted_in_the_tracker_store_of_the_running_stack(sqlite_stack):
    stack, marker, sender = sqlite_stack, new_marker(), uuid.uuid4().hex
    said = f"my neighbour keeps shouting racist abuse at me, {marker}"
    r = requests.post(f"{stack.rasa_url}/webhooks/rest/webhook",
                      json={"sender": sender, "message": said, "metadata": {}}, timeout=60)
    r.raise_for_status()
    url = stack.settings.tracker_database_url
    with engine_for(url).connect() as conn:
        rows = conn.execute(text("SELECT * FROM events WHERE sender_id = :s"), {"s": sender}).all()
    assert rows and marker not in str(rows) and all(row.data.startswith("enc1:") for row in rows)

    r = requests.get(f"{stack.rasa_url}/conversations/{sender}/tracker",
                     params={"token": stack.settings.rasa_auth_token}, timeout=30)
    r.raise_for_status()
    assert [e["text"] for e in r.json()["events"] if e["event"] == "user"] == [said]
    lines = transcript(url, sender)
    assert lines[0].who == "person" and lines[0].text == said
    assert lines[0].at > datetime.now(timezone.utc) - timedelta(minutes=5)


def test_an_encrypted_column_compares_with_null_only():
    assert "IS NOT NULL" in str(select(Case.id).where(Case.description.is_not(None), Case.code_word == None))  # noqa: E711
    for misuse in (lambda: Case.description == "x", lambda: OutboxMessage.body.contains("HC-"),
                   lambda: "x" == Case.address, lambda: Case.contact_name.in_(["Sam"]),
                   lambda: RiskAssessment.answers["code_word"], lambda: Case.address.desc()):
        with pytest.raises(TypeError, match="encrypted column"):
            misuse()

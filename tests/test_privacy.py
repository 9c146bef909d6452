"""Data protection (bot/console/privacy.py, bot/web/console_privacy.py), on SQLite and PostgreSQL:
subject access by reference, phone and email finds the case and its conversation; anonymisation
after the retention period leaves nothing in any table of either database that identifies the
person, while the monitoring counts survive; cases not due are untouched; a shared SMS
conversation keeps what a live case needs; the console pages are for administrators and audit
each search without the identifier; the command line runs."""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from itertools import count

import pytest
from sqlalchemy import inspect, select, text

from bot.console import auth, privacy
from bot.db import engine_for
from bot.models import (
    AuditEntry, Booking, Case, CaseEvent, CaseNote, Consent, Evidence, InboundMessage, Officer, OutboxMessage,
    PhoneContact, Referral, RiskAssessment, WorkOrder,
)
from bot.references import new_reference

MARKER = "Quokka7731Zebra"
NAME = "Imogen Featherstonehaugh"
PHONE = "+447700900123"
PHONE_AS_TYPED = "07700 900123"
EMAIL = "imogen.f@example.org"
ADDRESS = "Flat 3, 12 Quarry Lane, Cardiff CF10 1AA"
IDENTIFIERS = (MARKER, NAME, PHONE, PHONE_AS_TYPED, "7700900123", EMAIL)
PASSWORD = "correct horse battery"

CLOSED = datetime(2019, 3, 10, 12, 0, tzinfo=timezone.utc)
SUBMITTED = CLOSED - timedelta(days=60)
LATER = CLOSED + timedelta(days=2191)  # past the 6 years
CONVERSATION = "sms-" + "a1" * 16
EVENTS = """CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), type_name VARCHAR(255),
            timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"""
_ids = count(1)


@pytest.fixture
def tracked(settings, tmp_path):
    """The settings with a tracker store holding an events table: a file of its own beside a SQLite
    case database, the case database itself with PostgreSQL (as ``tracker_url_for`` makes them)."""
    url = settings.database_url
    if url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'tracker.db'}"
    with engine_for(url).begin() as conn:
        conn.execute(text(EVENTS))
    yield replace(settings, tracker_database_url=url, rasa_public_url="http://127.0.0.1:5005")
    engine_for(url).dispose()


def add_events(settings, sender: str, events: list[tuple[str, datetime, str]]) -> None:
    with engine_for(settings.tracker_database_url).begin() as conn:
        for type_name, at, said in events:
            conn.execute(text("INSERT INTO events (id, sender_id, type_name, timestamp, data) "
                              "VALUES (:id, :sender, :type, :ts, :data)"),
                         {"id": next(_ids), "sender": sender, "type": type_name, "ts": at.timestamp(),
                          "data": json.dumps({"event": type_name, "text": said} if said else {"event": type_name})})


def events_of(settings, sender: str) -> list[str]:
    with engine_for(settings.tracker_database_url).connect() as conn:
        rows = conn.execute(text("SELECT type_name, data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender})
        return [json.loads(data).get("text") or type_name for type_name, data in rows]


def make_case(factory, *, status: str = "closed", closed: datetime = CLOSED, conversation: str = CONVERSATION,
              submitted: datetime = SUBMITTED, marker: str = MARKER, channel: str = "sms",
              booking_phone: str | None = PHONE, **columns) -> str:
    """A case with a real-looking report, and (when closed) its closing with the 28-day appeal window."""
    reference = new_reference()
    values = dict(
        reference=reference, report_id=f"report-{reference}", conversation_id=conversation, channel=channel,
        language="en", status=status, reporter_role="victim", description=f"They shouted at me and my son. {marker}",
        incident_type=["verbal_abuse", "graffiti"], motivation=["race"], incident_date=date(2019, 1, 2),
        address=ADDRESS, perpetrator_description=f"The man at number 14, {marker}", graffiti=True,
        graffiti_location=f"On the door of {ADDRESS}", vulnerable=["disability"], contact_name=NAME,
        contact_phone=PHONE_AS_TYPED, contact_email="Imogen.F@Example.org", safe_to_contact=False,
        safe_contact_other=PHONE, safe_times=["evenings"], code_word=f"bluebird {marker}", skipped=[],
        risk_level="medium", submitted_at=submitted, first_contact_due_at=submitted + timedelta(hours=24),
        first_contact_at=submitted + timedelta(hours=3), review_due_at=submitted + timedelta(days=90),
    )
    values.update(columns)
    with factory() as s:
        case = Case(**values)
        case.consents.append(Consent(scope="police", granted=True, answered=True, wording_version="consent-v1",
                                     wording_sha256="0" * 64, language="en", recorded_at=submitted))
        case.assessments.append(RiskAssessment(
            matrix_version="risk-matrix-2026-11", answers={"threats": "yes", "said": f"{NAME} {marker}"}, score=9,
            scored_level="medium", reasons=[{"reason": "threats", "points": 5}], escalators=[], assessed_at=submitted,
            assessed_by="reporter:chat", override_reason=f"Spoke to {NAME}"))
        case.referrals.append(Referral(kind="police", basis="consent", reason="consent_given", status="accepted",
                                       created_at=submitted, updated_at=submitted, due_at=submitted,
                                       outcome=f"PC Smith spoke to {NAME}"))
        case.work_orders.append(WorkOrder(kind="graffiti_removal", location=ADDRESS, created_at=submitted,
                                          due_at=submitted + timedelta(hours=24), status="done"))
        case.events.append(CaseEvent(at=submitted, actor="reporter:sms", action="created",
                                     details={"answered": ["description"], "skipped": []}))
        case.events.append(CaseEvent(at=submitted, actor="reporter:chat", action="call_requested",
                                     details={"needs": f"call {NAME} on {PHONE}"}))
        if status == "closed":
            case.events.append(CaseEvent(at=closed, actor="asha", action="closed", details={
                "reason": "resolved", "told_by": "phone", "appeal_until": (closed + timedelta(days=28)).isoformat()}))
        s.add(case)
        s.flush()
        officer = s.execute(select(Officer).where(Officer.code == "ofc-1")).scalar_one_or_none()
        if officer is None:
            officer = Officer(code="ofc-1", name="Priya Shah", sex="female", languages=["en"],
                              working_pattern={}, contact="log:priya")
            s.add(officer)
            s.flush()
        slot = submitted + timedelta(days=1, hours=next(_ids))  # one booked call per officer and slot
        s.add(Booking(reference=new_reference(), case_id=case.id, conversation_id=conversation, officer_id=officer.id,
                      starts_at=slot, ends_at=slot + timedelta(minutes=30),
                      contact_method="phone", phone=booking_phone, update_frequency="weekly", language="en",
                      secret_hash="$argon2id$v=19$secret"))
        s.add(CaseNote(case_id=case.id, author="asha", body=f"Rang {NAME} on {PHONE}: {marker}", created_at=submitted))
        s.add(Evidence(conversation_id=conversation, case_id=case.id, content_type="image/jpeg", size=24,
                       sha256="f" * 64, data=f"JPEG {marker} {NAME}".encode(), consented_at=submitted,
                       received_at=submitted))
        s.add(OutboxMessage(dedupe_key=f"survey:{reference}", topic="survey", transport="sms",
                            recipient=values["safe_contact_other"] or "+447700900999",
                            body=f"Dear {NAME}, how did we do?", case_id=case.id, status="sent",
                            created_at=closed, next_attempt_at=closed, sent_at=closed))
        s.add(OutboxMessage(dedupe_key=f"referral:{reference}", topic="police", transport="log", recipient="police",
                            body=f"Police referral: case {reference}", case_id=case.id, status="sent",
                            created_at=submitted, next_attempt_at=submitted))
        s.commit()
    return reference


def add_phone_contact(factory, conversation: str = CONVERSATION, last_inbound: datetime = SUBMITTED) -> None:
    with factory() as s:
        s.add(PhoneContact(conversation_id=conversation, channel="sms", number=PHONE, service_number="+447700900100",
                           opted_out=True, last_inbound_at=last_inbound, last_reply=f"Thank you {MARKER}",
                           updated_at=last_inbound))
        s.add(OutboxMessage(dedupe_key=f"reply:{conversation}", topic="reply", transport="sms", recipient=PHONE,
                            body=f"Your report is saved. {MARKER}", status="sent", created_at=last_inbound,
                            next_attempt_at=last_inbound, sent_at=last_inbound))
        s.commit()


def conversation(settings, sender: str = CONVERSATION, start: datetime = SUBMITTED, marker: str = MARKER) -> None:
    add_events(settings, sender, [
        ("session_started", start, ""),
        ("user", start + timedelta(seconds=5), f"My name is {NAME}, call me on {PHONE_AS_TYPED}. {marker}"),
        ("bot", start + timedelta(seconds=6), f"Thank you, I have written down: {marker}"),
    ])


def scan(url: str) -> str:
    """Every row of every table of a database, as one lower-case string."""
    found = []
    with engine_for(url).connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    value = bytes(value).decode("latin-1") if isinstance(value, (bytes, memoryview)) else str(value)
                    found.append(f"{table}: {value}")
    return "\n".join(found).lower()


def identifiers_in(blob: str) -> list[str]:
    return [i for i in IDENTIFIERS if i.lower() in blob]


def snapshot(settings) -> str:
    return scan(settings.database_url) + scan(settings.tracker_database_url)


# --- Subject access -----------------------------------------------------------------------------

def test_subject_access_finds_the_case_by_each_identifier_with_everything_held(factory, tracked):
    reference = make_case(factory)
    add_phone_contact(factory)
    conversation(tracked)
    # a second report from the same number, found only through the number's conversation
    second = make_case(factory, status="new", contact_phone=None, safe_contact_other=None, contact_email=None,
                       marker="second", booking_phone=None)
    make_case(factory, conversation="web-" + "b" * 32, channel="webchat", contact_phone="07700 900999",
              safe_contact_other=None, contact_email="someone.else@example.org", contact_name="Someone Else",
              booking_phone="+447700900999")
    with factory() as s:
        from bot.console import audit
        audit.record(s, "asha", "case_viewed", reference)
        s.commit()

    by = {
        "reference": privacy.subject_access(factory, tracked, reference=reference.lower().replace("-", " ")),
        "phone": privacy.subject_access(factory, tracked, phone=PHONE_AS_TYPED),
        "email": privacy.subject_access(factory, tracked, email=EMAIL.upper()),
    }
    assert [c["reference"] for c in by["reference"]["cases"]] == [reference]
    assert sorted(c["reference"] for c in by["phone"]["cases"]) == sorted([reference, second])
    assert [c["reference"] for c in by["email"]["cases"]] == [reference]
    for record in by.values():
        json.dumps(record)  # plain data all through
        case = next(c for c in record["cases"] if c["reference"] == reference)
        assert MARKER in case["report"]["description"] and case["report"]["contact_name"] == NAME
        assert case["report"]["submitted_at"] == SUBMITTED.isoformat()
        assert [c["wording_version"] for c in case["consents"]] == ["consent-v1"]
        assert case["risk_assessments"][0]["score"] == 9 and case["risk_assessments"][0]["level"] == "medium"
        assert case["risk_assessments"][0]["reasons"] == [{"reason": "threats", "points": 5}]
        assert [r["kind"] for r in case["referrals"]] == ["police"]
        assert [o["kind"] for o in case["work_orders"]] == ["graffiti_removal"]
        assert "closed" in [e["action"] for e in case["events"]]
        assert MARKER in case["notes"][0]["body"]
        assert case["bookings"][0]["phone"] == PHONE and "secret_hash" not in case["bookings"][0]
        assert case["evidence"] == [{"content_type": "image/jpeg", "size": 24, "sha256": "f" * 64,
                                     "consented_at": SUBMITTED.isoformat(), "received_at": SUBMITTED.isoformat()}]
        assert {m["topic"] for m in case["messages"]} == {"survey", "police"}
        assert [line["who"] for line in case["transcript"]] == ["person", "bot"]
        assert MARKER in case["transcript"][0]["text"]
        assert [(e["actor"], e["action"]) for e in case["access_log"]] == [("asha", "case_viewed")]
    phone = by["phone"]
    assert phone["searched_by"] == ["phone"]
    assert phone["phone_contacts"][0]["number"] == PHONE and phone["phone_contacts"][0]["opted_out"] is True
    assert [m["topic"] for m in phone["other_messages"]] == ["reply"]  # replies to their texts


def test_subject_access_needs_an_identifier_and_copes_without_a_tracker_store(factory, tracked, tmp_path):
    reference = make_case(factory)
    with pytest.raises(ValueError, match="reference, a phone number or an email"):
        privacy.subject_access(factory, tracked)
    with pytest.raises(ValueError, match="phone number"):
        privacy.subject_access(factory, tracked, phone="not a number")
    assert privacy.subject_access(factory, tracked, email="nobody@example.org")["cases"] == []
    bare = replace(tracked, tracker_database_url=f"sqlite:///{tmp_path / 'no-events.db'}")
    record = privacy.subject_access(factory, bare, reference=reference)
    assert record["cases"][0]["transcript"] == []
    engine_for(bare.tracker_database_url).dispose()


# --- Retention ----------------------------------------------------------------------------------

def test_anonymisation_leaves_nothing_that_identifies_the_person_and_keeps_the_counts(factory, tracked):
    reference = make_case(factory)
    add_phone_contact(factory)
    conversation(tracked)
    add_events(tracked, "web-unrelated", [("user", SUBMITTED, "someone else's words")])
    before = snapshot(tracked)
    assert identifiers_in(before) == list(IDENTIFIERS)  # the scan does see them while they are held

    assert privacy.anonymise_due(factory, tracked, now=LATER) == [reference]

    assert identifiers_in(snapshot(tracked)) == []
    assert events_of(tracked, CONVERSATION) == [] and events_of(tracked, "web-unrelated") == ["someone else's words"]
    with factory() as s:
        case = s.execute(select(Case).where(Case.reference == reference)).scalar_one()
        assert case.anonymised_at == LATER and case.area == "CF10"
        assert case.incident_type == ["verbal_abuse", "graffiti"] and case.motivation == ["race"]
        assert (case.submitted_at.year, case.submitted_at.month) == (2019, 1)
        assert (case.channel, case.language, case.risk_level, case.status) == ("sms", "en", "medium", "closed")
        assert case.first_contact_at == SUBMITTED + timedelta(hours=3)
        assert case.first_contact_due_at == SUBMITTED + timedelta(hours=24)
        assert case.description is None and case.incident_date is None and case.vulnerable is None
        assert [(c.scope, c.granted) for c in case.consents] == [("police", True)]
        assert (case.assessments[0].score, case.assessments[0].answers) == (9, {})
        assert (case.referrals[0].status, case.referrals[0].outcome) == ("accepted", None)
        assert (case.work_orders[0].kind, case.work_orders[0].status, case.work_orders[0].location) == (
            "graffiti_removal", "done", None)
        details = {e.action: e.details for e in case.events}
        assert details["call_requested"] == {"needs": privacy.REMOVED}
        assert details["closed"]["appeal_until"] == (CLOSED + timedelta(days=28)).isoformat()
        assert case.events[-1].actor == "system" and case.events[-1].action == "anonymised"
        assert s.execute(select(CaseNote)).first() is None and s.execute(select(Evidence)).first() is None
        assert s.execute(select(PhoneContact)).first() is None
        booking = s.execute(select(Booking)).scalar_one()
        assert (booking.phone, booking.secret_hash, booking.status) == (None, None, "booked")
        assert {(m.recipient, m.body) for m in s.execute(select(OutboxMessage)).scalars()} == {("anonymised", "")}
        entries = [(e.actor, e.action, e.case_reference) for e in s.execute(select(AuditEntry)).scalars()]
    assert entries == [("retention", "case_anonymised", reference)]

    # twice is harmless
    assert privacy.anonymise_due(factory, tracked, now=LATER + timedelta(days=1)) == []
    with factory() as s:
        assert len(s.execute(select(AuditEntry)).all()) == 1
        assert len(s.execute(select(CaseEvent).where(CaseEvent.action == "anonymised")).all()) == 1


def test_cases_not_due_are_untouched_and_a_dry_run_changes_nothing(factory, tracked):
    due = make_case(factory, conversation="web-" + "1" * 32, channel="webchat")
    recent = make_case(factory, conversation="web-" + "2" * 32, channel="webchat", closed=LATER - timedelta(days=30))
    still_open = make_case(factory, status="in_progress", conversation="web-" + "3" * 32, channel="webchat")
    # closed long ago but the retention period given is short: its appeal window is still open
    appeal = make_case(factory, conversation="web-" + "4" * 32, channel="webchat", closed=LATER - timedelta(days=10))
    before = snapshot(tracked)

    assert privacy.anonymise_due(factory, tracked, now=LATER, dry_run=True) == [due]
    # with a short retention period the recent one is due too, but not one whose appeal window is open
    assert privacy.anonymise_due(factory, tracked, now=LATER, days=5, dry_run=True) == [due, recent]
    assert snapshot(tracked) == before

    assert privacy.anonymise_due(factory, tracked, now=LATER) == [due]
    with factory() as s:
        kept = {c.reference: c for c in s.execute(select(Case)).scalars()}
    for reference in (recent, still_open, appeal):
        assert MARKER in kept[reference].description and kept[reference].anonymised_at is None
        assert kept[reference].contact_name == NAME
    assert kept[due].description is None


def test_a_shared_sms_conversation_keeps_what_the_live_case_needs(factory, tracked):
    old = make_case(factory, marker="OldReport")
    # the same number reported again, in a session that began before the first case closed
    later_start = CLOSED - timedelta(days=2)
    live = make_case(factory, status="new", submitted=later_start + timedelta(minutes=10), marker="NewReport")
    add_phone_contact(factory)
    add_events(tracked, CONVERSATION, [
        ("session_started", SUBMITTED, ""), ("user", SUBMITTED + timedelta(seconds=5), "OldReport words"),
        ("session_started", later_start, ""), ("user", later_start + timedelta(seconds=5), "NewReport words"),
        ("user", CLOSED + timedelta(days=1), "After the closing"),
    ])

    assert privacy.anonymise_due(factory, tracked, now=LATER) == [old]
    assert events_of(tracked, CONVERSATION) == ["session_started", "NewReport words", "After the closing"]
    with factory() as s:
        assert s.get(PhoneContact, CONVERSATION) is not None  # the live case still writes to it
        cases = {c.reference: c for c in s.execute(select(Case)).scalars()}
        assert cases[live].description.endswith("NewReport") and cases[live].anonymised_at is None
        reply = s.execute(select(OutboxMessage).where(OutboxMessage.topic == "reply")).scalar_one()
        assert reply.recipient == PHONE  # part of the live conversation

    # the live case closes in turn; once it is due, the conversation goes altogether
    with factory() as s:
        case = s.execute(select(Case).where(Case.reference == live)).scalar_one()
        case.status = "closed"
        case.events.append(CaseEvent(at=CLOSED + timedelta(days=2), actor="asha", action="closed",
                                     details={"appeal_until": (CLOSED + timedelta(days=30)).isoformat()}))
        s.commit()
    assert privacy.anonymise_due(factory, tracked, now=LATER + timedelta(days=5)) == [live]
    assert events_of(tracked, CONVERSATION) == []
    assert identifiers_in(snapshot(tracked)) == []


def test_purge_deletes_handled_texts_and_unclaimed_files_after_30_days(factory):
    now = datetime(2026, 1, 31, tzinfo=timezone.utc)
    old, recent = now - timedelta(days=40), now - timedelta(days=3)
    with factory() as s:
        for sid, status, at in (("SM1", "done", old), ("SM2", "done", recent), ("SM3", "received", old)):
            s.add(InboundMessage(message_sid=sid, channel="sms", conversation_id=CONVERSATION, status=status,
                                 received_at=at, handled_at=at if status == "done" else None))
        s.add(Evidence(conversation_id=CONVERSATION, content_type="image/png", size=1, sha256="0" * 64, data=b"x",
                       consented_at=old, received_at=old))
        s.commit()
    assert privacy.purge(factory, now=now, dry_run=True) == {"inbound_messages": 1, "evidence": 1}
    assert privacy.purge(factory, now=now) == {"inbound_messages": 1, "evidence": 1}
    with factory() as s:
        assert sorted(s.execute(select(InboundMessage.message_sid)).scalars()) == ["SM2", "SM3"]
        assert s.execute(select(Evidence)).first() is None
    assert privacy.purge(factory, now=now) == {"inbound_messages": 0, "evidence": 0}


def test_the_command_line_counts_and_anonymises(factory, tracked, monkeypatch, capsys):
    from bot.__main__ import main

    reference = make_case(factory, closed=datetime.now(timezone.utc) - timedelta(days=3000))
    monkeypatch.setenv("DATABASE_URL", tracked.database_url)
    monkeypatch.setenv("TRACKER_DATABASE_URL", tracked.tracker_database_url)
    assert main(["retention", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1 closed case(s) would be anonymised" in out and reference not in out
    assert identifiers_in(out.lower()) == []
    with factory() as s:
        assert s.execute(select(Case.anonymised_at)).scalar() is None
    assert main(["retention", "--days", "100000"]) == 0
    assert "0 closed case(s) were anonymised" in capsys.readouterr().out
    assert main(["retention"]) == 0
    assert "1 closed case(s) were anonymised" in capsys.readouterr().out
    with factory() as s:
        assert s.execute(select(Case.anonymised_at)).scalar() is not None


def test_the_worker_runs_retention_in_its_own_thread_and_survives_errors(factory, tracked, caplog):
    import threading

    reference = make_case(factory, closed=datetime.now(timezone.utc) - timedelta(days=3000))
    stop = threading.Event()
    privacy_thread = threading.Thread(target=privacy.run_daily, args=(factory, tracked, stop, 0.05))
    privacy_thread.start()
    try:
        for _ in range(200):
            with factory() as s:
                if s.execute(select(Case.anonymised_at).where(Case.reference == reference)).scalar():
                    break
            stop.wait(0.05)
    finally:
        stop.set()
        privacy_thread.join(5)
    with factory() as s:
        assert s.execute(select(Case.anonymised_at)).scalar() is not None

    broken = replace(tracked, tracker_database_url="postgresql+psycopg2://nobody@127.0.0.1:1/none")
    make_case(factory, closed=datetime.now(timezone.utc) - timedelta(days=3000), conversation="web-" + "9" * 32)
    stop = threading.Event()
    stop.set()  # one round only: the first runs at once
    privacy.run_daily(factory, broken, stop)  # the tracker store is down: logged, not raised
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "OperationalError" in messages and NAME not in messages and PHONE not in messages


# --- The console pages --------------------------------------------------------------------------

def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def _sign_in(client, username: str) -> str:
    r = await client.get("/console/login")
    r = await client.post("/console/login", data={"csrf": _csrf(await r.text()), "username": username,
                                                 "password": PASSWORD})
    assert r.status == 200
    return _csrf(await r.text())


def test_subject_access_pages_are_for_administrators_and_audited_without_the_identifier(factory, tracked):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.web.app import make_app

    reference = make_case(factory, description=f"<script>alert(1)</script> {MARKER}")
    conversation(tracked)
    auth.add_staff(factory, username="asha", name="Asha Patel", role="officer", password=PASSWORD)
    auth.add_staff(factory, username="dana", name="Dana Admin", role="admin", password=PASSWORD)

    async def run():
        async with TestClient(TestServer(make_app(tracked))) as client:
            csrf = await _sign_in(client, "asha")
            assert (await client.get("/console/subject-access")).status == 403
            r = await client.post("/console/subject-access", data={"csrf": csrf, "phone": PHONE})
            assert r.status == 403
            await client.post("/console/logout", data={"csrf": csrf})

            await _sign_in(client, "dana")
            r = await client.get("/console/subject-access")
            html = await r.text()
            assert r.status == 200 and "default-src 'none'" in r.headers["Content-Security-Policy"]
            assert '<label for="sar-phone">' in html and 'method="post"' in html and "<script" not in html
            csrf = _csrf(html)
            assert (await client.post("/console/subject-access", data={"phone": PHONE})).status == 403  # no CSRF
            r = await client.post("/console/subject-access", data={"csrf": csrf, "phone": PHONE_AS_TYPED})
            html = await r.text()
            assert r.status == 200 and f"Case {reference}" in html and MARKER in html
            assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
            assert "Thank you, I have written down" in html  # the conversation
            r = await client.post("/console/subject-access", data={"csrf": csrf, "email": "nobody@example.org"})
            assert 'data-testid="nothing-found"' in await r.text()
            r = await client.post("/console/subject-access", data={"csrf": csrf})
            assert r.status == 400 and "phone number or an email" in await r.text()
            r = await client.post("/console/subject-access/export", data={"csrf": csrf, "phone": PHONE})
            assert r.status == 200 and r.content_type == "application/json"
            assert re.fullmatch(r'attachment; filename="subject-access-\d{4}-\d{2}-\d{2}\.json"',
                                r.headers["Content-Disposition"])
            body = await r.read()
            assert b"\n  " in body  # pretty-printed
            return json.loads(body)

    exported = asyncio.run(run())
    assert [c["reference"] for c in exported["cases"]] == [reference]
    assert MARKER in exported["cases"][0]["transcript"][0]["text"]
    with factory() as s:
        entries = list(s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())
    searches = [(e.actor, e.action, e.details) for e in entries if e.action.startswith("subject_access")]
    assert searches == [
        ("dana", "subject_access_viewed", {"by": "phone", "cases": [reference]}),
        ("dana", "subject_access_viewed", {"by": "email", "cases": []}),
        ("dana", "subject_access_exported", {"by": "phone", "cases": [reference]}),
    ]
    assert [(e.actor, e.action) for e in entries if e.action == "access_refused"] == [("asha", "access_refused")] * 2
    logged = json.dumps([(e.actor, e.action, e.case_reference, e.details) for e in entries]).lower()
    assert identifiers_in(logged) == [] and "nobody@example.org" not in logged

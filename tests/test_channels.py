"""The channels' own rules, without the servers: signed web sessions, phone conversation ids,
numbered options, SMS segments, the words Twilio answers to, and what each text means
(on SQLite and PostgreSQL)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.channels import phone, sms
from bot.channels.tokens import issue_web_session, phone_sender_id, secret_key, verify_web_session
from bot.models import InboundMessage, OutboxMessage, PhoneContact

SECRET = b"a-test-secret"


# --- Web sessions -----------------------------------------------------------------------------

def test_a_web_session_token_resumes_only_its_own_conversation():
    sender, token = issue_web_session(SECRET, now=1_000_000)
    assert sender.startswith("web-") and len(sender) == 36
    assert verify_web_session(SECRET, token, 3600, now=1_000_100) == sender
    other, other_token = issue_web_session(SECRET, now=1_000_000)
    assert other != sender and verify_web_session(SECRET, other_token, 3600, now=1_000_100) == other


@pytest.mark.parametrize("tamper", [
    lambda t: None, lambda t: "", lambda t: 12345, lambda t: "web-" + "0" * 32,
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
    lambda t: t.replace(t.split(".")[1], "web-" + "f" * 32),  # someone else's id, this signature
    lambda t: t.replace(t.split(".")[2], str(int(t.split(".")[2]) + 10)),  # issued time moved
    lambda t: t + ".extra", lambda t: "v2" + t[2:], lambda t: "x" * 500,
])
def test_a_forged_or_altered_token_is_refused(tamper):
    _, token = issue_web_session(SECRET, now=1_000_000)
    assert verify_web_session(SECRET, tamper(token), 3600, now=1_000_100) is None


def test_a_token_expires_and_another_secret_refuses_it():
    _, token = issue_web_session(SECRET, now=1_000_000)
    assert verify_web_session(SECRET, token, 3600, now=1_000_000 + 3601) is None
    assert verify_web_session(b"another-secret", token, 3600, now=1_000_100) is None


def test_the_development_secret_is_made_once_and_kept(tmp_path):
    from dataclasses import replace

    from bot import settings as settings_module

    settings = replace(settings_module.load(), session_secret="")
    first = secret_key(settings, tmp_path / "session.secret")
    assert len(first) >= 48 and secret_key(settings, tmp_path / "session.secret") == first
    assert (tmp_path / "session.secret").stat().st_mode & 0o077 == 0  # its owner's only
    assert secret_key(replace(settings, session_secret="configured"), tmp_path / "x") == b"configured"


def test_a_phone_conversation_is_named_by_a_keyed_hash_of_the_number():
    a = phone_sender_id(SECRET, "sms", "+447700900123")
    assert a.startswith("sms-") and "447700900123" not in a
    assert a == phone_sender_id(SECRET, "sms", "+447700900123")
    assert a != phone_sender_id(SECRET, "whatsapp", "+447700900123")
    assert a != phone_sender_id(b"other", "sms", "+447700900123")


# --- Numbered options and keywords ---------------------------------------------------------------

OPTIONS = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"},
           {"title": "I'd rather not say", "payload": "/skip"}]


def test_buttons_become_numbered_options_and_a_number_maps_back():
    text = sms.with_options("Are you safe?", OPTIONS, "en")
    assert text == "Are you safe?\n\n1. Yes\n2. No\n3. I'd rather not say\nReply with a number from 1 to 3."
    for reply in ("2", " 2 ", "2.", "#2", "2)", "٢", "২", "੨"):
        assert sms.chosen_option(reply, OPTIONS) == OPTIONS[1], reply
    assert sms.chosen_option("i'd rather not say", OPTIONS) == OPTIONS[2]
    for reply in ("0", "4", "12", "2 people shouted at me", "", "yes please"):
        assert sms.chosen_option(reply, OPTIONS) is None, reply
    assert sms.chosen_option("1", None) is None


def test_the_reply_instruction_is_in_the_conversations_language():
    text = sms.with_options("?", OPTIONS, "pl")
    assert "1 to 3" not in text.splitlines()[-1] and "3" in text.splitlines()[-1]


@pytest.mark.parametrize("body,word", [("STOP", "stop"), (" stop. ", "stop"), ("Stop!", "stop"),
                                       ("UNSUBSCRIBE", "unsubscribe"), ("help?", "help"), ("Exit", "exit"),
                                       ("stop it please", "stop it please")])
def test_keywords_are_whole_messages(body, word):
    assert sms.keyword(body) == word


# --- Segments ------------------------------------------------------------------------------------

def _fits(part: str) -> bool:
    cost = sms.gsm_cost(part)
    return cost <= 160 if cost is not None else len(part.encode("utf-16-le")) // 2 <= 70


def test_a_short_reply_is_one_message_and_typography_does_not_force_ucs2():
    assert sms.split_segments("Thanks – you’re safe… “OK”") == ['Thanks - you\'re safe... "OK"']
    assert sms.encoding(sms.for_sms("It’s fine")) == "gsm7"
    assert sms.encoding("Dziękuję") == "ucs2"
    assert sms.gsm_cost("€[]") == 6  # the extension set costs two septets each


def test_long_replies_split_between_sentences_into_as_few_segments_as_fit():
    sentences = [f"This is sentence number {n} of a long reply about what happens next." for n in range(12)]
    text = " ".join(sentences)
    parts = sms.split_segments(text)
    assert all(_fits(p) for p in parts)
    assert all(p.endswith(".") for p in parts)  # never cut inside a sentence when sentences fit
    assert " ".join(parts) == text
    total = sum(len(s) + 1 for s in sentences)
    assert len(parts) <= -(-total // 140) + 1  # about as few as the length allows


def test_ucs2_text_splits_at_70_and_emoji_count_double():
    text = "Dziękujemy za zgłoszenie. Oficer skontaktuje się z Tobą w ciągu 24 godzin. " * 3 + "🙂"
    parts = sms.split_segments(text)
    assert all(_fits(p) for p in parts) and len(parts) >= 4
    assert "".join(parts).replace(" ", "") == text.strip().replace(" ", "")


def test_one_long_word_is_cut_and_lines_are_kept():
    parts = sms.split_segments("x" * 400)
    assert [len(p) for p in parts] == [160, 160, 80]
    assert sms.split_segments("Choose:\n1. Yes\n2. No") == ["Choose:\n1. Yes\n2. No"]
    assert sms.split_segments("   ") == []


def test_a_numbered_option_is_never_cut_from_its_number():
    text = sms.with_options("A question long enough to need a second message, because it says a lot. " * 2,
                            OPTIONS, "en")
    parts = sms.split_segments(text)
    assert len(parts) > 1
    assert any("2. No" in p for p in parts) and not any(p.rstrip().endswith("2.") for p in parts)


def test_whatsapp_messages_are_split_only_past_its_limit():
    text = "Dziękujemy. " * 100
    assert sms.split_segments(text, limit=1600) == [text.strip()]


# --- What a text means (database) ----------------------------------------------------------------

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def _inbound(body="hello", number="+447700900555", channel="sms", media=(), sid=None):
    prefix = "whatsapp:" if channel == "whatsapp" else ""
    form = {"MessageSid": sid or "SM" + uuid.uuid4().hex, "From": prefix + number, "To": prefix + "+447700900100",
            "Body": body, "NumMedia": str(len(media))}
    for n, (url, kind) in enumerate(media):
        form[f"MediaUrl{n}"], form[f"MediaContentType{n}"] = url, kind
    return phone.parse(form)


def _store(factory, inbound, cid="sms-test"):
    assert phone.record(factory, inbound, cid, now=NOW)
    return phone.next_waiting(factory, cid)


def test_parse_reads_twilios_fields_and_refuses_what_is_not_a_message():
    got = _inbound("hi", channel="whatsapp", media=[("https://api.twilio.com/m/1", "image/jpeg")])
    assert (got.channel, got.number, got.service_number, got.body) == ("whatsapp", "+447700900555", "+447700900100", "hi")
    assert got.media == ({"url": "https://api.twilio.com/m/1", "content_type": "image/jpeg"},)
    assert phone.parse({"From": "+44", "To": "+44"}) is None
    assert phone.parse({"MessageSid": "SM1", "From": "+44", "To": "+44", "NumMedia": "lots"}).media == ()


def test_a_message_sid_is_stored_once(factory):
    inbound = _inbound()
    assert phone.record(factory, inbound, "sms-a", now=NOW)
    assert not phone.record(factory, inbound, "sms-a", now=NOW)
    with factory() as s:
        assert len(list(s.execute(select(InboundMessage)).scalars())) == 1
        assert s.get(PhoneContact, "sms-a").last_inbound_at == NOW


def test_texts_are_handled_in_the_order_they_came(factory, settings):
    first = _store(factory, _inbound("one"))
    phone.record(factory, _inbound("two"), "sms-test", now=NOW)
    assert phone.next_waiting(factory, "sms-test") == first
    phone.finish(factory, settings, first, phone.plan(factory, first), [phone.BotMessage("ok")], "en", now=NOW)
    assert phone.next_waiting(factory, "sms-test") != first
    assert phone.waiting(factory) == ["sms-test"]


def test_a_reply_goes_through_the_outbox_from_the_number_written_to(factory, settings):
    inbound_id = _store(factory, _inbound("hi"))
    p = phone.plan(factory, inbound_id)
    assert (p.kind, p.text) == ("message", "hi")
    phone.finish(factory, settings, inbound_id, p, [phone.BotMessage("Hello.", tuple(OPTIONS))], "en", now=NOW)
    with factory() as s:
        sent = list(s.execute(select(OutboxMessage)).scalars())
        contact = s.get(PhoneContact, "sms-test")
        row = s.get(InboundMessage, inbound_id)
    assert [(m.transport, m.recipient, m.sender, m.topic) for m in sent] == [("sms", "+447700900555", "+447700900100", "reply")]
    assert sent[0].body.startswith("Hello.\n\n1. Yes")
    assert contact.options == OPTIONS and row.status == "done" and row.body is None
    # Handling it again (a crash before the commit, then the sweep) sends nothing twice.
    phone.finish(factory, settings, inbound_id, p, [phone.BotMessage("Hello.")], "en", now=NOW)
    with factory() as s:
        assert len(list(s.execute(select(OutboxMessage)).scalars())) == 1
    # The next text "2" is the second option's payload.
    assert phone.plan(factory, _store(factory, _inbound("2"))).text == "/deny"


def test_rtl_replies_are_marked_and_opted_out_numbers_get_nothing(factory, settings):
    inbound_id = _store(factory, _inbound("مرحبا"))
    phone.finish(factory, settings, inbound_id, phone.plan(factory, inbound_id), [phone.BotMessage("مرحبا\nكيف")], "ar")
    with factory() as s:
        body = s.execute(select(OutboxMessage.body)).scalar()
    assert all(line.startswith("\u200f") for line in body.split("\n") if line)
    stop = _store(factory, _inbound("STOP"))
    p = phone.plan(factory, stop)
    assert p.kind == "opt_out"
    phone.finish(factory, settings, stop, p, [], "en")
    later = _store(factory, _inbound("are you there"))
    phone.finish(factory, settings, later, phone.plan(factory, later), [phone.BotMessage("Yes")], "en")
    with factory() as s:
        assert len(list(s.execute(select(OutboxMessage)).scalars())) == 1
    assert phone.plan(factory, _store(factory, _inbound("yes"))).kind == "opt_in"


def test_yes_and_start_are_answers_unless_the_number_opted_out(factory):
    assert phone.plan(factory, _store(factory, _inbound("yes"))).kind == "message"
    assert phone.plan(factory, _store(factory, _inbound("start"), cid="sms-other")).text == "start"


def test_a_photo_waits_for_a_yes_and_a_non_answer_keeps_nothing(factory, settings):
    media = [("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "image/jpeg")]
    first = _store(factory, _inbound("hello"))
    phone.finish(factory, settings, first, phone.plan(factory, first), [phone.BotMessage("Who?", tuple(OPTIONS))], "en")
    with_photo = _store(factory, _inbound("", media=media))
    p = phone.plan(factory, with_photo)
    assert p.text is None and p.ask_media == [{"url": media[0][0], "content_type": "image/jpeg"}]
    phone.finish(factory, settings, with_photo, p, [], "en")
    answer = phone.plan(factory, _store(factory, _inbound("1")))
    assert answer.kind == "keep_media" and answer.media == p.ask_media


def test_writing_on_instead_of_answering_about_a_photo_keeps_nothing(factory, settings):
    media = [("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "image/jpeg")]
    first = _store(factory, _inbound("hello"))
    phone.finish(factory, settings, first, phone.plan(factory, first), [phone.BotMessage("Who?", tuple(OPTIONS))], "en")
    with_photo = _store(factory, _inbound("", media=media))
    phone.finish(factory, settings, with_photo, phone.plan(factory, with_photo), [], "en")
    # "3" is not an option of the photo's question (two): it answers the question asked before it.
    p = phone.plan(factory, _store(factory, _inbound("3")))
    assert (p.kind, p.text, p.notes) == ("message", "/skip", [sms.MEDIA_NOT_KEPT])


def test_only_twilio_media_addresses_are_fetched(settings):
    assert phone.media_url_allowed("https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME", settings)
    assert phone.media_url_allowed("https://media.twiliocdn.com.evil.example/x", settings) is False
    for url in ("http://api.twilio.com/x", "https://evil.example/x", "https://api.twilio.com.evil.example/x",
                "file:///etc/passwd", "http://127.0.0.1:5432/", "https://api.twilio.com:8443/x"):
        assert not phone.media_url_allowed(url, settings), url


def test_whatsapp_messages_held_outside_the_window_go_when_the_person_writes(factory):
    with factory() as s:
        s.add(OutboxMessage(dedupe_key="held-1", topic="reply", transport="whatsapp", recipient="+447700900555",
                            body="x", status="held", attempts=1, next_attempt_at=NOW - timedelta(days=2)))
        s.commit()
    phone.record(factory, _inbound("hi", channel="whatsapp"), "whatsapp-test", now=NOW)
    with factory() as s:
        assert s.execute(select(OutboxMessage.status)).scalar() == "pending"


def test_only_the_last_set_of_buttons_is_numbered_and_the_others_are_named(factory, settings):
    inbound_id = _store(factory, _inbound("hello"))
    languages = tuple({"title": t, "payload": f"/choose_language{{\"language\":\"{c}\"}}"}
                      for t, c in (("English", "en"), ("Polski", "pl")))
    phone.finish(factory, settings, inbound_id, phone.plan(factory, inbound_id),
                 [phone.BotMessage("Choose a language:", languages), phone.BotMessage("Who?", tuple(OPTIONS))], "en")
    with factory() as s:
        body = s.execute(select(OutboxMessage.body)).scalar()
    assert body.startswith("Choose a language:\nEnglish / Polski\n\nWho?\n\n1. Yes")

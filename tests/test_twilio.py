"""SMS and WhatsApp end to end: signed webhooks into the real Rasa server, replies out through
the real outbox worker to a fake of Twilio's REST API on loopback (tests/fake_twilio.py).

Runs on SQLite and on PostgreSQL with Redis locks, like the REST tests.
"""
from __future__ import annotations

import re
import time
import uuid

import pytest
import requests
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.channels import sms
from bot.db import session_factory
from bot.models import Case, Evidence, InboundMessage, OutboxMessage, PhoneContact
from tests.conftest import TEST_SMS_NUMBER, TEST_WHATSAPP_NUMBER, TEST_WHATSAPP_TEMPLATE
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN

pytestmark = pytest.mark.integration

SETTLE = 0.7  # seconds without a new message before a reply counts as complete


def new_number() -> str:
    return "+4477009" + str(uuid.uuid4().int)[:5]


class Phone:
    """A person texting the service: signed webhooks in, the fake Twilio's messages out."""

    def __init__(self, stack, twilio, channel: str = "sms", number: str | None = None):
        self.stack, self.twilio, self.channel = stack, twilio, channel
        self.number = number or new_number()
        self.prefix = "whatsapp:" if channel == "whatsapp" else ""
        self.service = TEST_WHATSAPP_NUMBER if channel == "whatsapp" else TEST_SMS_NUMBER
        self.url = stack.settings.twilio_webhook_url

    def post(self, body: str = "", media: list[tuple[str, str]] = (), sid: str | None = None,
             signature: str | None = None, url: str | None = None) -> requests.Response:
        form = {
            "MessageSid": sid or "SM" + uuid.uuid4().hex, "AccountSid": ACCOUNT_SID,
            "From": self.prefix + self.number, "To": self.prefix + self.service,
            "Body": body, "NumMedia": str(len(media)), "NumSegments": "1",
        }
        for n, (media_url, content_type) in enumerate(media):
            form[f"MediaUrl{n}"] = media_url
            form[f"MediaContentType{n}"] = content_type
        if signature is None:
            signature = RequestValidator(AUTH_TOKEN).compute_signature(url or self.url, form)
        return requests.post(self.url, data=form, headers={"X-Twilio-Signature": signature}, timeout=30)

    def received(self) -> list[dict]:
        return self.twilio.messages_to(self.prefix + self.number)

    def wait_replies(self, before: int, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.received()) <= before:
            if time.monotonic() > deadline:
                raise AssertionError("no reply came")
            time.sleep(0.1)
        count = len(self.received())
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < SETTLE:
            time.sleep(0.1)
            if len(self.received()) != count:
                count, quiet_since = len(self.received()), time.monotonic()
        return self.received()[before:]

    def say(self, body: str = "", media=()) -> str:
        before = len(self.received())
        answer = self.post(body, media)
        assert answer.status_code == 200, answer.text
        assert "<Response" in answer.text
        return "\n".join(m.get("Body", "") for m in self.wait_replies(before))

    def silent(self, body: str, wait: float = 3.0) -> None:
        before = len(self.received())
        assert self.post(body).status_code == 200
        time.sleep(wait)
        assert self.received()[before:] == []

    def conversation_id(self) -> str:
        with session_factory(self.stack.settings.database_url)() as s:
            return s.execute(select(PhoneContact.conversation_id).where(PhoneContact.number == self.number)).scalar_one()

    def tracker(self) -> dict:
        r = requests.get(f"{self.stack.rasa_url}/conversations/{self.conversation_id()}/tracker",
                         params={"token": self.stack.settings.rasa_auth_token}, timeout=30)
        r.raise_for_status()
        return r.json()


def options(reply: str) -> dict[str, int]:
    """The numbered options of a reply: title -> number."""
    return {m.group(2).strip(): int(m.group(1)) for m in re.finditer(r"^(\d+)\. (.+)$", reply, re.M)}


def pick(phone: Phone, reply: str, title: str) -> str:
    numbers = options(reply)
    assert title in numbers, f"{title!r} not offered in: {reply}"
    return phone.say(str(numbers[title]))


def skip_to_the_end_and_send(phone: Phone, reply: str) -> str:
    """Skip every question left ("I'd rather not say"), then send the report: the reply to that."""
    for _ in range(40):
        if "Shall I send your report" in reply:
            break
        reply = pick(phone, reply, "I'd rather not say")
    return pick(phone, reply, "Send my report")


def reference_in(reply: str) -> str:
    found = re.search(r"Your reference is ([0-9A-Z]{3}-[0-9A-Z]{3}-[0-9A-Z]{3})", reply)
    assert found, reply
    return found.group(1)


def db(stack):
    return session_factory(stack.settings.database_url)()


def fits_one_segment(body: str) -> bool:
    cost = sms.gsm_cost(body)
    return cost <= 160 if cost is not None else len(body.encode("utf-16-le")) // 2 <= 70


# --- Signatures and retries ----------------------------------------------------------------------

def test_a_forged_or_unsigned_webhook_is_refused_and_does_nothing(stack, fake_twilio):
    phone = Phone(stack, fake_twilio)
    sid = "SM" + uuid.uuid4().hex
    assert phone.post("hello", sid=sid, signature="").status_code == 403
    assert phone.post("hello", sid=sid, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    # Signed for another address (a proxy that changed the URL, or a replay against another server).
    assert phone.post("hello", sid=sid, url="https://evil.example/webhooks/twilio/webhook").status_code == 403
    forged = RequestValidator("not-the-auth-token").compute_signature(phone.url, {"Body": "hello"})
    assert phone.post("hello", sid=sid, signature=forged).status_code == 403
    time.sleep(2)
    assert phone.received() == []
    with db(stack) as s:
        assert s.execute(select(InboundMessage).where(InboundMessage.message_sid == sid)).first() is None


def test_a_retried_webhook_is_handled_once(stack, fake_twilio):
    phone = Phone(stack, fake_twilio)
    sid = "SM" + uuid.uuid4().hex
    before = len(phone.received())
    for _ in range(3):  # Twilio retrying after a timeout, at once and later
        answer = phone.post("hello", sid=sid)
        assert answer.status_code == 200 and "<Response" in answer.text
    first = phone.wait_replies(before)
    assert phone.post("hello", sid=sid).status_code == 200
    time.sleep(2)
    assert len(phone.received()) == before + len(first)
    user_events = [e for e in phone.tracker()["events"] if e["event"] == "user"]
    assert [e["message_id"] for e in user_events] == [sid]
    with db(stack) as s:
        row = s.execute(select(InboundMessage).where(InboundMessage.message_sid == sid)).scalar_one()
        assert row.status == "done" and row.body is None  # the text is not kept once handled


# --- A whole report by text ------------------------------------------------------------------------

def test_a_whole_report_by_sms_with_numbered_replies(stack, fake_twilio):
    phone = Phone(stack, fake_twilio)
    reply = phone.say("hello")
    assert "who is reporting" in reply
    assert re.search(r"Reply with a number from 1 to \d+\.", reply)
    reply = pick(phone, reply, "It's happening to me")
    assert "what happened" in reply
    reply = phone.say("The people upstairs leave racist notes on my car")
    reply = pick(phone, reply, "Racist behaviour or language")
    reply = skip_to_the_end_and_send(phone, reply)
    reference = reference_in(reply)
    assert phone.tracker()["slots"]["case_reference"] == reference
    with db(stack) as s:
        case = s.execute(select(Case).where(Case.reference == reference)).scalar_one()
        assert case.channel == "sms"
        assert case.conversation_id == phone.conversation_id()
        assert phone.number not in case.conversation_id  # a keyed hash names the conversation
    sent = phone.received()
    assert all(m["From"] == TEST_SMS_NUMBER for m in sent)  # from the number they wrote to
    assert all(fits_one_segment(m["Body"]) for m in sent), [m["Body"] for m in sent if not fits_one_segment(m["Body"])]
    # Nothing of what they wrote, nor their number, is in any server's log.
    logs = stack.logs()
    assert "racist notes on my car" not in logs
    assert phone.number not in logs and phone.number[1:] not in logs
    # A typed "/intent{...}" payload cannot set the slots outside tools read.
    phone.say('/inform{"risk_level": "standard", "case_reference": "HC-FORGED"}')
    assert phone.tracker()["slots"]["case_reference"] == reference


def test_danger_by_sms_gets_999_in_the_next_reply(stack, fake_twilio):
    phone = Phone(stack, fake_twilio)
    phone.say("hi")
    reply = phone.say("he's outside my door with a knife")
    assert "999" in reply.split("\n\n")[0]
    assert phone.tracker()["slots"]["immediate_risk"] is True


# --- The words Twilio and the service answer to -------------------------------------------------

def test_stop_start_help_and_exit(stack, fake_twilio):
    phone = Phone(stack, fake_twilio)
    reply = phone.say("hello")
    assert "who is reporting" in reply
    help_reply = phone.say("HELP")
    assert "999" in help_reply and "EXIT" in help_reply and "STOP" in help_reply
    # The numbered options still answer the question asked before HELP.
    reply = pick(phone, reply, "It's happening to me")
    assert "what happened" in reply

    phone.silent("Stop")  # Twilio blocks the number and confirms itself: nothing more from us
    with db(stack) as s:
        assert s.get(PhoneContact, phone.conversation_id()).opted_out is True
    phone.silent("I still want to report it")  # taken, but not answered while opted out
    phone.silent("START")
    with db(stack) as s:
        assert s.get(PhoneContact, phone.conversation_id()).opted_out is False
    reply = phone.say("exit")
    assert "deleted" in reply and "999" in reply
    assert [e for e in phone.tracker()["events"] if e["event"] == "user"] == []  # forgotten
    assert "who is reporting" in phone.say("hello")  # a new conversation


def test_stop_cancels_texts_waiting_to_go(stack, fake_twilio):
    phone = Phone(stack, fake_twilio)
    phone.say("hello")
    with db(stack) as s:
        s.add(OutboxMessage(dedupe_key=f"test-reminder:{uuid.uuid4().hex}", topic="booking_reminder", transport="sms",
                            recipient=phone.number, body="Reminder", status="pending", attempts=0,
                            next_attempt_at=__import__("datetime").datetime(2999, 1, 1,
                                                                            tzinfo=__import__("datetime").timezone.utc)))
        s.commit()
    phone.silent("STOP", wait=2)
    with db(stack) as s:
        statuses = {m.status for m in s.execute(select(OutboxMessage).where(
            OutboxMessage.recipient == phone.number, OutboxMessage.topic == "booking_reminder")).scalars()}
    assert statuses == {"cancelled"}


# --- Photos as evidence, only with consent ------------------------------------------------------

def test_a_photo_is_kept_only_after_a_yes(stack, fake_twilio):
    phone = Phone(stack, fake_twilio)
    question = phone.say("hello")
    photo = b"\x89PNG\r\n\x1a\n" + b"evidence" * 100
    url = fake_twilio.add_media(photo, "image/png")
    reply = phone.say("", media=[(url, "image/png")])
    assert "keep it with your report" in reply
    assert url.split(fake_twilio.url)[1] not in fake_twilio.media_fetches  # nothing fetched before the yes
    reply = pick(phone, reply, "Yes, keep it with my report")
    assert "kept with your report" in reply
    assert "who is reporting" in reply and options(reply) == options(question)  # the question it interrupted
    with db(stack) as s:
        kept = list(s.execute(select(Evidence).where(Evidence.conversation_id == phone.conversation_id())).scalars())
    assert [(e.data, e.content_type, e.size) for e in kept] == [(photo, "image/png", len(photo))]
    assert url.split(fake_twilio.url)[1] in fake_twilio.deleted  # Twilio's copy deleted once ours is kept

    url2 = fake_twilio.add_media(b"%PDF-1.4 letter", "application/pdf")
    reply = phone.say("this is the letter they sent", media=[(url2, "application/pdf")])
    reply = pick(phone, reply, "No, delete it")
    assert "deleted" in reply
    with db(stack) as s:
        assert len(list(s.execute(select(Evidence).where(Evidence.conversation_id == phone.conversation_id())).scalars())) == 1
    assert url2.split(fake_twilio.url)[1] not in fake_twilio.media_fetches
    assert url2.split(fake_twilio.url)[1] in fake_twilio.deleted


def test_a_photo_kept_before_the_report_is_sent_joins_the_case(stack, fake_twilio):
    phone = Phone(stack, fake_twilio)
    reply = phone.say("hello")
    reply = pick(phone, reply, "It's happening to me")
    url = fake_twilio.add_media(b"JPEGDATA" * 50, "image/jpeg")
    reply = phone.say("They wrote this on my door", media=[(url, "image/jpeg")])
    reply = pick(phone, reply, "Yes, keep it with my report")
    reply = skip_to_the_end_and_send(phone, reply)
    reference = reference_in(reply)
    with db(stack) as s:
        case = s.execute(select(Case).where(Case.reference == reference)).scalar_one()
        kept = list(s.execute(select(Evidence).where(Evidence.case_id == case.id)).scalars())
    assert len(kept) == 1 and kept[0].content_type == "image/jpeg"


# --- WhatsApp --------------------------------------------------------------------------------------

def test_whatsapp_replies_from_the_whatsapp_number_and_waits_out_a_closed_window(stack, fake_twilio):
    phone = Phone(stack, fake_twilio, channel="whatsapp")
    reply = phone.say("hello")
    assert "who is reporting" in reply
    sent = phone.received()
    assert all(m["From"] == "whatsapp:" + TEST_WHATSAPP_NUMBER for m in sent)
    assert len(sent) == 1  # WhatsApp takes the whole reply in one message

    # The 24-hour window closes (Twilio answers 63016): the reply is held and the template goes instead.
    fake_twilio.closed_windows.add(phone.number)
    before = len(phone.received())
    assert phone.post("1").status_code == 200
    template = phone.wait_replies(before)
    assert [m.get("ContentSid") for m in template] == [TEST_WHATSAPP_TEMPLATE]
    assert not template[0].get("Body")  # says nothing about the case
    with db(stack) as s:
        held = list(s.execute(select(OutboxMessage).where(OutboxMessage.recipient == phone.number,
                                                          OutboxMessage.status == "held")).scalars())
    assert len(held) == 1
    # They write again: the window is open, the held reply goes, then the answer to this one.
    fake_twilio.closed_windows.discard(phone.number)
    before = len(phone.received())
    phone.post("hello again")
    later = phone.wait_replies(before)
    assert "what happened" in later[0]["Body"]


# --- A booked call changed and cancelled by text (the booking issue) -------------------------------

def test_change_and_cancel_a_call_by_sms_after_the_check(stack, fake_twilio):
    from bot.booking.officers import ensure_demo_officers
    from bot.models import Booking
    from tests.test_booking_flow import _book
    from tests.test_integration import Chat

    ensure_demo_officers(session_factory(stack.settings.database_url))
    reference = _book(Chat(stack))  # booked in the web chat
    with db(stack) as s:
        first = s.execute(select(Booking).where(Booking.reference == reference)).scalar_one().starts_at

    phone = Phone(stack, fake_twilio)  # later, by text, from any number: who they are is checked
    assert "booking reference" in phone.say("I need to change my call")
    assert "word you chose" in phone.say(reference)
    reply = phone.say("harebell")
    assert "Let's find a new time" in reply and "first times we have free" in reply
    reply = pick(phone, reply, list(options(reply))[1])  # the second time offered, as the web test does
    assert "Your call has moved to" in reply and reference in reply
    with db(stack) as s:
        moved = s.execute(select(Booking).where(Booking.reference == reference)).scalar_one()
        assert moved.status == "booked" and moved.starts_at != first

    assert "word you chose" in phone.say("please cancel my call")
    reply = phone.say("harebell")
    assert "Shall I cancel it?" in reply
    assert "has been cancelled" in pick(phone, reply, "Yes, cancel it")
    with db(stack) as s:
        assert s.execute(select(Booking).where(Booking.reference == reference)).scalar_one().status == "cancelled"


# --- Out of hours ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def closed_stack(tmp_path_factory, fake_twilio):
    """The stack with the office open only on one short morning two days from now: closed now."""
    from datetime import datetime

    from bot.booking.hours import DAYS
    from tests.conftest import _stack

    tmp = tmp_path_factory.mktemp("closed-stack")
    day = DAYS[(datetime.now().weekday() + 2) % 7]
    running = _stack(tmp, f"sqlite:///{tmp / 'cases.db'}", f"sqlite:///{tmp / 'tracker.db'}", "", fake_twilio,
                     office_hours=f"{day} 09:00-09:30", on_call_contact="sms:+447700900999")
    yield running
    running.stop()


def test_out_of_hours_a_text_report_is_taken_and_danger_reaches_the_on_call_officer_at_once(closed_stack, fake_twilio):
    phone = Phone(closed_stack, fake_twilio)
    reply = phone.say("hello")
    reply = pick(phone, reply, "It's happening to me")
    reply = phone.say("Someone sprayed racist graffiti on my door")
    reply = skip_to_the_end_and_send(phone, reply)
    assert "Your reference is" in reply
    assert "Our office is closed just now" in reply and "when we open" in reply
    # No contact details: they are told when it will be looked at, never a time before the office opens.
    assert re.search(r"look at your report by 9(:00)?\s?am on", reply), reply

    other = Phone(closed_stack, fake_twilio)
    other.say("hi")
    before = len(fake_twilio.messages_to("+447700900999"))
    reply = other.say("they are kicking my door in right now")
    assert "999" in reply.split("\n\n")[0]
    deadline = time.monotonic() + 30  # the on-call alert goes now, not when the office opens
    while len(fake_twilio.messages_to("+447700900999")) <= before:
        assert time.monotonic() < deadline, "no on-call alert"
        time.sleep(0.2)
    alert = fake_twilio.messages_to("+447700900999")[-1]["Body"]
    assert "kicking" not in alert and other.number not in alert  # a reference and a risk, never the words


# --- The satisfaction survey after a case closes (Karin 4.30) -------------------------------------

def test_the_survey_answer_by_text_is_kept_with_the_case(stack, fake_twilio):
    from datetime import datetime, timedelta, timezone

    from bot.console import lifecycle
    from bot.models import CaseEvent

    phone = Phone(stack, fake_twilio)
    now = datetime.now(timezone.utc)
    reference = "SRV-" + uuid.uuid4().hex[:6].upper()
    factory = session_factory(stack.settings.database_url)
    with factory() as s:
        s.add(Case(reference=reference, report_id=f"r-{reference}", conversation_id=f"c-{reference}", channel="webchat",
                   language="pl", status="new", submitted_at=now, first_contact_due_at=now + timedelta(hours=24),
                   review_due_at=now + timedelta(days=90), contact_phone=phone.number, skipped=[]))
        s.commit()
    lifecycle.close_case(factory, stack.settings, reference=reference, reason="resolved", told_by="phone",
                         officer="asha")
    survey = phone.wait_replies(0)
    assert reference in survey[0]["Body"]  # in Polish, to the number they gave
    reply = phone.say("4")
    assert reply == lifecycle.translate(lifecycle.SURVEY_THANKS, "pl")

    def answers():
        with factory() as s:
            case = s.execute(select(Case).where(Case.reference == reference)).scalar_one()
            return [e.details for e in s.execute(select(CaseEvent).where(
                CaseEvent.case_id == case.id, CaseEvent.action == "survey_answer")).scalars()]

    assert answers() == [{"score": 4}]
    # Answered: the next text is a conversation with the bot, not a second answer.
    reply = phone.say("5")
    assert "Thank you for your answer" not in reply and lifecycle.translate(lifecycle.SURVEY_THANKS, "pl") not in reply
    assert answers() == [{"score": 4}]

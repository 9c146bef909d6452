"""Booking a call with an officer through the real Rasa and action servers (REST), on SQLite and
on PostgreSQL with Redis locks, found in the database with the officer's notification."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.booking.officers import ensure_demo_officers
from bot.booking.service import TOPIC
from bot.db import session_factory
from bot.models import Booking, Officer, OutboxMessage
from tests.test_integration import Chat

pytestmark = pytest.mark.integration


def choose(value: str) -> str:
    return '/choose{"value":"%s"}' % value


@pytest.fixture(scope="module")
def officers(stack):
    ensure_demo_officers(session_factory(stack.settings.database_url))  # as make run does
    return stack


def test_book_a_call_with_a_woman_who_speaks_polish(officers):
    stack = officers
    chat = Chat(stack)
    reply = chat.say("can I speak to a real person please")
    assert "How would you like to talk" in reply
    assert "What number" in chat.say(choose("phone"))
    assert "voicemail" in chat.say("07700 900123")
    assert "woman or a man" in chat.say(choose("yes"))
    assert "ethnic background" in chat.say(choose("female"))
    assert "Which language" in chat.say(choose("no_preference"))
    assert "When is it safe" in chat.say(choose("pl"))
    assert "How often" in chat.say(choose("evening"))
    reply = chat.say(choose("weekly"))
    assert "first times we have free" in reply
    assert "Choose a word only you know" in chat.say(choose("0"))
    assert "text reminder" in chat.say("bluebell")
    reply = chat.say(choose("no"))
    assert "Your call is booked for" in reply
    reference = chat.slot("booking_reference")
    assert reference and reference in reply and chat.slot("call_secret") is None
    with session_factory(stack.settings.database_url)() as s:
        booking = s.execute(select(Booking).where(Booking.reference == reference)).scalar_one()
        officer = s.get(Officer, booking.officer_id)
        notices = s.execute(select(OutboxMessage).where(OutboxMessage.topic == TOPIC)).scalars()
        notice = next((m for m in notices if reference in m.body), None)  # bodies are encrypted: found in Python
    assert officer.sex == "female"
    assert ("pl" in officer.languages and booking.interpreter is None) or booking.interpreter == "pl"
    assert booking.phone == "+447700900123" and booking.secret_hash and "bluebell" not in booking.secret_hash
    assert notice is not None and "900123" not in notice.body


def test_a_bsl_interpreter_when_asked(officers):
    chat = Chat(officers)
    chat.say("I want to talk to someone")
    for text in [choose("in_person"), choose("no_preference"), choose("no_preference"), choose("bsl"),
                 choose("any"), choose("on_change"), choose("0"), "/skip"]:
        reply = chat.say(text)
    assert "Your call is booked for" in reply and "safe place to meet" in reply
    with session_factory(officers.settings.database_url)() as s:
        booking = s.execute(select(Booking).where(Booking.reference == chat.slot("booking_reference"))).scalar_one()
        officer = s.get(Officer, booking.officer_id)
    assert "bsl" in officer.languages or (booking.interpreter == "bsl" and "British Sign Language" in reply)


def _book(chat: Chat) -> str:
    chat.say("can someone call me")
    for text in [choose("phone"), "07700 900777", choose("no"), choose("no_preference"), choose("no_preference"),
                 choose("en"), choose("any"), choose("weekly"), choose("0"), "harebell", choose("no")]:
        reply = chat.say(text)
    assert "Your call is booked for" in reply
    return chat.slot("booking_reference")


def test_change_and_cancel_a_call_after_the_check(officers):
    chat = Chat(officers)
    reference = _book(chat)
    with session_factory(officers.settings.database_url)() as s:
        first = s.execute(select(Booking).where(Booking.reference == reference)).scalar_one().starts_at

    later = Chat(officers)  # another day, another conversation: who they are is checked
    assert "booking reference" in later.say("I need to change my call")
    assert "word you chose" in later.say(reference)
    assert "couldn't find a call" in later.say("wrong word")
    later.say("change my call")
    later.say(reference)
    reply = later.say("harebell")
    assert "Let's find a new time" in reply and "first times we have free" in reply
    reply = later.say(choose("1"))
    assert "Your call has moved to" in reply and reference in reply
    with session_factory(officers.settings.database_url)() as s:
        booking = s.execute(select(Booking).where(Booking.reference == reference)).scalar_one()
        assert booking.status == "booked" and booking.starts_at != first

    # the reference is known in this conversation now, so only their word is asked
    assert "word you chose" in later.say("cancel my call")
    assert "Shall I cancel it?" in later.say("harebell")
    assert "has been cancelled" in later.say("/affirm")
    with session_factory(officers.settings.database_url)() as s:
        assert s.execute(select(Booking).where(Booking.reference == reference)).scalar_one().status == "cancelled"

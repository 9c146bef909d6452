"""Faults, with real processes: the action server killed, and the case database (a private
PostgreSQL, tests/private_pg.py) down for 30 seconds, just as a report is sent. The person is told
at once that their report is safe and will be sent; danger still gets 999; when the part is back
the case is made by itself with every answer, once. (A Rasa server killed mid-conversation:
tests/test_scale.py. Twilio's API failing: tests/test_outbox.py.)"""
from __future__ import annotations

import contextlib
import signal
import time

import pytest
from sqlalchemy import select

from bench.journeys import REPORT_JOURNEY
from bot.db import session_factory
from bot.models import Case
from tests.conftest import REDIS_URL, _stack, new_postgres_schema
from tests.test_integration import Chat

pytestmark = pytest.mark.integration

SAFE = "Your report is safe"


def to_the_summary(chat: Chat) -> str:
    replies = [chat.say(m) for m in REPORT_JOURNEY[:-1]]
    assert "Here's what you've told me" in replies[-1]
    return replies[-1]


def wait_for_case(stack, chat: Chat, timeout: float = 120) -> list[Case]:
    factory = session_factory(stack.settings.database_url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with factory() as s:
                found = list(s.execute(select(Case).where(Case.conversation_id == chat.sender)).scalars())
            if found and chat.slot("report_status") == "submitted":
                return found
        except Exception:  # the database is still coming back
            pass
        if time.monotonic() > deadline:
            raise AssertionError("the waiting report was not sent")
        time.sleep(1)


def assert_every_answer(case: Case) -> None:
    assert case.description == REPORT_JOURNEY[0] and case.address == "Flat 4, Oak Court"
    assert case.perpetrator_description == "tall man, about 50" and case.contact_name == "Sam"
    assert case.contact_phone == "+447700900123" and case.motivation == ["race"]


def test_the_action_server_killed_as_a_report_is_sent(stack):
    chat = Chat(stack)
    to_the_summary(chat)
    stack.procs["actions"].send_signal(signal.SIGKILL)
    stack.procs["actions"].wait()
    del stack.procs["actions"]
    try:
        reply = chat.say(REPORT_JOURNEY[-1])
        assert SAFE in reply and "999" in reply and "Your reference is" not in reply
        assert "call 999" in chat.say("he's outside my door with a knife")  # danger still answered
        assert chat.slot("immediate_risk") is True
    finally:
        stack.start(only="actions")
    cases = wait_for_case(stack, chat)
    assert len(cases) == 1  # once, however many tries
    assert_every_answer(cases[0])
    events = chat.tracker()["events"]
    said = [e.get("text") or "" for e in events if e["event"] == "bot"]
    assert any(cases[0].reference in text for text in said)  # the reference, in the conversation


def _private(tmp_path_factory, fake_twilio, conversations_too: bool):
    """A stack whose case database is a private PostgreSQL (and its conversations too, when asked; else
    they are on the shared server): the tests stop it."""
    from tests.private_pg import PrivatePostgres

    pg = PrivatePostgres().start()
    tracker_url, drop = (pg.url, None) if conversations_too else new_postgres_schema()
    running = _stack(tmp_path_factory.mktemp("faults"), pg.url, tracker_url, REDIS_URL, fake_twilio)
    running.pg = pg
    yield running
    running.stop()
    pg.remove()
    if drop:
        drop()


@contextlib.contextmanager
def down_for_30_seconds(pg):
    """The private PostgreSQL stopped for what the block does, and at least 30 seconds in all."""
    pg.stop()
    down_at = time.monotonic()
    try:
        yield
        time.sleep(max(0.0, 30 - (time.monotonic() - down_at)))
    finally:
        pg.start()


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory, fake_twilio):
    yield from _private(tmp_path_factory, fake_twilio, conversations_too=False)


def test_the_case_database_down_for_30_seconds_as_a_report_is_sent(private_stack):
    stack, pg = private_stack, private_stack.pg
    chat = Chat(stack)
    to_the_summary(chat)
    with down_for_30_seconds(pg):
        reply = chat.say(REPORT_JOURNEY[-1])
        assert SAFE in reply and "999" in reply
        assert "call 999" in chat.say("he's outside my door with a knife")
    cases = wait_for_case(stack, chat)
    assert len(cases) == 1
    assert_every_answer(cases[0])
    assert cases[0].immediate_risk  # the danger said while it was down is on the case too


@pytest.fixture(scope="module")
def all_private_stack(tmp_path_factory, fake_twilio):
    """Cases and conversations both on the private PostgreSQL: the whole database goes down."""
    yield from _private(tmp_path_factory, fake_twilio, conversations_too=True)


def test_the_whole_database_down_mid_report_loses_nothing(all_private_stack):
    stack, pg = all_private_stack, all_private_stack.pg
    chat = Chat(stack)
    first = [chat.say(m) for m in REPORT_JOURNEY[:8]]
    with down_for_30_seconds(pg):
        # The conversation goes on where it was, read from and written to Redis.
        rest = [chat.say(m) for m in REPORT_JOURNEY[8:-1]]
        assert "Here's what you've told me" in rest[-1] and "Flat 4, Oak Court" in rest[-1]
        reply = chat.say(REPORT_JOURNEY[-1])
        assert SAFE in reply and "999" in reply
    cases = wait_for_case(stack, chat)
    assert len(cases) == 1
    assert_every_answer(cases[0])
    assert first[0] and "who is reporting" in first[0]
    # Every message is in the database's conversation once, in order.
    from sqlalchemy import create_engine, text

    engine = create_engine(pg.url)
    deadline = time.monotonic() + 60
    while True:
        with engine.connect() as conn:
            count = conn.execute(text("SELECT count(*) FROM events WHERE sender_id = :s AND type_name = 'user'"),
                                 {"s": chat.sender}).scalar()
        if count >= len(REPORT_JOURNEY) or time.monotonic() > deadline:
            break
        time.sleep(1)
    engine.dispose()
    said = [e["text"] for e in chat.tracker()["events"] if e["event"] == "user"]
    assert said == REPORT_JOURNEY and count == len(REPORT_JOURNEY)

"""The outbox worker and its transports, against real databases (SQLite and PostgreSQL),
a fake Twilio at the network boundary (a local HTTP server speaking its Messages API)
and a local SMTP server. Time is injected (``run_once(now)``) rather than waited for."""
from __future__ import annotations

import asyncore
import email
import email.policy
import logging
import os
import signal
import smtpd
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.db import session_factory, transaction
from bot.models import OutboxMessage
from bot.outbox import (
    LEASE,
    Contact,
    EmailTransport,
    LogTransport,
    TransientSendError,
    TwilioTransport,
    Worker,
    backoff,
    enqueue,
    mask,
)
from bot.processes import free_port, stop_process
from bot.settings import ROOT, load as load_settings
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)  # in the past, so a worker on the real clock finds it due
BODY = "Case HC-7Q4K: risk high. Call the on-call officer."
SID, TOKEN = ACCOUNT_SID, AUTH_TOKEN


@pytest.fixture
def twilio():
    """Twilio's REST API faked on loopback (tests/fake_twilio.py, shared with the channel tests)."""
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
def config(settings, twilio):
    return replace(
        settings,
        twilio_account_sid=SID,
        twilio_auth_token=TOKEN,
        twilio_sms_number="+447700900001",
        twilio_whatsapp_number="+447700900002",
        twilio_api_base=twilio.url,
        smtp_url="",
        mail_from="hate-crime-reports@ha.example.org",
        outbox_max_attempts=8,
        outbox_poll_seconds=0.05,
    )


# --- a local SMTP server -----------------------------------------------------------------


class FakeSMTP(smtpd.SMTPServer):
    """Python's own SMTP server, in a thread. ``answer`` (e.g. ``"550 no such user"``) refuses the DATA."""

    def __init__(self) -> None:
        self.sockets: dict = {}
        super().__init__(("127.0.0.1", 0), None, map=self.sockets)
        self.port = self.socket.getsockname()[1]
        self.received: list[tuple[str, list[str], bytes]] = []
        self.answer = None
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self) -> None:
        while self.running:
            asyncore.loop(timeout=0.02, map=self.sockets, count=1)

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        if self.answer:
            return self.answer
        self.received.append((mailfrom, rcpttos, data))
        return None

    def stop(self) -> None:
        self.running = False
        self.thread.join(5)
        asyncore.close_all(map=self.sockets)


@pytest.fixture
def smtp():
    server = FakeSMTP()
    yield server
    server.stop()


# --- helpers ------------------------------------------------------------------------------


def add(factory, key: str, contact: str, body: str = BODY, **kwargs) -> int:
    with transaction(factory) as session:
        message = enqueue(session, dedupe_key=key, topic="on_call_alert", contact=Contact.parse(contact), body=body,
                          now=kwargs.pop("now", T0), **kwargs)
        session.flush()
        return message.id


def row(factory, id_: int) -> OutboxMessage:
    with factory() as session:
        return session.get(OutboxMessage, id_)


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- enqueue -------------------------------------------------------------------------------


def test_enqueue_adds_one_message_per_dedupe_key(factory):
    with transaction(factory) as session:
        first = enqueue(session, dedupe_key="alert:1", topic="on_call_alert", contact=Contact.parse("sms:+447700900123"),
                        body=BODY, case_id=None, now=T0)
        assert first is not None
        assert enqueue(session, dedupe_key="alert:1", topic="on_call_alert", contact=Contact("log", "x"), body=BODY) is None
    with transaction(factory) as session:
        assert enqueue(session, dedupe_key="alert:1", topic="on_call_alert", contact=Contact("log", "x"), body=BODY) is None
    stored = row(factory, first.id)
    assert (stored.status, stored.attempts, stored.transport, stored.recipient, stored.next_attempt_at) == (
        "pending", 0, "sms", "+447700900123", T0)

    # Two transactions at once: the unique constraint stops the second at commit.
    one, two = factory(), factory()
    try:
        assert enqueue(one, dedupe_key="alert:2", topic="t", contact=Contact("log", "x"), body=BODY)
        assert enqueue(two, dedupe_key="alert:2", topic="t", contact=Contact("log", "x"), body=BODY)
        one.commit()
        with pytest.raises(IntegrityError):
            two.commit()
    finally:
        one.close()
        two.close()


# --- Twilio ----------------------------------------------------------------------------------


def test_sms_and_whatsapp_go_from_the_right_number_to_the_right_one(factory, config, twilio):
    sms = add(factory, "a", "sms:+447700900123")
    whatsapp = add(factory, "b", "whatsapp:+447700900456")
    own_sender = add(factory, "c", "sms:+447700900789", sender="+447700900999")
    prefixed = add(factory, "d", "whatsapp:whatsapp:+447700900321", sender="whatsapp:+447700900998")

    assert Worker(factory, config).run_once(T0) == 4

    assert [(f["To"], f["From"], f["Body"]) for f in twilio.accepted] == [
        ("+447700900123", "+447700900001", BODY),
        ("whatsapp:+447700900456", "whatsapp:+447700900002", BODY),
        ("+447700900789", "+447700900999", BODY),
        ("whatsapp:+447700900321", "whatsapp:+447700900998", BODY),
    ]
    for number, id_ in enumerate([sms, whatsapp, own_sender, prefixed], start=1):
        sent = row(factory, id_)
        assert (sent.status, sent.attempts, sent.sent_at, sent.locked_until) == ("sent", 1, T0, None)
        assert sent.provider_id == f"SM{number:032x}"
    assert Worker(factory, config).run_once(T0 + timedelta(days=1)) == 0  # never again


def test_twilio_down_is_retried_with_backoff_and_sent_once_when_back(factory, config, twilio):
    id_ = add(factory, "a", "sms:+447700900123")
    worker = Worker(factory, config)

    twilio.mode = "500"
    assert worker.run_once(T0) == 1
    waiting = row(factory, id_)
    assert (waiting.status, waiting.attempts, waiting.last_error) == ("pending", 1, "twilio:500:20500")
    assert T0 + timedelta(seconds=8) <= waiting.next_attempt_at <= T0 + timedelta(seconds=12)
    assert worker.run_once(T0 + timedelta(seconds=7)) == 0  # not due yet

    twilio.mode = "drop"
    assert worker.run_once(waiting.next_attempt_at) == 1
    dropped = row(factory, id_)
    assert (dropped.status, dropped.attempts, dropped.last_error) == ("pending", 2, "twilio:ConnectionError")
    assert dropped.next_attempt_at - waiting.next_attempt_at >= timedelta(seconds=16)

    twilio.mode = "429"
    assert worker.run_once(dropped.next_attempt_at) == 1
    limited = row(factory, id_)
    assert (limited.status, limited.attempts, limited.last_error) == ("pending", 3, "twilio:429:20429")
    assert limited.next_attempt_at - dropped.next_attempt_at >= timedelta(seconds=32)

    twilio.mode = "ok"
    assert worker.run_once(limited.next_attempt_at) == 1
    assert row(factory, id_).status == "sent"
    assert worker.run_once(limited.next_attempt_at + timedelta(hours=5)) == 0
    assert len(twilio.accepted) == 1 and twilio.requests == 4


def test_a_twilio_timeout_is_retried(factory, config, twilio):
    id_ = add(factory, "a", "sms:+447700900123")
    twilio.mode = "slow"
    worker = Worker(factory, config, transports={"sms": TwilioTransport(config, "sms", timeout=0.1)})
    assert worker.run_once(T0) == 1
    assert (row(factory, id_).status, row(factory, id_).last_error) == ("pending", "twilio:ReadTimeout")


@pytest.mark.parametrize("code", [21610, 21211])
def test_a_permanent_twilio_error_fails_at_once_and_is_never_retried(factory, config, twilio, caplog, code):
    id_ = add(factory, "a", "sms:+447700900123")
    twilio.mode = f"400:{code}"
    worker = Worker(factory, config)
    with caplog.at_level(logging.INFO, logger="bot.outbox"):
        assert worker.run_once(T0) == 1
    failed = row(factory, id_)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 1, f"twilio:400:{code}")
    assert worker.run_once(T0 + timedelta(days=2)) == 0
    assert twilio.requests == 1
    assert f"outbox message {id_} (topic on_call_alert) failed: twilio:400:{code}" in caplog.text
    assert "900123" not in caplog.text and "HC-7Q4K" not in caplog.text


def test_wrong_twilio_credentials_are_retried_not_dropped(factory, config, twilio):
    id_ = add(factory, "a", "sms:+447700900123")
    assert Worker(factory, replace(config, twilio_auth_token="wrong")).run_once(T0) == 1
    assert (row(factory, id_).status, row(factory, id_).last_error) == ("pending", "twilio:401:20003")
    assert Worker(factory, config).run_once(T0 + timedelta(minutes=1)) == 1
    assert row(factory, id_).status == "sent"


def test_after_the_last_attempt_the_message_fails_with_an_error_log(factory, config, twilio, caplog):
    id_ = add(factory, "a", "sms:+447700900123")
    twilio.mode = "500"
    worker = Worker(factory, replace(config, outbox_max_attempts=3))
    now = T0
    with caplog.at_level(logging.INFO, logger="bot.outbox"):
        for attempt in (1, 2, 3):
            assert worker.run_once(now) == 1
            assert row(factory, id_).attempts == attempt
            now += timedelta(hours=2)
    failed = row(factory, id_)
    assert (failed.status, failed.last_error) == ("failed", "twilio:500:20500")
    assert worker.run_once(now) == 0 and twilio.requests == 3
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        f"outbox message {id_} (topic on_call_alert) failed after 3 attempts: twilio:500:20500"]
    assert "900123" not in caplog.text and "HC-7Q4K" not in caplog.text


def test_backoff_doubles_from_ten_seconds_up_to_an_hour_with_jitter():
    exact = [backoff(n, rand=lambda low, high: 1.0).total_seconds() for n in range(1, 12)]
    assert exact == [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
    assert backoff(1, rand=lambda low, high: low) == timedelta(seconds=8)
    assert backoff(20, rand=lambda low, high: high) == timedelta(seconds=4320)
    assert len({backoff(3) for _ in range(20)}) > 1


# --- claims ----------------------------------------------------------------------------------


def test_a_crashed_claim_is_picked_up_once_its_lease_has_run_out(factory, config, twilio, caplog):
    crashed = add(factory, "crashed", "sms:+447700900123", body="Case HC-0001: risk high")
    running = add(factory, "running", "sms:+447700900124", body="Case HC-0002: risk high")
    abandoned = add(factory, "abandoned", "sms:+447700900125", body="Case HC-0003: risk high")
    with transaction(factory) as session:
        for id_, locked_until, attempts in [(crashed, T0 - timedelta(seconds=1), 1), (running, T0 + timedelta(minutes=1), 1),
                                            (abandoned, T0 - timedelta(seconds=1), 8)]:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == id_).values(
                status="sending", locked_until=locked_until, attempts=attempts))

    with caplog.at_level(logging.ERROR, logger="bot.outbox"):
        assert Worker(factory, config).run_once(T0) == 1
    assert [f["Body"] for f in twilio.accepted] == ["Case HC-0001: risk high"]
    assert (row(factory, crashed).status, row(factory, crashed).attempts) == ("sent", 2)
    assert row(factory, running).status == "sending"
    assert (row(factory, abandoned).status, row(factory, abandoned).last_error) == ("failed", "lease_expired")
    assert f"outbox message {abandoned} (topic on_call_alert) failed" in caplog.text


def test_a_late_result_from_an_expired_claim_changes_nothing(factory, config, twilio):
    id_ = add(factory, "a", "sms:+447700900123")
    other = Worker(factory, config)

    class Hung:
        """The first worker's send hangs past its lease; another worker sends meanwhile."""

        def send(self, message):
            assert other.run_once(T0 + LEASE + timedelta(seconds=1)) == 1
            raise TransientSendError("twilio:ReadTimeout")

    assert Worker(factory, config, transports={"sms": Hung()}).run_once(T0) == 1
    sent = row(factory, id_)
    assert (sent.status, sent.attempts, sent.provider_id) == ("sent", 2, f"SM{1:032x}")
    assert len(twilio.accepted) == 1


def test_workers_racing_send_each_message_exactly_once(factory, config, twilio):
    ids = [add(factory, f"race-{i}", f"sms:+4477009{i:05d}", body=f"Case HC-{i:04d}: risk high") for i in range(40)]
    twilio.delay = 0.002
    workers = 4
    barrier = threading.Barrier(workers)
    errors = []

    def work():
        worker = Worker(factory, config, batch_size=3)
        barrier.wait()
        try:
            while worker.run_once(T0):
                pass
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    bodies = Counter(f["Body"] for f in twilio.accepted)
    assert len(bodies) == 40 and set(bodies.values()) == {1}
    with factory() as session:
        rows = session.query(OutboxMessage).filter(OutboxMessage.id.in_(ids)).all()
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}


# --- email -------------------------------------------------------------------------------------


def test_email_goes_through_smtp_with_from_subject_and_body(factory, config, smtp):
    id_ = add(factory, "a", "email:oncall@council.example.org", subject="High risk report HC-7Q4K")
    config = replace(config, smtp_url=f"smtp://127.0.0.1:{smtp.port}")
    assert Worker(factory, config).run_once(T0) == 1

    [(mail_from, to, data)] = smtp.received
    assert (mail_from, to) == ("hate-crime-reports@ha.example.org", ["oncall@council.example.org"])
    sent = email.message_from_bytes(data, policy=email.policy.default)
    assert (sent["From"], sent["To"], sent["Subject"]) == (
        "hate-crime-reports@ha.example.org", "oncall@council.example.org", "High risk report HC-7Q4K")
    assert sent.get_content().strip() == BODY
    stored = row(factory, id_)
    assert stored.status == "sent" and stored.provider_id == sent["Message-ID"]


def test_email_refused_for_good_fails_and_refused_for_now_is_retried(factory, config, smtp):
    config = replace(config, smtp_url=f"smtp://127.0.0.1:{smtp.port}")
    worker = Worker(factory, config)
    refused = add(factory, "a", "email:nobody@council.example.org")
    smtp.answer = "550 mailbox unavailable"
    assert worker.run_once(T0) == 1
    assert (row(factory, refused).status, row(factory, refused).last_error) == ("failed", "smtp:550")

    later = add(factory, "b", "email:oncall@council.example.org")
    smtp.answer = "451 try again later"
    assert worker.run_once(T0) == 1
    assert (row(factory, later).status, row(factory, later).last_error) == ("pending", "smtp:451")
    smtp.answer = None
    assert worker.run_once(T0 + timedelta(minutes=1)) == 1
    assert row(factory, later).status == "sent" and len(smtp.received) == 1


def test_email_server_down_is_retried(factory, config):
    id_ = add(factory, "a", "email:oncall@council.example.org")
    assert Worker(factory, replace(config, smtp_url=f"smtp://127.0.0.1:{free_port()}")).run_once(T0) == 1
    assert (row(factory, id_).status, row(factory, id_).last_error) == ("pending", "smtp:ConnectionRefusedError")


def test_email_settings_are_read_from_the_url():
    settings = load_settings()
    plain = EmailTransport(replace(settings, smtp_url="smtp://relay.example.org"))
    tls = EmailTransport(replace(settings, smtp_url="smtps://user%40ha:p%3Ass@mail.example.org:2465"))
    assert (plain.host, plain.port, plain.implicit_tls, plain.username) == ("relay.example.org", 25, False, None)
    assert (tls.host, tls.port, tls.implicit_tls, tls.username, tls.password) == (
        "mail.example.org", 2465, True, "user@ha", "p:ss")
    with pytest.raises(ValueError):
        EmailTransport(replace(settings, smtp_url="http://mail.example.org"))


# --- configuration, logging ----------------------------------------------------------------------


def test_an_unconfigured_transport_keeps_its_messages_and_names_the_missing_setting(factory, config, twilio, caplog):
    bare = replace(config, twilio_account_sid="", twilio_auth_token="", smtp_url="")
    sms = add(factory, "a", "sms:+447700900123")
    mail = add(factory, "b", "email:oncall@council.example.org")
    note = add(factory, "c", "log:on-call")
    with caplog.at_level(logging.INFO, logger="bot.outbox"):
        assert Worker(factory, bare).run_once(T0) == 1
    assert row(factory, note).status == "sent"
    for id_ in (sms, mail):
        waiting = row(factory, id_)
        assert (waiting.status, waiting.attempts, waiting.last_error) == ("pending", 0, "not_configured")
    assert "1 sms message(s) waiting: the sms transport is not configured (set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)" \
        in caplog.text
    assert "1 email message(s) waiting: the email transport is not configured (set SMTP_URL)" in caplog.text

    assert Worker(factory, config).run_once(T0) == 1  # configured: it goes
    assert row(factory, sms).status == "sent" and len(twilio.accepted) == 1


def test_no_log_line_holds_a_recipient_in_full(factory, config, twilio, caplog):
    ids = [add(factory, "a", "log:+447700900123"), add(factory, "b", "log:jane.doe@tenant.example.org"),
           add(factory, "c", "sms:+447700900456")]
    with caplog.at_level(logging.INFO):  # every logger, at the production level (DEBUG is for development)
        assert Worker(factory, config).run_once(T0) == 3
    assert all(row(factory, id_).status == "sent" for id_ in ids)
    text = caplog.text
    assert f"outbox message {ids[0]} topic=on_call_alert to=***123: {BODY}" in text
    assert f"topic=on_call_alert to=***@tenant.example.org: {BODY}" in text
    for secret in ("7700900", "jane.doe", SID, TOKEN):
        assert secret not in text
    assert mask("whatsapp:+44 7700 900123") == "***123" and mask("ab") == "***"
    assert mask("someone@example.org") == "***@example.org"


def test_the_log_transport_writes_one_line(caplog):
    message = OutboxMessage(id=7, topic="t", recipient="on-call", body="Case HC-1\nrisk high")
    with caplog.at_level(logging.INFO, logger="bot.outbox"):
        assert LogTransport().send(message) is None
    assert caplog.messages == ["outbox message 7 topic=t to=***all: Case HC-1 risk high"]


# --- database outages --------------------------------------------------------------------------


class Flaky:
    """A session factory whose database can be switched off."""

    def __init__(self, factory) -> None:
        self.factory = factory
        self.dead = session_factory("postgresql+psycopg2://postgres@127.0.0.1:1/none")
        self.down = False

    def __call__(self):
        return (self.dead if self.down else self.factory)()


def test_run_forever_waits_out_a_database_outage(factory, config, caplog):
    id_ = add(factory, "a", "log:on-call", now=None)
    flaky = Flaky(factory)
    flaky.down = True
    worker = Worker(flaky, config)
    stop = threading.Event()
    with caplog.at_level(logging.INFO, logger="bot.outbox"):
        thread = threading.Thread(target=worker.run_forever, args=(stop,))
        thread.start()
        try:
            wait_for(lambda: "round failed (OperationalError)" in caplog.text)
            assert thread.is_alive()
            flaky.down = False
            wait_for(lambda: row(factory, id_).status == "sent")
        finally:
            stop.set()
            thread.join(5)
    assert not thread.is_alive()
    assert "working again" in caplog.text
    assert "Traceback" not in caplog.text


def test_a_result_the_database_refused_is_stored_when_it_is_back(factory, config):
    id_ = add(factory, "a", "log:on-call")
    flaky = Flaky(factory)

    class CutsTheDatabase:
        def send(self, message):
            flaky.down = True
            return "provider-1"

    worker = Worker(flaky, config, transports={"log": CutsTheDatabase()})
    assert worker.run_once(T0) == 1
    assert row(factory, id_).status == "sending"  # sent, but not yet recorded
    with pytest.raises(OperationalError):
        worker.run_once(T0)
    flaky.down = False
    assert worker.run_once(T0) == 0  # the result is written first, so there is nothing to claim
    sent = row(factory, id_)
    assert (sent.status, sent.provider_id, sent.attempts) == ("sent", "provider-1", 1)


# --- the command -------------------------------------------------------------------------------


def test_python_m_bot_outbox_sends_and_stops_on_sigterm(database_url, factory):
    id_ = add(factory, "a", "log:on-call", now=None)
    waiting = add(factory, "b", "sms:+447700900123", now=None)
    env = dict(os.environ, DATABASE_URL=database_url, LOG_LEVEL="INFO", OUTBOX_POLL_SECONDS="0.1",
               SQLALCHEMY_SILENCE_UBER_WARNING="1", PYTHONPATH=str(ROOT), ON_CALL_CONTACT="sms:+447700900777",
               POLICE_CONTACT="fax:0207", SAFEGUARDING_CONTACT="log:safeguarding")
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SMTP_URL"):
        env.pop(name, None)
    proc = subprocess.Popen([sys.executable, "-m", "bot", "outbox"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        wait_for(lambda: row(factory, id_).status == "sent", timeout=30)
        wait_for(lambda: any("not configured" in line for line in lines))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        stop_process(proc, grace=5)
    reader.join(5)
    output = "".join(lines)
    assert "outbox worker started" in output and "outbox worker stopped" in output
    assert "the sms transport is not configured (set TWILIO_ACCOUNT_SID" in output
    assert "ON_CALL_CONTACT goes by sms, which is not configured (set TWILIO_ACCOUNT_SID" in output
    assert "POLICE_CONTACT is not <transport>:<recipient>" in output and "SAFEGUARDING_CONTACT" not in output
    assert "7700900" not in output and "0207" not in output and "Traceback" not in output
    assert row(factory, waiting).status == "pending"

"""Notifications, sent reliably: the transactional outbox.

Whatever raises a notification (a referral, an on-call alert, a work order) writes an
``OutboxMessage`` row in the same database transaction as the thing it tells of, so
either both are stored or neither is. A worker (``python -m bot outbox``, started by
``make run``) sends due messages with retry and backoff; nothing is lost if Twilio or
the mail server is down. Notifications to staff carry a case reference and a risk level,
never what the person wrote; replies to a person's texts (topic ``reply``, bot/channels/phone.py)
carry the conversation to the person's own number, and are never logged.

Transports: ``log`` (development), ``sms`` and ``whatsapp`` (Twilio), ``email`` (SMTP).
Each raises ``TransientSendError`` (tried again later, with exponential backoff, up to
``OUTBOX_MAX_ATTEMPTS``) or ``PermanentSendError`` (failed at once). Delivery is at least
once: see ``Worker``. Log lines carry message ids, topics and error codes; recipients
only masked (``mask``).
"""
from __future__ import annotations

import logging
import random
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Callable, Optional, Protocol
from urllib.parse import unquote, urlsplit

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.models import OutboxMessage, utcnow
from bot.settings import Settings

TRANSPORTS = ("sms", "whatsapp", "email", "log")


@dataclass(frozen=True)
class Contact:
    """Where a notification goes, configured as ``<transport>:<recipient>``
    (``sms:+447700900123``, ``email:oncall@example.org``, ``log:on-call``)."""

    transport: str
    recipient: str

    @classmethod
    def parse(cls, value: str) -> "Contact":
        transport, sep, recipient = value.partition(":")
        transport = transport.strip().lower()
        if not sep or transport not in TRANSPORTS or not recipient.strip():
            raise ValueError(f"a contact is '<{'|'.join(TRANSPORTS)}>:<recipient>', got {transport or '?'}:…")
        return cls(transport, recipient.strip())


def contact_setting(value: str, *, kind: str) -> Contact:
    """A configured contact; one that cannot be read must never stop a case being stored, so
    its notification goes to the log and the error (naming the setting's kind, not its value)
    is logged for the operator to fix."""
    try:
        return Contact.parse(value)
    except ValueError:
        log.error("the contact setting for %s is not '<transport>:<recipient>': notification logged instead", kind)
        return Contact("log", f"misconfigured-{kind}")


def enqueue(
    session: Session,
    *,
    dedupe_key: str,
    topic: str,
    contact: Contact,
    body: str,
    subject: Optional[str] = None,
    sender: Optional[str] = None,
    case_id: Optional[int] = None,
    now: Optional[datetime] = None,
) -> Optional[OutboxMessage]:
    """Add a message to the session (the caller commits it with its own changes).

    ``dedupe_key`` names the notification: a second one with the same key is not added
    (and the table's unique constraint stops a concurrent one at commit)."""
    pending = [m for m in session.new if isinstance(m, OutboxMessage) and m.dedupe_key == dedupe_key]
    if pending or session.execute(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)).first():
        return None
    now = now or datetime.now(timezone.utc)
    message = OutboxMessage(
        dedupe_key=dedupe_key,
        topic=topic,
        transport=contact.transport,
        recipient=contact.recipient,
        sender=sender,
        subject=subject,
        body=body,
        case_id=case_id,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    return message


def cancel_pending(session: Session, dedupe_key: str) -> bool:
    """Withdraw a message not yet claimed for sending (a reminder for a call since moved or
    cancelled), in the caller's transaction; False when there is none, or it has gone (or is
    going) already. A cancelled message is never sent."""
    for message in session.new:
        if isinstance(message, OutboxMessage) and message.dedupe_key == dedupe_key and message.status == "pending":
            message.status = "cancelled"
            return True
    done = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.dedupe_key == dedupe_key, OutboxMessage.status == "pending")
        .values(status="cancelled", locked_until=None)
        .execution_options(synchronize_session="fetch")
    )
    return done.rowcount > 0


# --- Sending ----------------------------------------------------------------------------

log = logging.getLogger(__name__)

SEND_TIMEOUT = 15.0  # seconds, per network operation (connect, each read), for Twilio and SMTP
BATCH_SIZE = 10
LEASE = timedelta(minutes=5)  # how long a claim keeps other workers off a message
BACKOFF_FIRST = timedelta(seconds=10)
BACKOFF_MAX = timedelta(hours=1)
CONFIG_REPORT_SECONDS = 300.0  # how often an unconfigured transport with waiting messages is logged again
DEFAULT_SUBJECT = "Hate crime and harassment reporting: notification"


class SendError(Exception):
    """A message that did not go. ``code`` is stored (``last_error``) and logged: an error
    class or a provider code, never the provider's text (it can quote the number or address)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code[:200]


class TransientSendError(SendError):
    """Try again later: network errors, timeouts, rate limits, the provider's own faults."""


class PermanentSendError(SendError):
    """No retry can help (an unsubscribed or invalid number, a refused address)."""


class OutsideWhatsAppWindow(PermanentSendError):
    """WhatsApp takes free text only within 24 hours of the person's last message (Twilio 63016):
    the message is held until they write again, and an approved template that says nothing
    about the case tells them there is a message waiting."""


class Transport(Protocol):
    def send(self, message: OutboxMessage) -> Optional[str]:
        """Send it; return the provider's id for it, if there is one."""


def mask(recipient: str) -> str:
    """What a log line may show of a recipient: the domain of an email address, the last
    three characters of anything else (a phone number, a label)."""
    value = "".join(recipient.split())
    if value.lower().startswith("whatsapp:"):
        value = value[len("whatsapp:"):]
    if "@" in value:
        return "***@" + value.rpartition("@")[2]
    return "***" + value[-3:] if len(value) > 3 else "***"


class LogTransport:
    """Development: one INFO log line per message instead of sending it."""

    def send(self, message: OutboxMessage) -> Optional[str]:
        body = " ".join(message.body.split())  # one line, whatever the body holds
        log.info("outbox message %s topic=%s to=%s: %s", message.id, message.topic, mask(message.recipient), body)
        return None


# Twilio answers 400 for what no retry mends (21610 unsubscribed, 21211 invalid number,
# 21614 not a mobile, 63016 outside WhatsApp's 24-hour window, ...): permanent. These
# statuses are transient: wrong credentials or account (401, 403, 404) are fixed by the
# operator, and the message must still go once they are.
_TWILIO_TRANSIENT_STATUSES = {401, 403, 404, 408, 429}

# The Twilio library logs each request and its headers at INFO; keep that quiet.
_twilio_http_log = logging.getLogger(__name__ + ".twilio_http")
_twilio_http_log.setLevel(logging.WARNING)


class TwilioTransport:
    """SMS or WhatsApp through Twilio's Messages API (``channel`` is ``sms`` or ``whatsapp``)."""

    def __init__(self, settings: Settings, channel: str, timeout: float = SEND_TIMEOUT) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        if channel not in ("sms", "whatsapp"):
            raise ValueError(f"Twilio sends sms or whatsapp, not {channel}")
        self.channel = channel
        self.default_from = settings.twilio_sms_number if channel == "sms" else settings.twilio_whatsapp_number
        # No retries inside the HTTP client: a retried POST could send twice; the worker retries.
        http = TwilioHttpClient(timeout=timeout, logger=_twilio_http_log)
        self.client = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http)
        self.client.api.base_url = settings.twilio_api_base.rstrip("/")

    def address(self, number: str) -> str:
        number = number.strip()
        if self.channel == "whatsapp" and not number.startswith("whatsapp:"):
            return "whatsapp:" + number
        return number

    def send(self, message: OutboxMessage) -> Optional[str]:
        import requests
        from twilio.base.exceptions import TwilioRestException

        content = {"content_sid": message.template} if message.template else {"body": message.body}
        try:
            created = self.client.messages.create(
                to=self.address(message.recipient),
                from_=self.address(message.sender or self.default_from),
                **content,
            )
        except TwilioRestException as exc:
            code = f"twilio:{exc.status}:{exc.code}"
            if self.channel == "whatsapp" and exc.code == 63016 and not message.template:
                raise OutsideWhatsAppWindow(code) from None
            if exc.status in _TWILIO_TRANSIENT_STATUSES or exc.status >= 500:
                raise TransientSendError(code) from None
            raise PermanentSendError(code) from None
        except (requests.RequestException, ValueError) as exc:  # network, timeout, or a garbled answer
            raise TransientSendError(f"twilio:{type(exc).__name__}") from None
        return created.sid


def _smtp_error(code: int) -> SendError:
    return (PermanentSendError if 500 <= code < 600 else TransientSendError)(f"smtp:{code}")


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


class EmailTransport:
    """Email through an SMTP server: ``smtp://[user:password@]host[:port]`` (STARTTLS when the
    server offers it) or ``smtps://...`` (TLS from the start). A login is only sent over TLS,
    or to a server on this machine."""

    def __init__(self, settings: Settings, timeout: float = SEND_TIMEOUT) -> None:
        url = urlsplit(settings.smtp_url)
        if url.scheme not in ("smtp", "smtps") or not url.hostname:
            raise ValueError("SMTP_URL is smtp://[user:password@]host[:port] or smtps://...")
        self.implicit_tls = url.scheme == "smtps"
        self.host = url.hostname
        self.port = url.port or (465 if self.implicit_tls else 25)
        self.username = unquote(url.username) if url.username else None
        self.password = unquote(url.password or "")
        self.mail_from = settings.mail_from
        self.timeout = timeout

    def compose(self, message: OutboxMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.mail_from
        email["To"] = message.recipient
        email["Subject"] = message.subject or DEFAULT_SUBJECT
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = make_msgid(domain=self.mail_from.rpartition("@")[2] or None)
        email.set_content(message.body)
        return email

    def send(self, message: OutboxMessage) -> Optional[str]:
        try:
            email = self.compose(message)
        except ValueError:  # a line break in an address or subject: never sendable
            raise PermanentSendError("email:bad_header") from None
        try:
            self._deliver(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise _smtp_error(min(code for code, _ in exc.recipients.values())) from None
        except smtplib.SMTPAuthenticationError as exc:  # the operator fixes the credentials
            raise TransientSendError(f"smtp:auth:{exc.smtp_code}") from None
        except smtplib.SMTPResponseException as exc:
            raise _smtp_error(exc.smtp_code) from None
        except (smtplib.SMTPException, OSError) as exc:  # refused, dropped, timed out, TLS failed
            raise TransientSendError(f"smtp:{type(exc).__name__}") from None
        return email["Message-ID"]

    def _deliver(self, email: EmailMessage) -> None:
        context = ssl.create_default_context()
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            encrypted = self.implicit_tls
            if not encrypted:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
                    encrypted = True
            if self.username:
                if not encrypted and not _is_loopback(self.host):
                    raise TransientSendError("smtp:login_needs_tls")
                smtp.login(self.username, self.password)
            smtp.send_message(email)
        finally:
            try:  # the message is accepted by now or never: a failing QUIT changes nothing
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


@dataclass(frozen=True)
class Unconfigured:
    """A transport whose settings are missing. The worker leaves its messages pending (they
    are sent once the settings are there) and logs an error naming what is missing."""

    transport: str
    missing: tuple[str, ...]

    def send(self, message: OutboxMessage) -> Optional[str]:
        raise TransientSendError("not_configured")


def build_transports(settings: Settings) -> dict[str, Transport]:
    """One transport per kind, from the settings; ``Unconfigured`` where settings are missing."""
    transports: dict[str, Transport] = {"log": LogTransport()}
    for channel, number in (("sms", "twilio_sms_number"), ("whatsapp", "twilio_whatsapp_number")):
        missing = tuple(n.upper() for n in ("twilio_account_sid", "twilio_auth_token", number) if not getattr(settings, n))
        transports[channel] = Unconfigured(channel, missing) if missing else TwilioTransport(settings, channel)
    if not settings.smtp_url:
        transports["email"] = Unconfigured("email", ("SMTP_URL",))
    else:
        try:
            transports["email"] = EmailTransport(settings)
        except ValueError:
            transports["email"] = Unconfigured("email", ("SMTP_URL (smtp:// or smtps://)",))
    return transports


def backoff(attempts: int, rand: Callable[[float, float], float] = random.uniform) -> timedelta:
    """The wait after the ``attempts``-th failed try: 10 s, 20 s, 40 s, ... up to an hour, ±20 %."""
    seconds = min(BACKOFF_MAX.total_seconds(), BACKOFF_FIRST.total_seconds() * 2 ** max(0, attempts - 1))
    return timedelta(seconds=seconds * rand(0.8, 1.2))


def _due(now: datetime):
    """Pending and due, or claimed by a worker whose lease ran out (it crashed or hung)."""
    return or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.locked_until <= now),
    )


class Worker:
    """Sends due outbox messages; several may run at once, against PostgreSQL or SQLite.

    A claim marks a message ``sending`` with a lease (``locked_until``), counts the attempt,
    and commits before anything is sent; the send happens outside any transaction; the
    result is written after. A message marked ``sent`` is never claimed again, and one
    under a running lease is not claimed by another worker.

    Delivery is at least once: if the worker dies (or loses the database for longer than
    the lease) after the provider accepted a message and before ``sent`` is written, the
    message is sent again once the lease has run out. The window is one provider call plus
    one small UPDATE; a result that cannot be written is kept in memory and written when
    the database is back. Each lease (``locked_until``) also serves as the claim's token: a
    worker whose lease ran out cannot turn a message back to pending or failed.
    """

    def __init__(
        self,
        factory: sessionmaker,
        settings: Settings,
        transports: Optional[dict[str, Transport]] = None,
        clock: Callable[[], datetime] = utcnow,
        *,
        batch_size: int = BATCH_SIZE,
        lease: timedelta = LEASE,
        report_unconfigured: bool = True,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.transports = build_transports(settings) if transports is None else dict(transports)
        self.clock = clock
        self.batch_size = batch_size
        self.lease = lease
        self.max_attempts = max(1, settings.outbox_max_attempts)
        self._unrecorded: list = []  # result UPDATEs the database refused; written on the next run
        self._next_config_report = 0.0 if report_unconfigured else float("inf")  # the main worker's job

    @property
    def ready(self) -> list[str]:
        return sorted(n for n, t in self.transports.items() if not isinstance(t, Unconfigured))

    @property
    def unconfigured(self) -> dict[str, tuple[str, ...]]:
        missing = {n: t.missing for n, t in self.transports.items() if isinstance(t, Unconfigured)}
        missing.update({n: ("a transport",) for n in TRANSPORTS if n not in self.transports})
        return missing

    # -- one round --------------------------------------------------------------------

    def run_once(self, now: Optional[datetime] = None) -> int:
        """Claim one batch of due messages and send them; return how many were claimed.

        ``now`` fixes the time for the whole round (tests); by default the clock is read."""
        stamp = (lambda: now) if now is not None else self.clock
        self._write_unrecorded()
        self._report_unconfigured()
        messages, lease_until = self._claim(stamp())
        started = time.monotonic()
        for message in messages:
            if time.monotonic() - started > self.lease.total_seconds() / 2:
                # Late in the lease: hand the rest back rather than risk a second worker
                # claiming a message while this one is still sending it.
                self._finish(message, lease_until, status="pending", locked_until=None,
                             attempts=OutboxMessage.attempts - 1, next_attempt_at=stamp())
                continue
            self._send(message, lease_until, stamp)
        return len(messages)

    def _claim(self, now: datetime) -> tuple[list[OutboxMessage], datetime]:
        lease_until = now + self.lease
        ready = self.ready
        if not ready:
            return [], lease_until
        with self.factory() as session, session.begin():
            candidates = session.execute(
                select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.topic)
                .where(_due(now), OutboxMessage.transport.in_(ready))
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has none, the WHERE below decides
            ).all()
            claimed = []
            for id_, status, attempts, topic in candidates:
                stmt = update(OutboxMessage).where(OutboxMessage.id == id_, _due(now))
                if status == "sending" and attempts >= self.max_attempts:
                    # Its last attempt's worker died mid-send: give up rather than loop on it.
                    stmt = stmt.values(status="failed", last_error="lease_expired", locked_until=None)
                    if session.execute(stmt.execution_options(synchronize_session=False)).rowcount == 1:
                        log.error("outbox message %s (topic %s) failed: its last attempt never finished", id_, topic)
                    continue
                stmt = stmt.values(status="sending", locked_until=lease_until, attempts=OutboxMessage.attempts + 1)
                if session.execute(stmt.execution_options(synchronize_session=False)).rowcount == 1:
                    claimed.append(id_)
            messages = []
            if claimed:
                messages = list(
                    session.execute(select(OutboxMessage).where(OutboxMessage.id.in_(claimed)).order_by(OutboxMessage.id))
                    .scalars()
                )
                session.expunge_all()  # the transports read them after the commit
        return messages, lease_until

    def _send(self, message: OutboxMessage, lease_until: datetime, stamp: Callable[[], datetime]) -> None:
        transport = self.transports[message.transport]
        try:
            provider_id = transport.send(message)
        except OutsideWhatsAppWindow as exc:
            log.warning("outbox message %s (topic %s) held: %s", message.id, message.topic, exc.code)
            self._hold(message, lease_until, exc.code, stamp())
            return
        except PermanentSendError as exc:
            log.error("outbox message %s (topic %s) failed: %s", message.id, message.topic, exc.code)
            self._finish(message, lease_until, status="failed", last_error=exc.code, locked_until=None)
            return
        except TransientSendError as exc:
            self._retry_or_fail(message, lease_until, exc.code, stamp())
            return
        except Exception as exc:  # a fault in a transport: say so, and try again later
            log.error("outbox message %s: %s in the %s transport", message.id, type(exc).__name__, message.transport)
            self._retry_or_fail(message, lease_until, f"error:{type(exc).__name__}", stamp())
            return
        log.info("outbox message %s (topic %s) sent by %s to %s", message.id, message.topic, message.transport,
                 mask(message.recipient))
        if not self._finish(message, lease_until, own_lease=False, status="sent", sent_at=stamp(),
                            provider_id=provider_id[:64] if provider_id else None, locked_until=None):
            log.warning("outbox message %s: its lease ran out while it was being sent; it may go twice", message.id)

    def _hold(self, message: OutboxMessage, lease_until: datetime, code: str, now: datetime) -> None:
        """Keep a WhatsApp message until the person writes again (bot.channels.phone.release_held);
        the first one held for a number sends the configured template in its place."""
        if not self._finish(message, lease_until, status="held", last_error=code, locked_until=None):
            return
        template = self.settings.twilio_whatsapp_template_sid
        if not template:
            log.warning("no TWILIO_WHATSAPP_TEMPLATE_SID: nothing tells the person a message is waiting")
            return
        with self.factory() as session, session.begin():
            others = session.execute(
                select(func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.recipient == message.recipient, OutboxMessage.transport == "whatsapp",
                    OutboxMessage.status == "held", OutboxMessage.id != message.id)
            ).scalar()
            if not others:
                held = OutboxMessage(
                    dedupe_key=f"whatsapp-template:{message.id}", topic="whatsapp_template", transport="whatsapp",
                    recipient=message.recipient, sender=message.sender, body="", template=template,
                    case_id=message.case_id, status="pending", attempts=0, next_attempt_at=now, created_at=now)
                session.add(held)

    def _retry_or_fail(self, message: OutboxMessage, lease_until: datetime, code: str, now: datetime) -> None:
        if message.attempts >= self.max_attempts:
            log.error("outbox message %s (topic %s) failed after %s attempts: %s", message.id, message.topic,
                      message.attempts, code)
            self._finish(message, lease_until, status="failed", last_error=code, locked_until=None)
            return
        wait = backoff(message.attempts)
        log.warning("outbox message %s (topic %s) not sent (%s), attempt %s of %s; next try in %ss", message.id,
                    message.topic, code, message.attempts, self.max_attempts, round(wait.total_seconds()))
        self._finish(message, lease_until, status="pending", last_error=code, locked_until=None,
                     next_attempt_at=now + wait)

    def _finish(self, message: OutboxMessage, lease_until: datetime, own_lease: bool = True, **values) -> bool:
        """Write a result; True if it changed the row. Only under this claim's lease, except
        ``sent``, which is true whoever holds the claim now."""
        where = [OutboxMessage.id == message.id, OutboxMessage.status == "sending"]
        if own_lease:
            where.append(OutboxMessage.locked_until == lease_until)
        stmt = update(OutboxMessage).where(*where).values(**values).execution_options(synchronize_session=False)
        try:
            with self.factory() as session, session.begin():
                return session.execute(stmt).rowcount == 1
        except SQLAlchemyError as exc:
            log.error("outbox message %s: result not stored (%s); kept to store later", message.id,
                      type(exc).__name__)
            self._unrecorded.append(stmt)
            return True

    def _write_unrecorded(self) -> None:
        if not self._unrecorded:
            return
        with self.factory() as session, session.begin():
            for stmt in self._unrecorded:
                session.execute(stmt)
        self._unrecorded.clear()

    def _report_unconfigured(self) -> None:
        """Log, at start and every few minutes, the messages waiting for a transport that is not configured."""
        unconfigured = self.unconfigured
        names = sorted(unconfigured)
        if not unconfigured or time.monotonic() < self._next_config_report:
            return
        self._next_config_report = time.monotonic() + CONFIG_REPORT_SECONDS
        waiting_statuses = ("pending", "sending")
        with self.factory() as session, session.begin():
            counts = dict(
                session.execute(
                    select(OutboxMessage.transport, func.count())
                    .where(OutboxMessage.transport.in_(names), OutboxMessage.status.in_(waiting_statuses))
                    .group_by(OutboxMessage.transport)
                ).all()
            )
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.transport.in_(names), OutboxMessage.status == "pending",
                       or_(OutboxMessage.last_error.is_(None), OutboxMessage.last_error != "not_configured"))
                .values(last_error="not_configured")
                .execution_options(synchronize_session=False)
            )
        for transport, count in sorted(counts.items()):
            log.error("%s %s message(s) waiting: the %s transport is not configured (set %s)", count,
                      transport, transport, ", ".join(unconfigured[transport]))

    # -- the loop -----------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        """Poll every ``outbox_poll_seconds`` until ``stop`` is set. A database outage (or
        any other fault) is logged by its class and waited out with a growing pause."""
        poll = max(0.01, self.settings.outbox_poll_seconds)
        failures = 0
        while not stop.is_set():
            try:
                claimed = self.run_once()
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any one round
                failures += 1
                pause = min(60.0, poll * 2 ** failures)
                log.error("round failed (%s); trying again in %.1fs", type(exc).__name__, pause)
                stop.wait(pause)
                continue
            if failures:
                log.info("working again")
                failures = 0
            if claimed < self.batch_size:
                stop.wait(poll)


def check_contacts(settings: Settings, unconfigured: dict[str, tuple[str, ...]]) -> None:
    """Log an error for each ``*_CONTACT`` setting that cannot be read or whose transport is not
    configured, at start rather than when the first message for it waits."""
    for field in fields(settings):
        if not field.name.endswith("_contact"):
            continue
        try:
            transport = Contact.parse(getattr(settings, field.name)).transport
        except ValueError:
            log.error("%s is not <transport>:<recipient>", field.name.upper())
            continue
        if transport in unconfigured:
            log.error("%s goes by %s, which is not configured (set %s)", field.name.upper(), transport,
                      ", ".join(unconfigured[transport]))


def _start_retention(settings: Settings, stop: threading.Event) -> threading.Thread:
    """Anonymise and purge (bot/console/privacy.py) at start and then daily, in a thread of its own:
    sending never waits for it, and its errors are logged by class name and never stop the worker."""
    from bot.console.privacy import run_daily
    from bot.db import session_factory

    thread = threading.Thread(target=run_daily, args=(session_factory(settings.database_url), settings, stop),
                              name="retention", daemon=True)
    thread.start()
    return thread


def serve(settings: Settings) -> None:
    """``python -m bot outbox``: run the worker until SIGTERM or SIGINT."""
    import signal

    from bot.db import session_factory

    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker = Worker(session_factory(settings.database_url), settings)
    log.info("outbox worker started; transports ready: %s", ", ".join(worker.ready))
    check_contacts(settings, worker.unconfigured)
    _start_retention(settings, stop)
    worker.run_forever(stop)
    log.info("outbox worker stopped")

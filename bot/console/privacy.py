"""Data protection: what is held about one person, and forgetting closed cases once kept long enough.

* ``subject_access``: everything held about a person (UK GDPR Art. 15, the right of access), found by
  a case reference, a phone number or an email address: each case's report, consents, safety checks,
  referrals, work orders, history, officers' notes, calls booked, evidence (what, not the bytes),
  messages sent, the conversation, and who looked at the case (the audit log); and their phone
  contact records. The result is plain JSON-ready data, for the console page and the export.
* ``anonymise_due``: storage limitation (Art. 5(1)(e)). A closed case is anonymised
  ``RETENTION_DAYS`` after closing (6 years by default, the limitation period for civil claims) and
  once no appeal window is open: whatever identifies the person goes (the report's free text, their
  contact details, notes, evidence, message bodies, the conversation), while what monitoring counts
  survives (the incident's type and motivation, the postcode district, dates, channel, risk, the
  service-level clocks). Each case is done in its own transaction, and doing it twice is harmless.
* ``purge``: what was only ever kept for a while: handled inbound texts (their text is already
  gone), and photos kept for a report that never came.

``run_daily`` runs both from the outbox worker. Nothing here logs personal data: errors by class name.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable, Optional

import phonenumbers
from sqlalchemy import and_, delete, func, inspect, or_, select, text, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

from bot import references
from bot.areas import postcode_district
from bot.console import audit
from bot.console.transcript import transcript
from bot.db import engine_for
from bot.models import Booking, Case, CaseEvent, CaseNote, Evidence, InboundMessage, OutboxMessage, PhoneContact
from bot.settings import Settings

log = logging.getLogger(__name__)

APPEAL_DAYS = 28  # bot.console.lifecycle.APPEAL_DAYS, for a closure recorded without its appeal date
INBOUND_KEEP_DAYS = 30
# A case sharing a phone conversation whose session start cannot be found: its conversation is taken
# to have begun this long before the report was made.
SESSION_MARGIN = timedelta(days=1)

# The report's columns that can identify the person, emptied on anonymisation. Everything else on
# the case is a code, a date or a flag that monitoring counts.
IDENTIFYING = ("description", "address", "perpetrator_description", "contact_name", "contact_phone",
               "contact_email", "safe_contact_other", "safe_times", "code_word", "graffiti_location",
               "incident_date", "vulnerable")
# What a case event's details may keep: codes, references, numbers, dates; any other text goes.
_CODE = re.compile(r"^[a-z][a-z0-9_-]{0,59}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][0-9:.]+([+-]\d{2}:\d{2}|Z)?)?$")
REMOVED = "(removed)"


# --- Plain data ---------------------------------------------------------------------------------

def plain(value: Any) -> Any:
    """``value`` as JSON can hold it: dates and times in ISO 8601."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return f"({len(value)} bytes)"
    return value


def _columns(row: Any, exclude: Iterable[str] = ("id", "case_id")) -> dict:
    skip = set(exclude)
    return {c.key: plain(getattr(row, c.key)) for c in row.__table__.columns if c.key not in skip}


def normalise_phone(raw: Optional[str]) -> Optional[str]:
    """A UK or international number in E.164 (``+447700900123``), or None if it is not one."""
    if not raw or not isinstance(raw, str):
        return None
    raw = raw.strip()
    if raw.lower().startswith("whatsapp:"):
        raw = raw[len("whatsapp:"):]
    if "@" in raw:
        return None
    try:
        number = phonenumbers.parse(raw, "GB")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- Subject access -----------------------------------------------------------------------------

def subject_access(factory: sessionmaker, settings: Settings, *, reference: Optional[str] = None,
                   phone: Optional[str] = None, email: Optional[str] = None) -> dict:
    """Everything held about the person with this case reference, phone number or email address
    (any one is enough; with several, what any of them finds). JSON-serialisable."""
    reference, phone, email = (_given(v) for v in (reference, phone, email))
    if not (reference or phone or email):
        raise ValueError("Give a case reference, a phone number or an email address to search by.")
    number = normalise_phone(phone) if phone else None
    if phone and number is None:
        raise ValueError("That phone number cannot be read: give it with its area code, e.g. 07700 900123.")
    email = email.lower() if email else None
    with factory() as session:
        case_ids = _find_cases(session, reference, number, email)
        cases = [_case_record(session, settings, case_id) for case_id in sorted(case_ids)]
        contacts = _phone_contacts(session, number) if number else []
        other_messages = _other_messages(session, number, email, case_ids)
        other_bookings = _other_bookings(session, number, case_ids) if number else []
    return {
        "generated_at": datetime.now(timezone.utc).isoformat(),
        "searched_by": [name for name, v in (("reference", reference), ("phone", number), ("email", email)) if v],
        "cases": cases,
        "phone_contacts": contacts,
        "other_messages": other_messages,
        "other_bookings": other_bookings,
    }


def _given(value: Optional[str]) -> Optional[str]:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _find_cases(session: Session, reference: Optional[str], number: Optional[str], email: Optional[str]) -> set[int]:
    found: set[int] = set()
    if reference:
        forms = {reference.upper(), references.normalise(reference) or reference.upper()}
        found |= set(session.execute(select(Case.id).where(Case.reference.in_(forms))).scalars())
    if number:
        found |= _cases_by_phone(session, number)
    if email:
        by_email = select(Case.id).where(func.lower(func.trim(Case.contact_email)) == email)
        found |= set(session.execute(by_email).scalars())
        found |= _cases_by_safer_address(session, email)
    return found


def _cases_by_safer_address(session: Session, email: str) -> set[int]:
    """Cases whose safer contact is ``email``: compared here, as the column is stored encrypted."""
    return {case_id for case_id, other in session.execute(
        select(Case.id, Case.safe_contact_other).where(Case.safe_contact_other.is_not(None))
    ) if other.strip().lower() == email}


def _cases_by_phone(session: Session, number: str) -> set[int]:
    """Cases whose contact or safer number is ``number`` (as written, in any format), whose phone
    conversation is that number's, or with a call booked on it."""
    found = {case_id for case_id, phone, other in session.execute(
        select(Case.id, Case.contact_phone, Case.safe_contact_other)
        .where(or_(Case.contact_phone.is_not(None), Case.safe_contact_other.is_not(None)))
    ) if number in (normalise_phone(phone), normalise_phone(other))}
    conversations = select(PhoneContact.conversation_id).where(PhoneContact.number == number)
    found |= set(session.execute(select(Case.id).where(Case.conversation_id.in_(conversations))).scalars())
    found |= {case_id for case_id, phone in session.execute(
        select(Booking.case_id, Booking.phone).where(Booking.case_id.is_not(None), Booking.phone.is_not(None))
    ) if normalise_phone(phone) == number}
    return found


def _case_record(session: Session, settings: Settings, case_id: int) -> dict:
    case = session.get(Case, case_id)
    return {
        "reference": case.reference,
        "report": _columns(case, exclude=("id",)),
        "consents": [_columns(c) for c in case.consents],
        "risk_assessments": [{**_columns(a), "level": a.level} for a in case.assessments],
        "referrals": [_columns(r) for r in case.referrals],
        "work_orders": [_columns(o) for o in case.work_orders],
        "events": [_columns(e) for e in case.events],
        "notes": [_columns(n) for n in session.execute(
            select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.id)).scalars()],
        "bookings": [_booking(b) for b in session.execute(
            select(Booking).where(Booking.case_id == case_id).order_by(Booking.id)).scalars()],
        "evidence": _evidence(session, case_id),
        "messages": [_message(m) for m in session.execute(
            select(OutboxMessage).where(OutboxMessage.case_id == case_id).order_by(OutboxMessage.id)).scalars()],
        "transcript": _transcript(settings, case.conversation_id),
        "access_log": [{"at": plain(e.at), "actor": e.actor, "action": e.action, "details": plain(e.details)}
                       for e in audit.for_case(session, case.reference)],
    }


def _booking(booking: Booking) -> dict:
    return _columns(booking, exclude=("id", "case_id", "secret_hash", "officer_id"))


def _evidence(session: Session, case_id: int) -> list[dict]:
    rows = session.execute(
        select(Evidence.content_type, Evidence.size, Evidence.sha256, Evidence.consented_at, Evidence.received_at)
        .where(Evidence.case_id == case_id).order_by(Evidence.id))
    return [{"content_type": t, "size": size, "sha256": digest, "consented_at": plain(consented),
             "received_at": plain(received)} for t, size, digest, consented, received in rows]


def _message(message: OutboxMessage) -> dict:
    return {"topic": message.topic, "transport": message.transport, "recipient": message.recipient,
            "subject": message.subject, "body": message.body, "status": message.status,
            "created_at": plain(message.created_at), "sent_at": plain(message.sent_at)}


def _transcript(settings: Settings, conversation_id: str) -> list[dict]:
    """The conversation, or nothing when the tracker store has no events table (yet, or any more)."""
    if not _has_events(engine_for(settings.tracker_database_url)):
        return []
    return [{"who": line.who, "text": line.text, "at": plain(line.at)}
            for line in transcript(settings.tracker_database_url, conversation_id)]


def _has_events(bind) -> bool:
    return inspect(bind).has_table("events")


def _phone_contacts(session: Session, number: str) -> list[dict]:
    rows = session.execute(select(PhoneContact).where(PhoneContact.number == number)).scalars()
    return [{"channel": c.channel, "number": c.number, "service_number": c.service_number,
             "opted_out": c.opted_out, "last_inbound_at": plain(c.last_inbound_at), "last_reply": c.last_reply,
             "updated_at": plain(c.updated_at)} for c in rows]


def _other_messages(session: Session, number: Optional[str], email: Optional[str], case_ids: set[int]) -> list[dict]:
    """Messages sent to their number or address that no case found holds (replies to their texts)."""
    to_them = []
    if number:
        to_them.append(and_(OutboxMessage.recipient == number, OutboxMessage.transport.in_(("sms", "whatsapp"))))
    if email:
        to_them.append(and_(func.lower(OutboxMessage.recipient) == email, OutboxMessage.transport == "email"))
    if not to_them:
        return []
    query = select(OutboxMessage).where(or_(*to_them)).order_by(OutboxMessage.id)
    return [_message(m) for m in session.execute(query).scalars() if m.case_id not in case_ids]


def _other_bookings(session: Session, number: str, case_ids: set[int]) -> list[dict]:
    rows = session.execute(select(Booking).where(Booking.phone.is_not(None)).order_by(Booking.id)).scalars()
    return [_booking(b) for b in rows if b.case_id not in case_ids and normalise_phone(b.phone) == number]


# --- Retention ----------------------------------------------------------------------------------

def anonymise_due(factory: sessionmaker, settings: Settings, *, now: Optional[datetime] = None,
                  days: Optional[int] = None, dry_run: bool = False) -> list[str]:
    """Anonymise the closed cases kept ``days`` (default ``settings.retention_days``) since closing,
    whose appeal window has passed; the references done (or, with ``dry_run``, due)."""
    now = now or datetime.now(timezone.utc)
    days = settings.retention_days if days is None else days
    due = _due(factory, now, now - timedelta(days=days))
    if dry_run:
        return [reference for _, reference, _ in due]
    done = []
    for case_id, reference, closed_at in due:
        try:
            if _anonymise(factory, settings, case_id, closed_at, now):
                done.append(reference)
        except Exception as exc:  # noqa: BLE001 - one case must not stop the others
            log.error("anonymising a case failed (%s); it is tried again on the next run", type(exc).__name__)
    return done


def _due(factory: sessionmaker, now: datetime, closed_before: datetime) -> list[tuple[int, str, datetime]]:
    """(id, reference, closing time) of the closed, not yet anonymised cases closed before
    ``closed_before`` whose window to appeal has passed."""
    closings = (select(CaseEvent.case_id, func.max(CaseEvent.at).label("closed_at"))
                .where(CaseEvent.action == "closed").group_by(CaseEvent.case_id).subquery())
    with factory() as session:
        rows = session.execute(
            select(Case.id, Case.reference, closings.c.closed_at).join(closings, closings.c.case_id == Case.id)
            .where(Case.status == "closed", Case.anonymised_at.is_(None), closings.c.closed_at <= closed_before)
            .order_by(Case.id)).all()
        return [(case_id, reference, closed_at) for case_id, reference, closed_at in rows
                if _appeal_until(session, case_id, closed_at) <= now]


def _appeal_until(session: Session, case_id: int, closed_at: datetime) -> datetime:
    event = session.execute(
        select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == "closed")
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(1)).scalar_one()
    try:
        until = datetime.fromisoformat(str((event.details or {})["appeal_until"]))
    except (KeyError, ValueError):
        return closed_at + timedelta(days=APPEAL_DAYS)
    return until if until.tzinfo else until.replace(tzinfo=timezone.utc)


def _anonymise(factory: sessionmaker, settings: Settings, case_id: int, closed_at: datetime, now: datetime) -> bool:
    """One case, in one transaction; False when it was anonymised (or reopened) meanwhile."""
    with factory() as session:
        claimed = session.execute(
            update(Case).where(Case.id == case_id, Case.status == "closed", Case.anonymised_at.is_(None))
            .values(anonymised_at=now).execution_options(synchronize_session=False)).rowcount
        if claimed != 1:
            session.rollback()
            return False
        case = session.get(Case, case_id)
        others = list(session.execute(select(Case).where(
            Case.conversation_id == case.conversation_id, Case.id != case.id, Case.anonymised_at.is_(None))).scalars())
        _scrub_case(case)
        _scrub_related(session, case)
        if not others:
            _forget_phone(session, case.conversation_id, closed_at)
        _forget_conversation(session, settings, case.conversation_id, closed_at, others)
        case.events.append(CaseEvent(at=now, actor="system", action="anonymised", details={}))
        audit.record(session, "retention", "case_anonymised", case.reference, now=now)
        session.commit()
        return True


def _scrub_case(case: Case) -> None:
    if case.area is None:
        case.area = postcode_district(case.address)
    for column in IDENTIFYING:
        setattr(case, column, None)
    for order in case.work_orders:
        order.location = None
    for referral in case.referrals:
        referral.outcome = None
    for assessment in case.assessments:
        assessment.answers, assessment.override_reason = {}, None
    for event in case.events:
        event.details = codes_only(event.details or {})


def codes_only(value: Any) -> Any:
    """``value`` with any text that is not a code, a reference or a date replaced: what a case
    event may keep once the case is anonymised (its details are codes; this makes sure)."""
    if isinstance(value, dict):
        return {k: codes_only(v) for k, v in value.items()}
    if isinstance(value, list):
        return [codes_only(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str) and (_CODE.match(value) or _DATE.match(value) or references.PATTERN.match(value)):
        return value
    return REMOVED


def _scrub_related(session: Session, case: Case) -> None:
    session.execute(delete(CaseNote).where(CaseNote.case_id == case.id))
    session.execute(delete(Evidence).where(Evidence.case_id == case.id))
    session.execute(update(Booking).where(Booking.case_id == case.id).values(phone=None, secret_hash=None)
                    .execution_options(synchronize_session=False))
    _blank_messages(session, OutboxMessage.case_id == case.id)


def _blank_messages(session: Session, which) -> None:
    unsent = OutboxMessage.status.in_(("pending", "held"))
    session.execute(update(OutboxMessage).where(which, unsent).values(status="cancelled", locked_until=None)
                    .execution_options(synchronize_session=False))
    session.execute(update(OutboxMessage).where(which).values(body="", recipient="anonymised")
                    .execution_options(synchronize_session=False))


def _forget_phone(session: Session, conversation_id: str, closed_at: datetime) -> None:
    """No other case uses this phone conversation: its contact row goes, and with it the replies
    sent to the number up to the closing, unless the number has written since (it is in use)."""
    contact = session.get(PhoneContact, conversation_id)
    if contact is None or (contact.last_inbound_at is not None and contact.last_inbound_at > closed_at):
        return
    _blank_messages(session, and_(OutboxMessage.case_id.is_(None), OutboxMessage.recipient == contact.number,
                                  OutboxMessage.transport == contact.channel, OutboxMessage.created_at <= closed_at))
    session.delete(contact)


def _forget_conversation(session: Session, settings: Settings, conversation_id: str, closed_at: datetime,
                         others: list[Case]) -> None:
    """Delete the conversation's events up to the closing. A phone conversation is shared by every
    report from the number: then the events from the start of another live case's conversation stay."""
    bind = session.get_bind()
    if engine_for(settings.tracker_database_url) is bind or make_url(settings.tracker_database_url) == bind.url:
        _delete_events(session.connection(), conversation_id, closed_at, others)
        return
    with engine_for(settings.tracker_database_url).begin() as conn:
        _delete_events(conn, conversation_id, closed_at, others)


def _delete_events(conn: Connection, conversation_id: str, closed_at: datetime, others: list[Case]) -> None:
    if not _has_events(conn):
        return
    keep_from = min((_session_start(conn, conversation_id, o.submitted_at) for o in others), default=float("inf"))
    query = "DELETE FROM events WHERE sender_id = :sender AND timestamp <= :closed"
    values = {"sender": conversation_id, "closed": closed_at.timestamp()}
    if keep_from != float("inf"):
        query += " AND timestamp < :keep_from"
        values["keep_from"] = keep_from
    conn.execute(text(query), values)


def _session_start(conn: Connection, conversation_id: str, reported_at: datetime) -> float:
    """When the conversation session in which a report was made began (Rasa's session_started)."""
    start = conn.execute(text(
        "SELECT MAX(timestamp) FROM events WHERE sender_id = :sender AND type_name = 'session_started' "
        "AND timestamp <= :at"), {"sender": conversation_id, "at": reported_at.timestamp()}).scalar()
    return float(start) if start is not None else (reported_at - SESSION_MARGIN).timestamp()


def purge(factory: sessionmaker, *, now: Optional[datetime] = None, days: int = INBOUND_KEEP_DAYS,
          dry_run: bool = False) -> dict[str, int]:
    """Delete what was only kept for a while, older than ``days``: handled inbound texts (their text
    is already cleared), and photos kept for a report that was never made. The counts, by kind."""
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    handled, received = InboundMessage.handled_at, InboundMessage.received_at
    done_texts = and_(InboundMessage.status == "done",
                      or_(handled < cutoff, and_(handled.is_(None), received < cutoff)))
    orphans = and_(Evidence.case_id.is_(None), Evidence.received_at < cutoff)
    with factory() as session:
        if dry_run:
            return {"inbound_messages": _count(session, InboundMessage.id, done_texts),
                    "evidence": _count(session, Evidence.id, orphans)}
        counts = {"inbound_messages": session.execute(delete(InboundMessage).where(done_texts)).rowcount,
                  "evidence": session.execute(delete(Evidence).where(orphans)).rowcount}
        session.commit()
        return counts


def _count(session: Session, column, where) -> int:
    return session.execute(select(func.count(column)).where(where)).scalar_one()


def run_daily(factory: sessionmaker, settings: Settings, stop: threading.Event, every: float = 86400.0) -> None:
    """Anonymise and purge at once, then every ``every`` seconds until ``stop`` is set (the outbox
    worker runs this in a thread of its own, so sending never waits for it)."""
    while True:
        try:
            done = anonymise_due(factory, settings)
            purged = purge(factory)
            log.info("retention: %d case(s) anonymised; %d handled text(s) and %d unclaimed file(s) deleted",
                     len(done), purged["inbound_messages"], purged["evidence"])
        except Exception as exc:  # noqa: BLE001 - retention must never stop the worker
            log.error("retention run failed (%s); trying again in %.0f s", type(exc).__name__, every)
        if stop.wait(every):
            return


def export_json(record: dict) -> bytes:
    """The subject access record as a pretty-printed JSON document."""
    return json.dumps(record, indent=2, ensure_ascii=False, sort_keys=False).encode("utf-8")

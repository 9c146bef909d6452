"""Booking a call with an officer, and changing or cancelling it (Karin 4.26-4.28, Karbon 3.4.3).

``book`` stores the booking, a line in the case's audit trail and the officer's notification
(outbox) in one transaction, plus, only when the person said texts to that number are safe, a
reminder sent ``REMINDER_HOURS`` before the call. The database refuses a second booking of an
officer's slot (bot/models.py); the loser gets ``SlotTaken`` and is offered other times. A call
booked before the report joins the case when the report is made (``attach_case``).

Notifications to officers carry the booking and case references, the time, how to make contact
and what is needed (same sex, ethnic origin, interpreter, BSL); never what the person reported,
their number or their secret word. The reminder is neutral (it does not say what it is about),
so it is safe on a shared phone.

To change or cancel later (in chat or by SMS), the person gives the booking or case reference
and a word only they know, kept as an argon2 hash: ``find_for_change`` checks it, counts wrong
ones, and after ``MAX_FAILED_CHECKS`` locks the booking against changes by chat (the officer is
told, and ``unlock`` undoes it). It answers the same, in about the same time, for a reference
that does not exist, a wrong word, and a locked booking.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Optional
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from babel import Locale
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot import outbox, references
from bot.booking.slots import (
    ANY_TIME,
    SAFE_PERIODS,
    SIGN_LANGUAGE,
    Needs,
    Offer,
    grid_of,
    interpreter_for,
    is_free,
    may_match,
)
from bot.cases import conversation_key
from bot.db import transaction
from bot.i18n import N_, spoken_time, translate
from bot.languages import supported
from bot.models import CONTACT_METHODS, UPDATE_FREQUENCIES, Booking, Case, CaseEvent, Officer, OutboxMessage, utcnow
from bot.settings import Settings

MAX_FAILED_CHECKS = 5
TOPIC = "booking"  # notifications to officers
REMINDER_TOPIC = "booking_reminder"  # the reminder text to the person
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{5,30}$")
_HOW = {
    "phone": "phone call",
    "video": "video call",
    "in_person": "in person, at a place that is safe for them (agree it when you call)",
    "sms": "text messages",
}


class SlotTaken(Exception):
    """The slot is no longer free (someone else took it, or it is no longer offered): offer again."""


class BookingNotFound(LookupError):
    """No booking with that reference that can still be changed."""


@dataclass(frozen=True)
class Booked:
    reference: str
    starts_at: datetime
    ends_at: datetime
    officer_name: str  # first name only
    interpreter: Optional[str]
    reminder_at: Optional[datetime] = None  # when the reminder text goes; None when none is sent
    created: bool = True  # False when this booking had been made already (a retried request)


@dataclass(frozen=True)
class BookingView:
    """A booking found for a change, with what is needed to offer other times."""

    reference: str
    case_reference: Optional[str]
    starts_at: datetime
    ends_at: datetime
    officer_name: str
    interpreter: Optional[str]
    contact_method: str
    needs: Needs  # as booked, with the case's safe times to call: offer other times with these
    first_contact_due: Optional[datetime]  # the case's, if there is a case


# --- The secret word -------------------------------------------------------------------------------

_hasher = PasswordHasher()


def _normalise_secret(secret: Optional[str]) -> str:
    """As a person may type it again: case, spacing and Unicode forms do not matter."""
    return unicodedata.normalize("NFKC", " ".join((secret or "").split())).casefold()


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return _hasher.hash("decoy: no booking has this")


def _verify(secret_hash: str, secret: str) -> bool:
    try:
        return _hasher.verify(secret_hash, _normalise_secret(secret))
    except (VerificationError, InvalidHashError):
        return False


# --- Helpers -------------------------------------------------------------------------------------------


def _key(booking: Booking, kind: str) -> str:
    """Names a notification of the booking as it is now (``revision`` changes when it moves)."""
    return f"booking:{booking.reference}:{booking.revision}:{kind}"


def _language_name(code: str) -> str:
    if code == SIGN_LANGUAGE:
        return "British Sign Language"
    return Locale("en").languages.get(code, code)


def _staff_time(starts_at: datetime, ends_at: datetime, settings: Settings) -> str:
    """For staff, unambiguous: local time with its zone, and UTC."""
    tz = ZoneInfo(settings.timezone)
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    utc = starts_at.astimezone(timezone.utc), ends_at.astimezone(timezone.utc)
    return (f"{start:%A} {start.day} {start:%B %Y}, {start:%H:%M}-{end:%H:%M} {start.tzname()} ({settings.timezone}); "
            f"{utc[0]:%H:%M}-{utc[1]:%H:%M} UTC")


def _needs_lines(booking: Booking, officer: Officer) -> list[str]:
    lines = []
    if booking.interpreter == SIGN_LANGUAGE:
        lines.append("Needs: a British Sign Language (BSL) interpreter - please book one for the call.")
    elif booking.interpreter:
        lines.append(f"Needs: a {_language_name(booking.interpreter)} interpreter - please book one for the call.")
    else:
        lines.append(f"Language: {_language_name(booking.language)} (you speak it; no interpreter).")
    lines.append("Asked for an officer of the same sex: " + ("yes" if booking.officer_sex_requested else "no"))
    if booking.ethnic_origin_requested:
        matched = officer.ethnic_origin == booking.ethnic_origin_requested
        lines.append("Asked for an officer of the same ethnic origin: yes" + ("" if matched else " (none was free)"))
    else:
        lines.append("Asked for an officer of the same ethnic origin: no")
    return lines


def _contact_lines(booking: Booking) -> list[str]:
    how = _HOW[booking.contact_method]
    if booking.contact_method in ("phone", "sms", "video"):
        if booking.phone:
            how += ", to the safe number in the booking record"
        else:
            how += " (no safe number given: check the case for how to reach them)"
    lines = [f"How: {how}."]
    if booking.contact_method == "phone":
        lines.append("Voicemail: " + ("may be left." if booking.voicemail_ok else "do NOT leave a voicemail."))
    lines.append(f"Updates they want: {booking.update_frequency.replace('_', ' ')}.")
    return lines


def _notify(session: Session, settings: Settings, officer: Officer, booking: Booking, kind: str, now: datetime,
            *, previous: Optional[tuple[datetime, datetime]] = None) -> None:
    """The officer's notification of a booking made (``booked``), moved in time (``moved``),
    moved to a colleague (``moved_away``), or cancelled (``cancelled``)."""
    when = _staff_time(booking.starts_at, booking.ends_at, settings)
    was = _staff_time(*previous, settings) if previous else ""
    if kind == "booked":
        subject, lines = f"Call booked with you: {booking.reference}", [f"When: {when}."]
    elif kind == "moved":
        subject, lines = f"Call moved: {booking.reference}", [f"Now: {when}.", f"Was: {was}."]
    elif kind == "moved_away":
        subject, lines = f"Call moved to a colleague: {booking.reference}", [f"You are no longer needed at {was}."]
    elif kind == "cancelled":
        subject, lines = f"Call cancelled: {booking.reference}", [f"Was: {when}. The person cancelled it."]
    else:
        raise ValueError(kind)
    if kind in ("booked", "moved"):
        lines += _contact_lines(booking) + _needs_lines(booking, officer)
    case_ref = booking.case.reference if booking.case is not None else "none yet (booked before a report)"
    outbox.enqueue(
        session,
        dedupe_key=_key(booking, kind),
        topic=TOPIC,
        contact=outbox.contact_setting(officer.contact, kind=f"officer-{officer.code}"),
        subject=subject,
        body="\n".join([subject, f"Case: {case_ref}", *lines]),
        case_id=booking.case_id,
        now=now,
    )


REMINDER = N_("Reminder: your appointment with {officer_name} is on {call_time}. Reply STOP to opt out.")


def _schedule_reminder(session: Session, settings: Settings, booking: Booking, officer: Officer,
                       now: datetime) -> Optional[datetime]:
    """Only when they said texts to that number are safe, and not for a call too soon for one;
    in the language of the call when it is one of ours (else English)."""
    if not booking.reminders_ok or not booking.phone:
        return None
    at = booking.starts_at - timedelta(hours=settings.reminder_hours)
    if at <= now:
        return None
    # Neutral on purpose: nothing says what the call is about (a shared phone is read by others).
    language = supported(booking.language)
    when = spoken_time(booking.starts_at, language, settings)
    message = outbox.enqueue(
        session,
        dedupe_key=_key(booking, "reminder"),
        topic=REMINDER_TOPIC,
        contact=outbox.Contact("sms", booking.phone),
        body=translate(REMINDER, language).format(officer_name=officer.first_name, call_time=when),
        case_id=booking.case_id,
        now=now,
    )
    if message is None:
        return None
    message.next_attempt_at = at
    return at


def _event(session: Session, booking: Booking, action: str, actor: str, now: datetime, **details) -> None:
    if booking.case_id is not None:
        session.add(CaseEvent(case_id=booking.case_id, at=now, actor=actor, action=action,
                              details={"booking": booking.reference, **details}))


def _booked(booking: Booking, officer: Officer, *, reminder_at: Optional[datetime] = None,
            created: bool = True) -> Booked:
    return Booked(booking.reference, booking.starts_at, booking.ends_at, officer.first_name, booking.interpreter,
                  reminder_at, created)


def _pending_reminder_at(session: Session, booking: Booking) -> Optional[datetime]:
    return session.execute(
        select(OutboxMessage.next_attempt_at).where(OutboxMessage.dedupe_key == _key(booking, "reminder"),
                                                    OutboxMessage.status == "pending")
    ).scalar_one_or_none()


def _needs_of(booking: Booking, *, safe_times: bool = False) -> Needs:
    """What the booking was made for; with ``safe_times``, also the case's safe times to call
    (from the safety check), to offer other times by."""
    times: tuple[str, ...] = ()
    if safe_times and booking.case is not None and isinstance(booking.case.safe_times, list):
        times = tuple(t for t in booking.case.safe_times if t in SAFE_PERIODS or t == ANY_TIME)
    return Needs(booking.language, booking.officer_sex_requested, booking.ethnic_origin_requested, times)


def _lock(session: Session, reference: Optional[str], now: datetime) -> Booking:
    """The booking, locked for this transaction: a write first (a row lock on PostgreSQL, the
    write lock on SQLite), so two changes of one booking run one after the other."""
    ref = references.normalise(reference or "")
    if ref is None or not session.execute(
        update(Booking).where(Booking.reference == ref).values(updated_at=now).execution_options(synchronize_session=False)
    ).rowcount:
        raise BookingNotFound(reference)
    return session.execute(select(Booking).where(Booking.reference == ref)).scalar_one()


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} is one of {', '.join(allowed)}, got {value!r}")


def _check_offer(offer: Offer, needs: Needs, officer: Optional[Officer]) -> Officer:
    if officer is None or not officer.active:
        raise SlotTaken("the officer no longer takes calls")
    if not may_match(officer.sex, needs):  # never: offers() does not make such an offer
        raise ValueError("this offer is with an officer of another sex than the one asked for")
    return officer


# --- Booking ---------------------------------------------------------------------------------------------


def book(
    factory: sessionmaker,
    settings: Settings,
    *,
    case_reference: Optional[str],
    conversation_id: str,
    offer: Offer,
    needs: Needs,
    contact_method: str,
    phone: Optional[str],
    voicemail_ok: Optional[bool],
    reminders_ok: Optional[bool],
    update_frequency: str,
    secret: Optional[str],
    now: Optional[datetime] = None,
    actor: str = "reporter:chat",
) -> Booked:
    """Book the offered call. ``SlotTaken`` when it has gone meanwhile; the same booking again
    (``created=False``) when this conversation already booked this very slot (a retried request).

    ``case_reference`` must be a case of this conversation (or None, before any report);
    ``phone`` is the number that is safe to use; ``secret`` a word only they know, for changing
    the booking later (None: it can only be changed through an officer)."""
    now = now or utcnow()
    _check_choice("contact_method", contact_method, CONTACT_METHODS)
    _check_choice("update_frequency", update_frequency, UPDATE_FREQUENCIES)
    phone = " ".join(phone.split()) if phone else None
    if phone is not None and not _PHONE.match(phone):
        raise ValueError("phone is a telephone number")
    normalised = _normalise_secret(secret)
    secret_hash = _hasher.hash(normalised) if normalised else None  # slow on purpose: outside the transaction
    conversation = conversation_key(conversation_id)
    call = timedelta(seconds=grid_of(settings).call)

    def attempt(session: Session) -> Booked:
        officer = _check_offer(offer, needs, session.get(Officer, offer.officer_id))
        case = None
        if case_reference:
            case = session.execute(select(Case).where(
                Case.reference == references.normalise(case_reference), Case.conversation_id == conversation)
            ).scalar_one_or_none()
            if case is None:
                raise ValueError("no case with that reference in this conversation")
        held = session.execute(select(Booking).where(
            Booking.officer_id == officer.id, Booking.starts_at == offer.starts_at, Booking.status == "booked")
        ).scalar_one_or_none()
        if held is not None:
            if held.conversation_id == conversation:
                return _booked(held, officer, reminder_at=_pending_reminder_at(session, held), created=False)
            raise SlotTaken("booked by someone else")
        if not is_free(session, settings, officer.id, offer.starts_at, needs, now=now):
            raise SlotTaken("no longer free")
        booking = Booking(
            reference=references.new_reference(),
            case_id=case.id if case else None,
            case=case,
            conversation_id=conversation,
            officer_id=officer.id,
            starts_at=offer.starts_at,
            ends_at=offer.starts_at + call,
            status="booked",
            revision=1,
            contact_method=contact_method,
            phone=phone,
            voicemail_ok=bool(voicemail_ok),
            reminders_ok=bool(reminders_ok),
            update_frequency=update_frequency,
            officer_sex_requested=needs.officer_sex,
            ethnic_origin_requested=needs.ethnic_origin,
            language=needs.language,
            interpreter=interpreter_for(officer.languages, needs),
            secret_hash=secret_hash,
            failed_checks=0,
            created_at=now,
            updated_at=now,
        )
        session.add(booking)
        session.flush()  # the unique index on (officer, start) of booked calls decides here
        _event(session, booking, "call_booked", actor, now, **_event_details(booking, officer))
        _notify(session, settings, officer, booking, "booked", now)
        reminder_at = _schedule_reminder(session, settings, booking, officer, now)
        return _booked(booking, officer, reminder_at=reminder_at)

    for _ in range(3):
        try:
            with transaction(factory) as session:
                return attempt(session)
        except IntegrityError:
            pass
        # Refused: the slot was taken at the same moment (or, rarely, a reference drawn twice).
        with factory() as session:
            holder = session.execute(select(Booking.conversation_id).where(
                Booking.officer_id == offer.officer_id, Booking.starts_at == offer.starts_at,
                Booking.status == "booked")).scalar_one_or_none()
        if holder is not None and holder != conversation:
            raise SlotTaken("booked by someone else")
    raise RuntimeError("could not store the booking after several attempts")


def _event_details(booking: Booking, officer: Officer) -> dict:
    return {
        "starts_at": booking.starts_at.isoformat(),
        "officer": officer.code,
        "contact_method": booking.contact_method,
        "interpreter": booking.interpreter,
        "same_sex_requested": booking.officer_sex_requested is not None,
        "same_ethnic_origin_requested": booking.ethnic_origin_requested is not None,
        "same_ethnic_origin": booking.ethnic_origin_requested is not None
        and officer.ethnic_origin == booking.ethnic_origin_requested,
        "update_frequency": booking.update_frequency,
        "reminders": booking.reminders_ok,
    }


def attach_case(factory: sessionmaker, *, conversation_id: str, case_reference: str,
                now: Optional[datetime] = None) -> list[str]:
    """A call booked before the report (straight away, when they asked for a person) joins the
    case the report made: each booked call of this conversation without a case gets it, the
    case's trail records it and the officer is told the case reference. The references joined."""
    now = now or utcnow()
    conversation = conversation_key(conversation_id)
    with transaction(factory) as session:
        case = session.execute(select(Case).where(
            Case.reference == references.normalise(case_reference or ""), Case.conversation_id == conversation)
        ).scalar_one_or_none()
        if case is None:
            raise ValueError("no case with that reference in this conversation")
        joined = []
        for booking in session.execute(select(Booking).where(
                Booking.conversation_id == conversation, Booking.case_id.is_(None), Booking.status == "booked")
        ).scalars():
            booking.case = case
            session.flush()
            _event(session, booking, "call_booked", "reporter:chat", now, **_event_details(booking, booking.officer))
            subject = f"Call {booking.reference}: now with case {case.reference}"
            outbox.enqueue(
                session,
                dedupe_key=_key(booking, "case"),
                topic=TOPIC,
                contact=outbox.contact_setting(booking.officer.contact, kind=f"officer-{booking.officer.code}"),
                subject=subject,
                body=f"{subject}\nThe person has made a report since booking the call: see the case before it.",
                case_id=case.id,
                now=now,
            )
            joined.append(booking.reference)
        return joined


# --- Finding a booking to change -------------------------------------------------------------------


def _changeable(session: Session, ref: str, now: datetime) -> Optional[Booking]:
    """By booking reference, else the soonest upcoming booking of the case with that reference."""
    upcoming = (Booking.status == "booked", Booking.ends_at > now)
    booking = session.execute(select(Booking).where(Booking.reference == ref, *upcoming)).scalar_one_or_none()
    if booking is None:
        booking = session.execute(
            select(Booking).join(Case, Booking.case_id == Case.id)
            .where(Case.reference == ref, *upcoming).order_by(Booking.starts_at).limit(1)
        ).scalar_one_or_none()
    return booking


def find_for_change(factory: sessionmaker, *, reference: Optional[str], secret: Optional[str],
                    now: Optional[datetime] = None) -> Optional[BookingView]:
    """The upcoming booking with this booking or case reference, when ``secret`` is its word;
    else None, the same for every reason (no such booking, a wrong word, locked).

    Each check is counted before the word is verified, so no number of checks at once can try
    more than ``MAX_FAILED_CHECKS`` words; the right word starts the count afresh. The check
    that reaches the limit locks the booking against changes by chat and tells the officer."""
    now = now or utcnow()
    ref = references.normalise(reference or "")
    claimed: Optional[tuple[int, str, int]] = None
    if ref is not None and _normalise_secret(secret):
        with transaction(factory) as session:
            booking = _changeable(session, ref, now)
            if booking is not None and booking.secret_hash and session.execute(
                update(Booking).where(Booking.id == booking.id, Booking.failed_checks < MAX_FAILED_CHECKS)
                .values(failed_checks=Booking.failed_checks + 1).execution_options(synchronize_session=False)
            ).rowcount:
                session.refresh(booking)
                claimed = (booking.id, booking.secret_hash, booking.failed_checks)
    if claimed is None:
        _verify(_decoy_hash(), secret or "")  # the same work as a real check
        return None
    booking_id, secret_hash, checks = claimed
    if not _verify(secret_hash, secret or ""):
        if checks >= MAX_FAILED_CHECKS:
            _tell_locked(factory, booking_id, now)
        return None
    with transaction(factory) as session:
        session.execute(update(Booking).where(Booking.id == booking_id).values(failed_checks=0)
                        .execution_options(synchronize_session=False))
        booking = session.get(Booking, booking_id)
        if booking.status != "booked":  # cancelled meanwhile
            return None
        if _hasher.check_needs_rehash(secret_hash):
            booking.secret_hash = _hasher.hash(_normalise_secret(secret))
        return BookingView(
            reference=booking.reference,
            case_reference=booking.case.reference if booking.case else None,
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            officer_name=booking.officer.first_name,
            interpreter=booking.interpreter,
            contact_method=booking.contact_method,
            needs=_needs_of(booking, safe_times=True),
            first_contact_due=booking.case.first_contact_due_at if booking.case else None,
        )


def _tell_locked(factory: sessionmaker, booking_id: int, now: datetime) -> None:
    with transaction(factory) as session:
        booking = session.get(Booking, booking_id)
        _event(session, booking, "booking_locked", "system", now, failed_checks=MAX_FAILED_CHECKS)
        subject = f"Booking locked: {booking.reference}"
        outbox.enqueue(
            session,
            dedupe_key=f"booking:{booking.reference}:locked:{now.isoformat()}",
            topic=TOPIC,
            contact=outbox.contact_setting(booking.officer.contact, kind=f"officer-{booking.officer.code}"),
            subject=subject,
            body="\n".join([
                subject,
                f"Case: {booking.case.reference if booking.case else 'none'}",
                f"{MAX_FAILED_CHECKS} wrong secret words were given to change or cancel this call, so it can no "
                "longer be changed by chat or text. Someone else may have the reference: contact the person by "
                "the agreed safe method, and unlock it once you have spoken to them.",
            ]),
            case_id=booking.case_id,
            now=now,
        )


def unlock(factory: sessionmaker, *, booking_reference: str, officer: str, now: Optional[datetime] = None) -> None:
    """An officer lets the person change the booking by chat again (the count starts afresh)."""
    now = now or utcnow()
    with transaction(factory) as session:
        booking = _lock(session, booking_reference, now)
        booking.failed_checks = 0
        _event(session, booking, "booking_unlocked", officer, now)


# --- Cancelling and moving ---------------------------------------------------------------------------


def cancel(factory: sessionmaker, settings: Settings, *, booking_reference: str, now: Optional[datetime] = None,
           actor: str = "reporter:chat") -> bool:
    """Cancel the booking: the slot is free again, its reminder withdrawn, the officer told.
    True when cancelled now, False when it was already; ``BookingNotFound`` for no such booking."""
    now = now or utcnow()
    with transaction(factory) as session:
        booking = _lock(session, booking_reference, now)
        if booking.status == "cancelled":
            return False
        booking.status = "cancelled"
        booking.cancelled_at = now
        outbox.cancel_pending(session, _key(booking, "reminder"))
        _notify(session, settings, booking.officer, booking, "cancelled", now)
        _event(session, booking, "call_cancelled", actor, now, starts_at=booking.starts_at.isoformat())
        return True


def reschedule(factory: sessionmaker, settings: Settings, *, booking_reference: str, offer: Offer,
               now: Optional[datetime] = None, actor: str = "reporter:chat") -> Booked:
    """Move the booking to another offered slot, at once: the new slot is taken and the old one
    freed together, or ``SlotTaken`` and nothing changes. The reference stays; the reminder
    moves with the call; the officer (both officers, when it moves to a colleague) is told."""
    now = now or utcnow()
    call = timedelta(seconds=grid_of(settings).call)
    try:
        with transaction(factory) as session:
            booking = _lock(session, booking_reference, now)
            if booking.status != "booked":
                raise BookingNotFound(booking_reference)
            old_officer = booking.officer
            if booking.officer_id == offer.officer_id and booking.starts_at == offer.starts_at:
                return _booked(booking, old_officer, reminder_at=_pending_reminder_at(session, booking), created=False)
            needs = _needs_of(booking)
            officer = _check_offer(offer, needs, session.get(Officer, offer.officer_id))
            if not is_free(session, settings, officer.id, offer.starts_at, needs, now=now, exclude_booking=booking.id):
                raise SlotTaken("no longer free")
            previous = (booking.starts_at, booking.ends_at)
            outbox.cancel_pending(session, _key(booking, "reminder"))
            booking.officer = officer
            booking.starts_at = offer.starts_at
            booking.ends_at = offer.starts_at + call
            booking.interpreter = interpreter_for(officer.languages, needs)
            booking.revision += 1
            session.flush()  # the unique index decides here
            if officer.id == old_officer.id:
                _notify(session, settings, officer, booking, "moved", now, previous=previous)
            else:
                _notify(session, settings, old_officer, booking, "moved_away", now, previous=previous)
                _notify(session, settings, officer, booking, "booked", now)
            reminder_at = _schedule_reminder(session, settings, booking, officer, now)
            _event(session, booking, "call_rescheduled", actor, now, previous_starts_at=previous[0].isoformat(),
                   **_event_details(booking, officer))
            return _booked(booking, officer, reminder_at=reminder_at)
    except IntegrityError:
        raise SlotTaken("booked by someone else at the same moment") from None

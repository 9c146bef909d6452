"""The case service: creating a case, flagging immediate risk, the safety check.

``submit_report`` is idempotent on the report's id, so a retried submit (a
double tap, a retried webhook, a lost reply) finds the case it already made.
``flag_immediate_risk`` makes (or finds) the case the moment someone says they are in
danger, even with the report unfinished; the finished report later completes it.
Every change re-applies the referral rules (bot/referrals.py), whose notifications
go to the outbox in the same transaction.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Optional, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot import outbox, references, referrals
from bot.areas import postcode_district
from bot.channels.phone import link_evidence
from bot.console import audit
from bot.consent import WORDINGS
from bot.models import Case, CaseEvent, Consent, RiskAssessment, WorkOrder
from bot.report.questions import SKIPPED, SLOTS, is_anonymous, relevant_answers
from bot.safety import check
from bot.settings import Settings
from bot.sla import clocks_from

# A new danger message on a case whose on-call alert is older than this alerts again.
REALERT_AFTER = timedelta(minutes=15)

# Answers stored as yes/no booleans on the case.
_BOOLEAN_ANSWERS = ("graffiti", "home_insecure")
# Answers stored with a shape of their own (see _case_fields); every other question is stored
# as it is (text, a choice, or a list of choices) in the column of its name.
_SHAPED_ANSWERS = (*_BOOLEAN_ANSWERS, "incident_when", "contact", *WORDINGS)
_PLAIN_ANSWERS = tuple(slot for slot in SLOTS if slot not in _SHAPED_ANSWERS)


@dataclass(frozen=True)
class Submission:
    reference: str
    created: bool  # False when this report had already been submitted
    anonymous: bool
    has_contact: bool
    first_contact_due_at: datetime
    graffiti_removal_due_at: Optional[datetime]
    emergency_repair_due_at: Optional[datetime]
    repair_needs_location: bool = False
    told: tuple[str, ...] = ()  # referrals raised now that the person is told of (responses)

    @property
    def next_steps(self) -> list[str]:
        """What the person is told happens next, in order (each has a response in domain.yml)."""
        steps = ["anonymous" if self.anonymous else "first_contact" if self.has_contact else "no_contact"]
        if self.graffiti_removal_due_at:
            steps.append("graffiti")
        if self.emergency_repair_due_at:
            steps.append("emergency_repair_needs_address" if self.repair_needs_location else "emergency_repair")
        steps.append("come_back")
        return steps


def _incident_when(value: Any) -> tuple[Optional[date], Optional[str]]:
    if not value or value == SKIPPED:
        return None, None
    try:
        return date.fromisoformat(value), None
    except (TypeError, ValueError):
        return None, str(value)


def _case_fields(answers: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for slot in _PLAIN_ANSWERS:
        value = answers.get(slot)
        fields[slot] = None if value == SKIPPED else value
    for slot in _BOOLEAN_ANSWERS:
        value = answers.get(slot)
        fields[slot] = None if value in (None, SKIPPED) else value == "yes"
    fields["incident_date"], fields["incident_period"] = _incident_when(answers.get("incident_when"))
    contact = answers.get("contact")
    contact = contact if isinstance(contact, dict) else {}
    fields["contact_phone"] = contact.get("phone")
    fields["contact_email"] = contact.get("email")
    fields["anonymous"] = is_anonymous(answers)
    fields["area"] = postcode_district(fields.get("address"))
    fields["skipped"] = sorted(s for s, v in answers.items() if v == SKIPPED)
    return fields


def _consents(answers: Mapping[str, Any], log: Mapping[str, Any], language: str, now: datetime) -> list[Consent]:
    rows = []
    for slot, wording in WORDINGS.items():
        answer = answers.get(slot)
        given = (log or {}).get(slot) or {}
        rows.append(
            Consent(
                scope=wording.scope,
                granted=answer == "yes",
                answered=answer in ("yes", "no"),
                wording_version=given.get("version", wording.version),
                wording_sha256=given.get("sha256", wording.sha256),
                language=given.get("language", language),
                recorded_at=datetime.fromisoformat(given["at"]) if given.get("at") else now,
            )
        )
    return rows


def _submission(case: Case, created: bool, told: tuple[str, ...] = ()) -> Submission:
    orders = {o.kind: o for o in case.work_orders}
    return Submission(
        reference=case.reference,
        created=created,
        anonymous=case.anonymous,
        has_contact=bool(case.contact_phone or case.contact_email),
        first_contact_due_at=case.first_contact_due_at,
        graffiti_removal_due_at=orders["graffiti_removal"].due_at if "graffiti_removal" in orders else None,
        emergency_repair_due_at=orders["emergency_repair"].due_at if "emergency_repair" in orders else None,
        repair_needs_location="emergency_repair" in orders and not orders["emergency_repair"].location,
        told=told,
    )


def _existing(session: Session, report_id: str) -> Optional[Case]:
    return session.execute(select(Case).where(Case.report_id == report_id)).scalar_one_or_none()


T = TypeVar("T")


def _retrying(factory: sessionmaker, attempts: int, work: Callable[[Session], T]) -> T:
    """Run ``work`` in a fresh session until its commit succeeds: a unique constraint hit
    means the same thing was done at the same moment (found on the next pass) or a random
    reference was taken (a new one is drawn)."""
    for _ in range(attempts):
        with factory() as session:
            try:
                return work(session)
            except IntegrityError:
                session.rollback()
    raise RuntimeError("could not store the case after several attempts")


def _case_by_reference(session: Session, reference: Optional[str], conversation_id: str) -> Optional[Case]:
    """The case of this reference, only from the conversation that made it."""
    if not reference:
        return None
    return session.execute(
        select(Case).where(Case.reference == reference, Case.conversation_id == conversation_key(conversation_id))
    ).scalar_one_or_none()


def submit_report(
    factory: sessionmaker,
    settings: Settings,
    *,
    report_id: str,
    conversation_id: str,
    channel: str,
    language: str,
    answers: Mapping[str, Any],
    consent_log: Optional[Mapping[str, Any]] = None,
    immediate_risk: bool = False,
    now: Optional[datetime] = None,
    attempts: int = 5,
) -> Submission:
    """Create the case for a finished report (or find the one already made for it, or
    complete the one a danger message made while the report was unfinished)."""
    now = now or datetime.now(timezone.utc)
    answers = relevant_answers(answers)

    def work(session: Session) -> Submission:
        found = _existing(session, report_id)
        if found is not None and found.status != INCOMPLETE:
            return _submission(found, created=False)
        if found is None:
            case = _new_case(answers, consent_log or {}, report_id, conversation_id, channel, language, now, settings)
            session.add(case)
        else:
            case = found
            _complete(case, answers, consent_log or {}, language, now, settings)
        case.immediate_risk = case.immediate_risk or immediate_risk
        referrals.raise_referrals(session, case, case_facts(case), settings, now)
        _notify_work_orders(session, case, settings, now)
        told = referrals.tell(case, now)
        session.flush()
        link_evidence(session, case)
        session.commit()
        return _submission(case, created=True, told=told)

    return _retrying(factory, attempts, work)


INCOMPLETE = "incomplete"  # made by a danger message before the report was finished


@dataclass(frozen=True)
class Flagged:
    reference: str
    created: bool  # a new case was made for it
    alerted: bool  # the on-call officer is being told now


def flag_immediate_risk(
    factory: sessionmaker,
    settings: Settings,
    *,
    conversation_id: str,
    channel: str,
    language: str,
    report_id: str,
    answers: Mapping[str, Any],
    consent_log: Optional[Mapping[str, Any]] = None,
    case_reference: Optional[str] = None,
    signs: tuple[str, ...] = (),
    now: Optional[datetime] = None,
    attempts: int = 5,
) -> Flagged:
    """Someone said they are in danger now: flag their case at once, making it from the
    answers so far if the report is unfinished, and alert the on-call officer (again, if
    the last alert is older than REALERT_AFTER)."""
    now = now or datetime.now(timezone.utc)
    answers = relevant_answers(answers)

    def work(session: Session) -> Flagged:
        case = _case_by_reference(session, case_reference, conversation_id) or _existing(session, report_id)
        created = case is None
        if created:
            case = _new_case(answers, consent_log or {}, report_id, conversation_id, channel, language, now, settings)
            case.status = INCOMPLETE
            session.add(case)
        elif case.status == INCOMPLETE:
            _update_unfinished(case, answers, consent_log or {}, language, now, settings)
        first = not case.immediate_risk
        case.immediate_risk = True
        case.immediate_risk_at = case.immediate_risk_at or now
        case.events.append(
            CaseEvent(at=now, actor=f"reporter:{channel[:20]}", action="immediate_risk", details={"signs": list(signs)})
        )
        new = referrals.raise_referrals(session, case, case_facts(case), settings, now, only=referrals.AT_ONCE)
        alerted = any(r.kind == "on_call_alert" for r in new) or (not first and _realert(session, case, settings, now))
        _notify_work_orders(session, case, settings, now)
        session.commit()
        return Flagged(case.reference, created, alerted)

    return _retrying(factory, attempts, work)


def save_unfinished(
    factory: sessionmaker,
    settings: Settings,
    *,
    report_id: str,
    conversation_id: str,
    language: str,
    answers: Mapping[str, Any],
    consent_log: Optional[Mapping[str, Any]] = None,
    now: Optional[datetime] = None,
    attempts: int = 5,
) -> Optional[str]:
    """Keep the answers given so far in the case a danger message made for this unfinished
    report (when they stop, or pause to carry on later). Returns its reference, or None when
    there is no such case (an unflagged unfinished report is not stored)."""
    now = now or datetime.now(timezone.utc)
    answers = relevant_answers(answers)

    def work(session: Session) -> Optional[str]:
        case = _existing(session, report_id)
        if case is None or case.status != INCOMPLETE or case.conversation_id != conversation_key(conversation_id):
            return None
        _update_unfinished(case, answers, consent_log or {}, language, now, settings)
        _notify_work_orders(session, case, settings, now)
        session.commit()
        return case.reference

    return _retrying(factory, attempts, work)


def _realert(session: Session, case: Case, settings: Settings, now: datetime) -> bool:
    alert = next((r for r in case.referrals if r.kind == "on_call_alert"), None)
    if alert is None or now - alert.updated_at < REALERT_AFTER:
        return False
    alert.updated_at = now
    rule = referrals.BY_KIND["on_call_alert"]
    outbox.enqueue(
        session,
        dedupe_key=f"referral:{alert.id}:{now.isoformat()}",
        topic="on_call_alert",
        contact=referrals.contact_for(session, "on_call_alert", settings),
        subject=f"{rule.label}: case {case.reference}",
        body=referrals.notification(case, rule.label + " (again)", now, case.risk_level),
        case_id=case.id,
        now=now,
    )
    return True


@dataclass(frozen=True)
class CallContact:
    """How an officer may reach them, from the case: the safe number and voicemail."""

    phone: Optional[str] = None
    voicemail_ok: Optional[bool] = None
    first_contact_due_at: Optional[datetime] = None
    safe_times: tuple[str, ...] = ()  # morning | afternoon | evening | any, from the safety check


def call_contact(factory: sessionmaker, *, case_reference: Optional[str], conversation_id: str) -> CallContact:
    """The number the officer may use: a safer one they gave in the safety check, else the
    contact number of the report unless they said it is not safe."""
    with factory() as session:
        case = _case_by_reference(session, case_reference, conversation_id)
        if case is None:
            return CallContact()
        other = case.safe_contact_other if (case.safe_contact_other or "").startswith("+") else None
        phone = other or (case.contact_phone if case.safe_to_contact is not False else None)
        times = tuple(t for t in (case.safe_times or []) if t != "any")
        return CallContact(phone, case.voicemail_ok, case.first_contact_due_at, times)


@dataclass(frozen=True)
class SafetyResult:
    reference: str
    assessment: Optional[check.Assessment]  # None when no risk question was answered
    told: tuple[str, ...]  # referrals raised now that the person is told of (responses)


def record_safety_check(
    factory: sessionmaker,
    settings: Settings,
    *,
    case_reference: str,
    conversation_id: str,
    answers: Mapping[str, Any],
    now: Optional[datetime] = None,
    attempts: int = 5,
) -> SafetyResult:
    """Score the safety check with the case's report, store it with its reasons, keep how
    to reach them safely, and raise the referrals the level calls for."""
    now = now or datetime.now(timezone.utc)

    def work(session: Session) -> SafetyResult:
        case = _case_by_reference(session, case_reference, conversation_id)
        if case is None:
            raise LookupError("no such case for this conversation")
        own = {s: answers.get(s) for s in check.SLOTS if answers.get(s) is not None}
        scored = check.assess(check.with_facts(own, _report_facts(case)))
        _keep_safe_contact(case, own)
        if own.get("safe_to_talk") == "no":
            case.events.append(CaseEvent(at=now, actor="reporter:chat", action="not_safe_to_talk", details={}))
        if not scored.answered and not scored.escalators:
            # Nothing to score on: no level is better than a "standard" that means nothing.
            session.commit()
            return SafetyResult(case.reference, None, ())
        case.assessments.append(
            RiskAssessment(
                matrix_version=scored.matrix_version, answers=own, score=scored.score, scored_level=scored.level,
                reasons=[{"reason": r, "points": p} for r, p in scored.reasons], escalators=list(scored.escalators),
                assessed_at=now, assessed_by="reporter:chat",
            )
        )
        overridden = [a.override_level for a in case.assessments if a.override_level]
        # an officer's override stands unless the new check finds more risk
        case.risk_level = check.higher(scored.level, overridden[-1]) if overridden else scored.level
        case.events.append(
            CaseEvent(at=now, actor="reporter:chat", action="safety_check",
                      details={"level": scored.level, "score": scored.score, "version": scored.matrix_version})
        )
        referrals.raise_referrals(session, case, case_facts(case), settings, now)
        told = referrals.tell(case, now)
        session.commit()
        return SafetyResult(case.reference, scored, told)

    return _retrying(factory, attempts, work)


def override_risk(
    factory: sessionmaker, settings: Settings, *, case_reference: str, level: str, reason: str, officer: str,
    now: Optional[datetime] = None,
) -> list[str]:
    """An officer sets the risk level, with a reason; the scored level is kept beside it.
    Returns the kinds of referral the new level raised."""
    if level not in check.LEVELS:
        raise ValueError(f"level must be one of {', '.join(check.LEVELS)}")
    if not reason.strip():
        raise ValueError("an override needs a reason")
    now = now or datetime.now(timezone.utc)
    with factory() as session:
        case = session.execute(select(Case).where(Case.reference == case_reference)).scalar_one()
        latest = case.assessments[-1] if case.assessments else None
        if latest is None:
            latest = RiskAssessment(matrix_version="officer", answers={}, score=0, scored_level="standard",
                                    reasons=[], escalators=[], assessed_at=now, assessed_by=officer)
            case.assessments.append(latest)
        previous = case.risk_level
        latest.override_level, latest.override_reason = level, reason.strip()
        latest.override_by, latest.override_at = officer, now
        case.risk_level = level
        case.events.append(CaseEvent(at=now, actor=officer, action="risk_override",
                                     details={"from": previous, "to": level}))
        new = referrals.raise_referrals(session, case, case_facts(case), settings, now)
        audit.record(session, officer, "risk_overridden", case.reference, {"from": previous, "to": level}, now=now)
        session.commit()
        return [r.kind for r in new]


def _report_facts(case: Case) -> dict[str, Any]:
    report = {
        "frequency": case.frequency, "ongoing": case.ongoing, "location": case.location,
        "motivation": case.motivation, "incident_type": case.incident_type, "vulnerable": case.vulnerable,
        "home_insecure": None if case.home_insecure is None else ("yes" if case.home_insecure else "no"),
    }
    return check.facts(report, has_contact=bool(case.contact_phone or case.contact_email),
                       immediate_risk=bool(case.immediate_risk))


def case_facts(case: Case) -> referrals.Facts:
    """What the referral rules see of a case: its report, its latest safety check, its consents."""
    answers = _report_facts(case)
    if case.assessments:
        answers.update(case.assessments[-1].answers or {})
    granted = {c.scope for c in case.consents if c.granted}
    return referrals.Facts(
        immediate_risk=bool(case.immediate_risk),
        level=case.risk_level,
        answers=answers,
        consent_police="police" in granted,
        consent_agencies="other_agencies" in granted,
    )


def _keep_safe_contact(case: Case, answers: Mapping[str, Any]) -> None:
    def value(slot: str) -> Any:
        v = answers.get(slot)
        return None if v in (None, SKIPPED) else v

    if value("safe_contact") is not None:
        case.safe_to_contact = value("safe_contact") == "yes"
    other = value("safe_contact_other")
    if isinstance(other, dict):
        other = other.get("phone") or other.get("email")
    case.safe_contact_other = other or case.safe_contact_other
    case.safe_times = value("safe_times") or case.safe_times
    if value("voicemail_ok") is not None:
        case.voicemail_ok = value("voicemail_ok") == "yes"
    case.code_word = value("code_word") or case.code_word


def _notify_work_orders(session: Session, case: Case, settings: Settings, now: datetime) -> None:
    """Tell the repairs team of each work order (reference, kind, due time; no report text)."""
    if not case.work_orders:
        return
    session.flush()
    contact = outbox.contact_setting(settings.repairs_contact, kind="repairs")
    for order in case.work_orders:
        label = order.kind.replace("_", " ").capitalize()
        where = "" if order.location else " (location to be confirmed)"
        outbox.enqueue(
            session, dedupe_key=f"work_order:{order.id}", topic=order.kind, contact=contact,
            subject=f"{label}: case {case.reference}",
            body=referrals.notification(case, label + where, order.due_at, case.risk_level),
            case_id=case.id, now=now,
        )


def conversation_key(sender_id: str) -> str:
    """The conversation's id as stored with the case; an over-long one (a channel can send any
    string) is stored as its hash, so the case can still be made and matched."""
    if len(sender_id) <= 128:
        return sender_id
    return "sha256:" + hashlib.sha256(sender_id.encode("utf-8")).hexdigest()


def _new_case(answers, consent_log, report_id, conversation_id, channel, language, now, settings) -> Case:
    clocks = clocks_from(now, settings)
    case = Case(
        reference=references.new_reference(),
        report_id=report_id,
        conversation_id=conversation_key(conversation_id),
        channel=channel[:20],
        language=language[:5],
        status="new",
        submitted_at=now,
        first_contact_due_at=clocks.first_contact_due_at,
        review_due_at=clocks.review_due_at,
        **_case_fields(answers),
    )
    case.consents = _consents(answers, consent_log, language, now)
    _add_work_orders(case, clocks, now)
    case.events.append(_created_event(case, answers, channel, now))
    return case


def _update_unfinished(case: Case, answers, consent_log, language: str, now: datetime, settings: Settings) -> None:
    """The answers so far, into the case a danger message made (it stays unfinished). Only what
    they have answered is written: nothing already kept is blanked."""
    if not any(v is not None for v in answers.values()):
        return
    for name, value in _case_fields(answers).items():
        if value is None or (name == "anonymous" and answers.get("reporter_role") is None):
            continue
        setattr(case, name, value)
    case.language = language[:5]
    case.consents = _consents(answers, consent_log, language, now)
    _add_work_orders(case, clocks_from(case.submitted_at, settings), now)
    case.events.append(_created_event(case, answers, case.channel, now, action="answers_kept"))


def _complete(case: Case, answers, consent_log, language: str, now: datetime, settings: Settings) -> None:
    """The report a danger message started is finished: fill in the case it made."""
    for name, value in _case_fields(answers).items():
        setattr(case, name, value)
    case.language = language[:5]
    case.status = "new"
    case.submitted_at = now
    clocks = clocks_from(now, settings)
    case.review_due_at = clocks.review_due_at  # first contact stays due from the danger message (sooner)
    case.consents = _consents(answers, consent_log, language, now)
    _add_work_orders(case, clocks, now)
    case.events.append(_created_event(case, answers, case.channel, now, action="completed"))


def _add_work_orders(case: Case, clocks, now: datetime) -> None:
    have = {o.kind for o in case.work_orders}
    if case.graffiti and "graffiti_removal" not in have:
        case.work_orders.append(
            WorkOrder(kind="graffiti_removal", location=case.graffiti_location or case.address,
                      created_at=now, due_at=clocks.graffiti_removal_due_at)
        )
    if case.home_insecure and "emergency_repair" not in have:
        # Without an address (anonymous, or not given) the order waits for one: the person is told.
        case.work_orders.append(
            WorkOrder(kind="emergency_repair", location=case.address, created_at=now,
                      status="open" if case.address else "needs_location", due_at=clocks.emergency_repair_due_at)
        )


def _created_event(case: Case, answers, channel: str, now: datetime, action: str = "created") -> CaseEvent:
    return CaseEvent(
        at=now,
        actor=f"reporter:{channel[:20]}",
        action=action,
        details={
            "answered": sorted(s for s, v in answers.items() if v not in (None, SKIPPED)),
            "skipped": case.skipped,
            "work_orders": [o.kind for o in case.work_orders],
        },
    )

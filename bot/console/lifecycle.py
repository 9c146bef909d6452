"""What officers record on a case, and its closing, as the policies set them (Karin 4.24-4.33;
Karbon 3.4-3.5): referral outcomes, the actions taken from the policy's range, closure only after
the person has been told, with a reason and a window to appeal, an appeal that reopens the case,
and a satisfaction survey sent after closure through the person's safe contact method (4.30).

Every change is a case event and an audit entry, in the transaction that makes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

import unicodedata

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from bot import outbox
from bot.console import audit
from bot.i18n import N_, translate
from bot.models import Case, CaseEvent, CaseNote, OutboxMessage, Referral
from bot.settings import Settings

REFERRAL_OUTCOMES = {"accepted": "Accepted", "declined": "Declined", "no_response": "No response yet",
                     "completed": "Completed", "withdrawn": "Withdrawn (the person asked)"}
# The range of actions the policies name (Karin 4.31-4.33; Karbon 3.5).
POLICY_ACTIONS = {
    "warning_letter": "Warning letter", "acceptable_behaviour_agreement": "Acceptable behaviour agreement",
    "mediation": "Mediation", "community_protection_warning": "Community protection warning",
    "injunction": "Injunction", "notice_of_seeking_possession": "Notice of seeking possession",
    "possession_proceedings": "Possession proceedings", "security_measures": "Security measures fitted",
    "management_transfer": "Management transfer", "support_referral": "Referral to a support agency",
    "police_liaison": "Joint work with the police", "no_further_action": "No further action possible",
}
CLOSURE_REASONS = {
    "resolved": "Resolved: the behaviour has stopped",
    "person_withdrew": "The person no longer wants us to act",
    "no_further_action": "No further action is possible",
    "moved_away": "The person or the perpetrator has moved",
    "passed_to_police": "Taken on by the police",
}
TOLD_BY = {"phone": "phone", "in_person": "in person", "letter": "letter", "email": "email", "sms": "SMS"}
APPEAL_DAYS = 28
# The action plan agreed with the person (4.28): how, and how often, we keep in touch.
PLAN_METHODS = {"phone": "Phone call", "sms": "Text message", "email": "Email", "letter": "Letter",
                "in_person": "In person", "video": "Video call"}
PLAN_FREQUENCIES = {"weekly": "Every week", "fortnightly": "Every two weeks", "monthly": "Every month",
                    "on_change": "When something changes"}
PLAN_DAYS = {"weekly": 7, "fortnightly": 14, "monthly": 30}
CONTACT_METHODS = {"phone": "phone", "video": "video", "in_person": "in person", "sms": "SMS", "email": "email",
                   "letter": "letter"}
SURVEY = N_("Your housing association would like to know how we handled your report {reference}. "
            "Reply with a number from 1 (very poor) to 5 (very good). Your answer is confidential.")
SURVEY_THANKS = N_("Thank you for your answer. It is kept with your report.")
SURVEY_ANSWER_DAYS = 30  # a reply of 1 to 5 counts as the survey's answer for this long after it was sent


class LifecycleError(ValueError):
    """What was asked cannot be done (the message says why, for the officer)."""


def _case(session: Session, reference: str) -> Case:
    case = session.execute(select(Case).where(Case.reference == reference)).scalar_one_or_none()
    if case is None:
        raise LifecycleError("No case has that reference.")
    return case


def _now(now: Optional[datetime]) -> datetime:
    return now or datetime.now(timezone.utc)


def record_referral_outcome(factory: sessionmaker, *, reference: str, referral_id: int, outcome: str, officer: str,
                            now: Optional[datetime] = None) -> None:
    if outcome not in REFERRAL_OUTCOMES:
        raise LifecycleError("Choose an outcome.")
    now = _now(now)
    with factory() as session:
        case = _case(session, reference)
        referral = session.get(Referral, referral_id)
        if referral is None or referral.case_id != case.id:
            raise LifecycleError("That referral is not on this case.")
        previous, referral.status, referral.updated_at = referral.status, outcome, now
        case.events.append(CaseEvent(at=now, actor=officer, action="referral_outcome",
                                     details={"kind": referral.kind, "from": previous, "to": outcome}))
        audit.record(session, officer, "referral_outcome_recorded", reference, {"kind": referral.kind, "to": outcome},
                     now=now)
        session.commit()


def record_action(factory: sessionmaker, *, reference: str, action: str, officer: str, note: str = "",
                  now: Optional[datetime] = None) -> None:
    if action not in POLICY_ACTIONS:
        raise LifecycleError("Choose an action from the list.")
    now = _now(now)
    with factory() as session:
        case = _case(session, reference)
        case.events.append(CaseEvent(at=now, actor=officer, action="action_taken", details={"action": action}))
        if note.strip():
            session.add(CaseNote(case_id=case.id, author=officer, body=note.strip()[:5000], created_at=now))
        audit.record(session, officer, "action_recorded", reference, {"action": action}, now=now)
        session.commit()


def record_contact(factory: sessionmaker, *, reference: str, method: str, officer: str,
                   now: Optional[datetime] = None) -> bool:
    """Contact made with the person. The first one meets (or misses) the 24-hour standard; every
    one restarts the action plan's clock. True when it was the first."""
    if method not in CONTACT_METHODS:
        raise LifecycleError("Choose how contact was made.")
    now = _now(now)
    with factory() as session:
        case = _case(session, reference)
        first = case.first_contact_at is None
        if first:
            case.first_contact_at = now
            case.events.append(CaseEvent(at=now, actor=officer, action="first_contact", details={
                "method": method, "within_standard": now <= case.first_contact_due_at}))
        else:
            case.events.append(CaseEvent(at=now, actor=officer, action="contact_made", details={"method": method}))
        case.last_contact_at = now
        audit.record(session, officer, "first_contact_recorded" if first else "contact_recorded", reference,
                     {"method": method}, now=now)
        session.commit()
        return first


def agree_plan(factory: sessionmaker, *, reference: str, method: str, frequency: str, officer: str,
               now: Optional[datetime] = None) -> None:
    """The action plan agreed with the person (4.28): the method and frequency of contact."""
    if method not in PLAN_METHODS:
        raise LifecycleError("Choose how you will keep in touch.")
    if frequency not in PLAN_FREQUENCIES:
        raise LifecycleError("Choose how often you will keep in touch.")
    now = _now(now)
    with factory() as session:
        case = _case(session, reference)
        case.plan_method, case.plan_frequency = method, frequency
        case.plan_agreed_at, case.plan_agreed_by = now, officer
        case.events.append(CaseEvent(at=now, actor=officer, action="action_plan_agreed",
                                     details={"method": method, "frequency": frequency}))
        audit.record(session, officer, "action_plan_recorded", reference, {"method": method, "frequency": frequency},
                     now=now)
        session.commit()


def next_update_due(case: Case) -> Optional[datetime]:
    """When the plan says they next hear from us: the last contact (or the plan's agreement) plus its period."""
    days = PLAN_DAYS.get(case.plan_frequency or "")
    if days is None or case.status == "closed":
        return None
    since = max(moment for moment in (case.last_contact_at, case.plan_agreed_at, case.first_contact_at) if moment)
    return since + timedelta(days=days)


@dataclass(frozen=True)
class Closed:
    appeal_until: datetime
    survey: str  # sent | no_safe_contact


def survey_contact(case: Case) -> Optional[outbox.Contact]:
    """Where a survey may go: the safer contact they gave, else the report's contact unless they
    said it is not safe; never to an anonymous report."""
    if case.anonymous:
        return None
    other = case.safe_contact_other or ""
    if other.startswith("+"):
        return outbox.Contact("sms", other)
    if "@" in other:
        return outbox.Contact("email", other)
    if case.safe_to_contact is False:
        return None
    if case.contact_phone:
        return outbox.Contact("sms", case.contact_phone)
    if case.contact_email:
        return outbox.Contact("email", case.contact_email)
    return None


def close_case(factory: sessionmaker, settings: Settings, *, reference: str, reason: str, told_by: str,
               officer: str, now: Optional[datetime] = None) -> Closed:
    """Close a case the person has been told of: the reason, a 28-day window to appeal, and the
    satisfaction survey through their safe contact method (in their language)."""
    if reason not in CLOSURE_REASONS:
        raise LifecycleError("Choose why the case is closing.")
    if told_by not in TOLD_BY:
        raise LifecycleError("A case closes only after the person has been told: say how they were told.")
    now = _now(now)
    with factory() as session:
        case = _case(session, reference)
        if case.status == "closed":
            raise LifecycleError("The case is closed already.")
        appeal_until = now + timedelta(days=APPEAL_DAYS)
        case.status = "closed"
        case.events.append(CaseEvent(at=now, actor=officer, action="closed", details={
            "reason": reason, "told_by": told_by, "appeal_until": appeal_until.isoformat()}))
        contact = survey_contact(case)
        if contact is not None:
            outbox.enqueue(session, dedupe_key=f"survey:{case.reference}:{now.date().isoformat()}", topic="survey",
                           contact=contact, body=translate(SURVEY, case.language).replace("{reference}", case.reference),
                           subject=translate(N_("How did we do?"), case.language), case_id=case.id, now=now)
        survey = "sent" if contact is not None else "no_safe_contact"
        case.events.append(CaseEvent(at=now, actor="system", action="survey", details={"status": survey}))
        audit.record(session, officer, "case_closed", reference, {"reason": reason, "survey": survey}, now=now)
        session.commit()
        return Closed(appeal_until, survey)


def appeal(factory: sessionmaker, *, reference: str, officer: str, now: Optional[datetime] = None) -> None:
    """The person appealed the closure (within the window): the case opens again for review."""
    now = _now(now)
    with factory() as session:
        case = _case(session, reference)
        closed = [e for e in case.events if e.action == "closed"]
        if case.status != "closed" or not closed:
            raise LifecycleError("Only a closed case can be appealed.")
        until = datetime.fromisoformat(closed[-1].details["appeal_until"])
        if now > until:
            raise LifecycleError("The window to appeal has passed.")
        case.status = "reopened"
        case.review_due_at = now + timedelta(days=14)
        case.events.append(CaseEvent(at=now, actor=officer, action="appeal", details={"reopened": True}))
        audit.record(session, officer, "case_reopened_on_appeal", reference, now=now)
        session.commit()


# --- The survey's answer, by text (4.30: the answers are kept with the case) -------------------

def survey_score(body: Optional[str]) -> Optional[int]:
    """1 to 5 from a reply such as "4", "4.", " 4 " or "٤" (any script's digits), else None."""
    text = (body or "").strip().rstrip(".!)")
    if len(text) != 1:
        return None
    value = unicodedata.decimal(text, None)
    return value if value is not None and 1 <= value <= 5 else None


def survey_awaiting(session: Session, number: str, now: datetime) -> Optional[OutboxMessage]:
    """The survey this number may be answering: sent to it by text in the last 30 days, not yet
    answered, and the last thing we asked it (no reply of the dialogue has gone to it since)."""
    survey = session.execute(
        select(OutboxMessage).where(OutboxMessage.topic == "survey", OutboxMessage.transport == "sms",
                                    OutboxMessage.recipient == number, OutboxMessage.case_id.isnot(None),
                                    OutboxMessage.created_at >= now - timedelta(days=SURVEY_ANSWER_DAYS))
        .order_by(OutboxMessage.id.desc()).limit(1)
    ).scalar_one_or_none()
    if survey is None:
        return None
    answered = session.execute(select(exists().where(
        CaseEvent.case_id == survey.case_id, CaseEvent.action == "survey_answer",
        CaseEvent.at >= survey.created_at))).scalar()
    asked_since = session.execute(select(exists().where(
        OutboxMessage.recipient == number, OutboxMessage.topic == "reply",
        OutboxMessage.created_at > survey.created_at))).scalar()
    return None if answered or asked_since else survey


def record_survey_answer(session: Session, case_id: int, score: int, now: datetime) -> None:
    """Kept with the case, in the caller's transaction (the one that marks the text handled)."""
    session.add(CaseEvent(case_id=case_id, at=now, actor="reporter:survey", action="survey_answer",
                          details={"score": score}))

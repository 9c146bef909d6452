"""Creating a case from a finished report: the case service.

``submit_report`` is idempotent on the report's id, so a retried submit (a
double tap, a retried webhook, a lost reply) finds the case it already made.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Mapping, Optional

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot import references
from bot.consent import WORDINGS
from bot.models import Case, CaseEvent, Consent, WorkOrder
from bot.report.questions import SKIPPED, SLOTS, is_anonymous, relevant_answers
from bot.settings import Settings
from bot.sla import clocks_from

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


def _submission(case: Case, created: bool) -> Submission:
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
    )


def _existing(session: Session, report_id: str) -> Optional[Case]:
    return session.execute(select(Case).where(Case.report_id == report_id)).scalar_one_or_none()


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
    """Create the case for a finished report (or find the one already made for it)."""
    now = now or datetime.now(timezone.utc)
    answers = relevant_answers(answers)
    for _ in range(attempts):
        with factory() as session:
            found = _existing(session, report_id)
            if found is not None:
                return _submission(found, created=False)
            case = _new_case(answers, consent_log or {}, report_id, conversation_id, channel, language, now, settings)
            case.immediate_risk = immediate_risk
            session.add(case)
            try:
                session.commit()
            except IntegrityError:
                # Either the same report was submitted at the same moment (found on the next
                # pass) or the random reference was taken (a new one is drawn).
                session.rollback()
                continue
            return _submission(case, created=True)
    raise RuntimeError("could not store the case after several attempts")


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
    if case.graffiti:
        case.work_orders.append(
            WorkOrder(kind="graffiti_removal", location=case.graffiti_location or case.address,
                      created_at=now, due_at=clocks.graffiti_removal_due_at)
        )
    if case.home_insecure:
        # Without an address (anonymous, or not given) the order waits for one: the person is told.
        case.work_orders.append(
            WorkOrder(kind="emergency_repair", location=case.address, created_at=now,
                      status="open" if case.address else "needs_location", due_at=clocks.emergency_repair_due_at)
        )
    case.events.append(
        CaseEvent(
            at=now,
            actor=f"reporter:{channel}",
            action="created",
            details={
                "answered": sorted(s for s, v in answers.items() if v not in (None, SKIPPED)),
                "skipped": case.skipped,
                "work_orders": [o.kind for o in case.work_orders],
            },
        )
    )
    return case

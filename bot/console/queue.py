"""The officers' queue: open cases in order of immediate risk, then risk level, then the nearest
deadline the policies set (first contact within 24 hours, graffiti removal, emergency repair,
review at 3 months, the next update the action plan promises), with the deadlines already missed marked."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.console.lifecycle import next_update_due
from bot.models import Case

RISK_RANK = {"high": 3, "medium": 2, "standard": 1, None: 0}
CLOSED = ("closed",)
DEADLINE_NAMES = {"first_contact": "First contact", "graffiti_removal": "Graffiti removal",
                  "emergency_repair": "Emergency repair", "review": "Review", "update": "Update (action plan)"}


@dataclass(frozen=True)
class Deadline:
    kind: str  # first_contact | graffiti_removal | emergency_repair | review | update
    due_at: datetime

    @property
    def name(self) -> str:
        return DEADLINE_NAMES.get(self.kind, self.kind.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Row:
    case: Case
    deadlines: tuple  # open ones, nearest first
    breached: tuple  # kinds whose time has passed

    @property
    def next_deadline(self) -> Optional[Deadline]:
        return self.deadlines[0] if self.deadlines else None


def open_deadlines(case: Case) -> list[Deadline]:
    """The case's deadlines not yet met, nearest first."""
    out = []
    if case.first_contact_at is None:
        out.append(Deadline("first_contact", case.first_contact_due_at))
    for order in case.work_orders:
        if order.status == "open" and order.completed_at is None:
            out.append(Deadline(order.kind, order.due_at))
    if case.status not in CLOSED:
        out.append(Deadline("review", case.review_due_at))
    update = next_update_due(case)
    if update is not None:
        out.append(Deadline("update", update))
    return sorted(out, key=lambda d: d.due_at)


def order_key(case: Case, deadlines: list[Deadline]) -> tuple:
    far = datetime.max.replace(tzinfo=timezone.utc)
    return (not case.immediate_risk, -RISK_RANK.get(case.risk_level, 0),
            deadlines[0].due_at if deadlines else far, case.submitted_at)


def queue(session: Session, now: Optional[datetime] = None, limit: int = 500) -> list[Row]:
    now = now or datetime.now(timezone.utc)
    cases = session.execute(
        select(Case).where(Case.status.notin_(CLOSED)).options(selectinload(Case.work_orders)).limit(5000)
    ).scalars()
    rows = []
    for case in cases:
        deadlines = open_deadlines(case)
        rows.append((order_key(case, deadlines),
                     Row(case, tuple(deadlines), tuple(d.kind for d in deadlines if d.due_at <= now))))
    rows.sort(key=lambda pair: pair[0])
    return [row for _, row in rows[:limit]]


REVIEW_AHEAD_DAYS = 14  # reviews shown this far ahead of their date


def reviews(session: Session, now: Optional[datetime] = None, ahead_days: int = REVIEW_AHEAD_DAYS) -> list[Case]:
    """Open cases whose 3-month review (Karin 4.29) is due within ``ahead_days`` or overdue, soonest first."""
    from datetime import timedelta

    now = now or datetime.now(timezone.utc)
    return list(session.execute(
        select(Case).where(Case.status.notin_(CLOSED), Case.review_due_at <= now + timedelta(days=ahead_days))
        .order_by(Case.review_due_at, Case.id)
    ).scalars())

"""The monitoring figures for team leaders (Karin 5.1: harassment cases reported in line with the
anti-social behaviour policy): how many cases came in over a period, of what kind, why, where,
how, and how well the service standards were kept (first contact within 24 hours, offensive
graffiti removed within 24 hours, emergency repairs, review at 3 months), with what people said
of the service afterwards and the referrals made.

Only what survives anonymisation is read (codes, areas, dates, statuses, events and referrals'
kind and status; never what anyone wrote), so the figures for a period stay the same after the
retention job has blanked its cases, and nothing here can show who a case was about.
"""
from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable, Optional
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Case, CaseEvent, Referral, WorkOrder
from bot.referrals import BY_KIND
from bot.report.questions import BY_SLOT, SKIPPED

NOT_SAID = "not said"
NOT_GIVEN = "not given"
NOT_ASSESSED = "not assessed"
RISK_LEVELS = ("high", "medium", "standard", NOT_ASSESSED)
SCORES = (1, 2, 3, 4, 5)
MAX_PERIOD_DAYS = 5 * 366 + 1
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)  # far outside any case, and inside what datetimes hold
WORK_ORDER_KINDS = ("graffiti_removal", "emergency_repair")
STANDARD_TITLES = {"first_contact": "First contact within 24 hours", "graffiti_removal": "Offensive graffiti removed",
                   "emergency_repair": "Emergency repair done", "review": "Review at 3 months"}
DIMENSION_TITLES = {
    "incident_type": "Kind of incident", "motivation": "Why they think they were targeted",
    "area": "Area (postcode district)", "month": "Month reported", "channel": "How they reported",
    "language": "Language", "risk_level": "Risk level", "immediate_risk": "In danger when reporting",
    "status": "Open or closed", "referral": "Referrals by kind", "referral_status": "Referrals by status",
}
FIXED_LABELS = {"immediate_risk": {"yes": "Yes", "no": "No"}, "status": {"open": "Open", "closed": "Closed"},
                "risk_level": {level: level.capitalize() for level in RISK_LEVELS}}
CSV_HEADER = ("section", "value", "count")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class PeriodError(ValueError):
    """A period that cannot be shown; the message says why, for the person who asked."""


@dataclass(frozen=True)
class Count:
    value: str  # the code, as stored (and as exported)
    label: str  # what a person reads
    count: int


@dataclass(frozen=True)
class Dimension:
    key: str
    title: str
    counts: tuple[Count, ...]

    @property
    def total(self) -> int:
        return sum(c.count for c in self.counts)

    @property
    def largest(self) -> int:
        return max((c.count for c in self.counts), default=0)


@dataclass(frozen=True)
class Standard:
    key: str
    title: str
    met: int
    missed: int
    pending: int

    @property
    def total(self) -> int:
        return self.met + self.missed + self.pending

    @property
    def percent_met(self) -> Optional[int]:
        """Of those decided (met or missed), how many were met; None when none is decided yet."""
        decided = self.met + self.missed
        return round(100 * self.met / decided) if decided else None


@dataclass(frozen=True)
class Satisfaction:
    scores: tuple[Count, ...]  # 1 to 5, each with how many gave it
    surveys_sent: int

    @property
    def answers(self) -> int:
        return sum(c.count for c in self.scores)

    @property
    def average(self) -> Optional[float]:
        total = sum(int(c.value) * c.count for c in self.scores)
        return round(total / self.answers, 2) if self.answers else None


@dataclass(frozen=True)
class Figures:
    start: date
    end: date
    tz: str
    cases: int
    dimensions: tuple[Dimension, ...]
    standards: tuple[Standard, ...]
    satisfaction: Satisfaction

    def dimension(self, key: str) -> Dimension:
        return next(d for d in self.dimensions if d.key == key)

    def standard(self, key: str) -> Standard:
        return next(s for s in self.standards if s.key == key)


# --- The period ---------------------------------------------------------------------------------

def default_period(today: date) -> tuple[date, date]:
    """The last 12 months: from the first of the month eleven months back, to today."""
    months = today.year * 12 + today.month - 1 - 11
    return date(months // 12, months % 12 + 1, 1), today


def parse_period(start: Optional[str], end: Optional[str], today: date) -> tuple[date, date]:
    """The period asked for as YYYY-MM-DD dates (either left out: the default's), or PeriodError."""
    default_start, default_end = default_period(today)
    first = _parse_day(start, "start", default_start)
    last = _parse_day(end, "end", default_end)
    if not (EARLIEST <= first and last <= LATEST):
        raise PeriodError("The dates must be from 1 January 2000 to 31 December 2099.")
    if first > last:
        raise PeriodError("The start date must be on or before the end date.")
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise PeriodError("The period can be at most 5 years long.")
    return first, last


def _parse_day(text: Optional[str], which: str, default: date) -> date:
    if text is None or not text.strip():
        return default
    try:
        if len(text.strip()) != 10:
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(f"The {which} date must be a real date written as YYYY-MM-DD, "
                          f"for example {default.isoformat()}.") from None


def utc_bounds(start: date, end: date, tz: str) -> tuple[datetime, datetime]:
    """From local midnight at the start of ``start`` to local midnight after ``end`` (exclusive)."""
    zone = ZoneInfo(tz)
    return (datetime.combine(start, time.min, tzinfo=zone),
            datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone))


def months(start: date, end: date) -> list[str]:
    out, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


# --- The figures --------------------------------------------------------------------------------

# Only columns that anonymisation keeps; never a whole Case (that would load what people wrote).
CASE_COLUMNS = (Case.id, Case.incident_type, Case.motivation, Case.area, Case.submitted_at, Case.channel,
                Case.language, Case.risk_level, Case.immediate_risk, Case.status, Case.first_contact_at,
                Case.first_contact_due_at, Case.review_due_at)
EVENT_ACTIONS = ("closed", "survey", "survey_answer")


def figures(session: Session, *, start: date, end: date, tz: str, now: datetime) -> Figures:
    """The figures for cases submitted from ``start`` to ``end`` (local dates in ``tz``), as at ``now``."""
    since, until = utc_bounds(start, end, tz)
    in_period = (Case.submitted_at >= since, Case.submitted_at < until)
    cases = session.execute(select(*CASE_COLUMNS).where(*in_period).order_by(Case.id)).all()
    orders = session.execute(
        select(WorkOrder.kind, WorkOrder.status, WorkOrder.due_at, WorkOrder.completed_at)
        .join(Case, WorkOrder.case_id == Case.id).where(*in_period, WorkOrder.kind.in_(WORK_ORDER_KINDS))).all()
    events = session.execute(
        select(CaseEvent.case_id, CaseEvent.action, CaseEvent.at, CaseEvent.details)
        .join(Case, CaseEvent.case_id == Case.id).where(*in_period, CaseEvent.action.in_(EVENT_ACTIONS))
        .order_by(CaseEvent.at, CaseEvent.id)).all()
    referrals = session.execute(
        select(Referral.kind, Referral.status).join(Case, Referral.case_id == Case.id).where(*in_period)).all()
    zone = ZoneInfo(tz)
    return Figures(
        start=start, end=end, tz=tz, cases=len(cases),
        dimensions=(*_case_dimensions(cases, months(start, end), zone), *_referral_dimensions(referrals)),
        standards=_standards(cases, orders, _closings(events), now),
        satisfaction=_satisfaction(events),
    )


def _case_dimensions(cases: list, period_months: list[str], zone: ZoneInfo) -> list[Dimension]:
    month_counts = Counter(c.submitted_at.astimezone(zone).strftime("%Y-%m") for c in cases)
    return [
        _coded("incident_type", cases),
        _coded("motivation", cases),
        _by_count("area", Counter(c.area or NOT_GIVEN for c in cases)),
        Dimension("month", DIMENSION_TITLES["month"],
                  tuple(Count(m, _month_label(m), month_counts.get(m, 0)) for m in period_months)),
        _by_count("channel", Counter(c.channel for c in cases)),
        _by_count("language", Counter(c.language for c in cases)),
        _fixed("risk_level", RISK_LEVELS, Counter(c.risk_level or NOT_ASSESSED for c in cases)),
        _fixed("immediate_risk", ("yes", "no"), Counter("yes" if c.immediate_risk else "no" for c in cases)),
        _fixed("status", ("open", "closed"), Counter("closed" if c.status == "closed" else "open" for c in cases)),
    ]


def _referral_dimensions(referrals: list) -> list[Dimension]:
    kinds = Counter(r.kind for r in referrals)
    return [
        Dimension("referral", DIMENSION_TITLES["referral"], tuple(
            Count(kind, BY_KIND[kind].label if kind in BY_KIND else label_of(kind), n)
            for kind, n in _largest_first(kinds))),
        _by_count("referral_status", Counter(r.status for r in referrals)),
    ]


def label_of(code: str) -> str:
    return str(code).replace("_", " ")


def _month_label(month: str) -> str:
    return date.fromisoformat(f"{month}-01").strftime("%B %Y")


def _largest_first(counts: Counter) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))


def _by_count(key: str, counts: Counter) -> Dimension:
    return Dimension(key, DIMENSION_TITLES[key],
                     tuple(Count(str(v), label_of(v), n) for v, n in _largest_first(counts)))


def _fixed(key: str, values: tuple[str, ...], counts: Counter) -> Dimension:
    labels = FIXED_LABELS.get(key, {})
    listed = list(values) + sorted(str(v) for v in counts if v not in values)
    return Dimension(key, DIMENSION_TITLES[key],
                     tuple(Count(v, labels.get(v, label_of(v)), counts.get(v, 0)) for v in listed))


def _codes(value: Any) -> list[str]:
    """The codes of a multiple-choice answer (a JSON list); a lone code counts as a list of one."""
    if isinstance(value, str):
        value = [] if value == SKIPPED else [value]
    if not isinstance(value, (list, tuple)):
        return [NOT_SAID]
    codes = [str(v) for v in value if v not in (None, "", SKIPPED)]
    return list(dict.fromkeys(codes)) or [NOT_SAID]


def _coded(key: str, cases: list) -> Dimension:
    """Each code of a multiple-choice question counted once per case that gave it; the question's
    own options are listed (in its order) even when nobody chose them."""
    counts = Counter(code for c in cases for code in _codes(getattr(c, key)))
    options = {o.value: o.label for o in BY_SLOT[key].options}
    extra = sorted(v for v in counts if v not in options and v != NOT_SAID)
    listed = [*options, *extra, *([NOT_SAID] if counts.get(NOT_SAID) else [])]
    return Dimension(key, DIMENSION_TITLES[key],
                     tuple(Count(v, options.get(v, label_of(v)), counts.get(v, 0)) for v in listed))


# --- The service standards -----------------------------------------------------------------------

def judge(done_at: Optional[datetime], due_at: datetime, now: datetime) -> str:
    """met (done by its time), missed (done late, or not done and its time has passed) or pending."""
    if done_at is not None:
        return "met" if done_at <= due_at else "missed"
    return "missed" if due_at < now else "pending"


def _closings(events: list) -> dict[int, datetime]:
    """When each case was last closed (a case reopened on appeal may be closed again)."""
    return {e.case_id: e.at for e in events if e.action == "closed"}


def _review(case, closed_at: Optional[datetime], now: datetime) -> str:
    if case.status != "closed":
        return "missed" if case.review_due_at < now else "pending"
    # A closed case with no record of its closing cannot show it was closed or reviewed in time.
    return "met" if closed_at is not None and closed_at <= case.review_due_at else "missed"


def _standard(key: str, outcomes: Iterable[str]) -> Standard:
    counts = Counter(outcomes)
    return Standard(key, STANDARD_TITLES[key], counts["met"], counts["missed"], counts["pending"])


def _standards(cases: list, orders: list, closings: dict[int, datetime], now: datetime) -> tuple[Standard, ...]:
    by_kind: dict[str, list[str]] = defaultdict(list)
    for order in orders:
        if order.status != "cancelled":
            by_kind[order.kind].append(judge(order.completed_at, order.due_at, now))
    return (
        _standard("first_contact", (judge(c.first_contact_at, c.first_contact_due_at, now) for c in cases)),
        *(_standard(kind, by_kind[kind]) for kind in WORK_ORDER_KINDS),
        _standard("review", (_review(c, closings.get(c.id), now) for c in cases)),
    )


# --- Satisfaction ---------------------------------------------------------------------------------

def _score(details: Any) -> Optional[int]:
    score = details.get("score") if isinstance(details, dict) else None
    if isinstance(score, bool) or not isinstance(score, (int, str)):
        return None
    try:
        score = int(score)
    except ValueError:
        return None
    return score if score in SCORES else None


def _satisfaction(events: list) -> Satisfaction:
    scores = Counter(_score(e.details) for e in events if e.action == "survey_answer")
    sent = sum(1 for e in events if e.action == "survey" and isinstance(e.details, dict)
               and e.details.get("status") == "sent")
    return Satisfaction(tuple(Count(str(s), str(s), scores.get(s, 0)) for s in SCORES), sent)


# --- The export -----------------------------------------------------------------------------------

def safe_cell(value: Any) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP: CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_rows(f: Figures) -> list[tuple[str, str, Any]]:
    rows: list[tuple[str, str, Any]] = [("period", "from", f.start.isoformat()), ("period", "to", f.end.isoformat()),
                                        ("period", "timezone", f.tz), ("cases", "total", f.cases)]
    rows += [(d.key, c.value, c.count) for d in f.dimensions for c in d.counts]
    rows += [(s.key, outcome, getattr(s, outcome)) for s in f.standards for outcome in ("met", "missed", "pending")]
    sat = f.satisfaction
    rows += [("satisfaction", c.value, c.count) for c in sat.scores]
    average = "" if sat.average is None else sat.average
    rows += [("satisfaction", "answers", sat.answers), ("satisfaction", "average", average),
             ("satisfaction", "surveys_sent", sat.surveys_sent)]
    return rows


def csv_text(f: Figures) -> str:
    """The figures as ``section,value,count`` rows (RFC 4180, CRLF line ends), with a header line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(tuple(safe_cell(cell) for cell in row) for row in csv_rows(f))
    return out.getvalue()

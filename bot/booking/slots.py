"""Free call slots with officers, and who may be matched with whom.

The rules (Karin 4.24, 4.26-4.27; Karbon 3.4.3), each here and nowhere else:

- **Same sex, when asked, always.** A requested sex is a hard filter: no other officer is
  ever offered. With no such officer free, ``offers`` returns ``[]`` and the caller says so.
- **Safe times, when given, always.** A call is only offered in a period the person said is
  safe (``SAFE_PERIODS``: morning before 12:00, afternoon 12:00-17:00, evening from 17:00,
  by the call's local start).
- **Their language.** An officer who speaks it is preferred; any other officer can take the
  call with an interpreter (``Offer.interpreter``; ``"bsl"`` for a British Sign Language
  interpreter). Every officer speaks English, the service's working language.
- **Same ethnic origin where available.** A soft preference: preferred, never required.
- **Ordering.** The earliest times first, each with the best-matched officer free then (their
  language, then ethnic origin, then the one with fewer calls); offers are at distinct times
  spread ``SPREAD`` apart where there are enough; and when the best match there is (an officer
  who speaks their language, and of the same ethnic origin if asked) is only free later, its
  earliest slot replaces the last offer, so it is always among them.
- **Within the standard.** ``Offer.within_first_contact`` says whether the call starts by the
  case's first-contact time (24 hours, Karin 4.24); the caller is honest when none does.

Slots come from each active officer's working pattern (service-local times, turned into UTC
day by day, so daylight saving changes are exact), minus bank holidays, leave and booked
calls, on a grid of ``SLOT_MINUTES`` from midnight UTC, for calls of ``CALL_MINUTES`` (at most
one slot, so two calls with one officer at once would share a start time, which the
database's unique index refuses), from ``MIN_NOTICE_MINUTES`` ahead to
``BOOKING_HORIZON_DAYS`` ahead.
"""
from __future__ import annotations

import json
import logging
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from itertools import accumulate
from typing import Iterable, Iterator, Optional

from babel import Locale
from sqlalchemy import Text, cast, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import BigInteger

from bot.booking import hours
from bot.models import ETHNIC_ORIGINS, OFFICER_SEXES, Booking, Officer, OfficerLeave
from bot.settings import Settings

log = logging.getLogger(__name__)

SIGN_LANGUAGE = "bsl"  # British Sign Language
SERVICE_LANGUAGE = "en"  # every officer speaks it
SAFE_PERIODS = {"morning": (0, 12 * 60), "afternoon": (12 * 60, 17 * 60), "evening": (17 * 60, 24 * 60)}
ANY_TIME = "any"
SPREAD = timedelta(hours=2)  # offers this far apart where there are enough free times
_CHUNK_DAYS = (1, 2, 4, 7)  # booked calls are read a day, then 2, 4, 7 days at a time, as far as needed

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@lru_cache(maxsize=1)
def language_codes() -> frozenset[str]:
    """ISO 639-1 codes (from the CLDR data Babel carries), and ``bsl``."""
    return frozenset(code for code in Locale("en").languages if len(code) == 2) | {SIGN_LANGUAGE}


def is_language(code: object) -> bool:
    return isinstance(code, str) and code in language_codes()


@dataclass(frozen=True)
class Needs:
    """What the person asked for. ``safe_times``: the periods of ``SAFE_PERIODS`` they said
    calls are safe in (empty, or ``"any"``, for any time)."""

    language: str  # ISO 639-1 code of the call, or "bsl"
    officer_sex: Optional[str]  # "female" | "male" | None (no preference)
    ethnic_origin: Optional[str]  # ONS code, or None
    safe_times: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not is_language(self.language):
            raise ValueError(f"language is an ISO 639-1 code or 'bsl', got {self.language!r}")
        if self.officer_sex is not None and self.officer_sex not in OFFICER_SEXES:
            raise ValueError(f"officer_sex is one of {OFFICER_SEXES} or None, got {self.officer_sex!r}")
        if self.ethnic_origin is not None and self.ethnic_origin not in ETHNIC_ORIGINS:
            raise ValueError(f"ethnic_origin is one of {ETHNIC_ORIGINS} or None, got {self.ethnic_origin!r}")
        times = (self.safe_times,) if isinstance(self.safe_times, str) else tuple(self.safe_times or ())
        unknown = [t for t in times if t not in SAFE_PERIODS and t != ANY_TIME]
        if unknown:
            raise ValueError(f"safe_times are {', '.join(SAFE_PERIODS)} or {ANY_TIME}, got {unknown}")
        object.__setattr__(self, "safe_times", () if ANY_TIME in times else tuple(sorted(set(times))))


@dataclass(frozen=True)
class Offer:
    officer_id: int
    officer_name: str  # first name only, for the person
    starts_at: datetime  # aware UTC
    ends_at: datetime
    interpreter: Optional[str]  # language needing an interpreter ("bsl" for BSL), None when the officer speaks it
    same_ethnic_origin: bool
    within_first_contact: bool


# --- Who may be matched --------------------------------------------------------------------


def may_match(officer_sex: str, needs: Needs) -> bool:
    """The hard rule: a requested sex is never overridden."""
    return needs.officer_sex is None or officer_sex == needs.officer_sex


def speaks(languages: Iterable[str], language: str) -> bool:
    return language == SERVICE_LANGUAGE or language in set(languages or ())


def interpreter_for(languages: Iterable[str], needs: Needs) -> Optional[str]:
    """The language an interpreter is needed for with this officer, or None."""
    return None if speaks(languages, needs.language) else needs.language


def _rank(speaks_it: bool, same_origin: bool) -> int:
    """0 is the best match: their language, then their ethnic origin."""
    return (0 if speaks_it else 2) + (0 if same_origin else 1)


# --- The grid ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    slot: int  # seconds
    call: int  # seconds
    notice: timedelta
    horizon: timedelta


def grid_of(settings: Settings) -> Grid:
    slot, call = settings.slot_minutes, settings.call_minutes
    if slot < 5 or (24 * 60) % slot:
        raise ValueError(f"SLOT_MINUTES divides a day into equal slots of 5 minutes or more, got {slot}")
    if not 0 < call <= slot:
        raise ValueError(f"CALL_MINUTES is 1 to SLOT_MINUTES ({slot}): a call fits in one slot, got {call}")
    if settings.min_notice_minutes < 0 or not 1 <= settings.booking_horizon_days <= 366:
        raise ValueError("MIN_NOTICE_MINUTES is 0 or more; BOOKING_HORIZON_DAYS is 1 to 366")
    return Grid(slot * 60, call * 60, timedelta(minutes=settings.min_notice_minutes),
                timedelta(days=settings.booking_horizon_days))


class epoch(FunctionElement):
    """Seconds since 1970 of a stored UTC time, worked out by the database: reading thousands of
    booked calls then makes no datetime objects."""

    type = BigInteger()
    name = "epoch"
    inherit_cache = True


@compiles(epoch)
def _epoch(element, compiler, **kw):
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS BIGINT)"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element, compiler, **kw):  # stored as naive UTC text (bot.models.UTCDateTime)
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


def _seconds(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; use an aware one")
    return int((moment - _EPOCH).total_seconds())


def _instant(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


@lru_cache(maxsize=4096)
def _day_minutes(windows: tuple[hours.Window, ...], call: int, slot: int, phases: frozenset[int],
                 safe: tuple[str, ...]) -> tuple[int, ...]:
    """Start minutes (local) of the calls that fit in a day's windows, on the grid, in safe periods."""
    call_min, slot_min = call // 60, slot // 60
    periods = [SAFE_PERIODS[p] for p in safe]
    out = []
    for start, end in windows:
        for phase in phases:
            first = start + (phase - start) % slot_min
            out.extend(m for m in range(first, end - call_min + 1, slot_min)
                       if not periods or any(a <= m < b for a, b in periods))
    return tuple(sorted(set(out)))


@lru_cache(maxsize=1024)
def _week_of(pattern_json: Optional[str]) -> Optional[hours.Week]:
    """An officer's working pattern, read from its stored JSON text (each distinct one once)."""
    try:
        return hours.parse_week_mapping(json.loads(pattern_json or "null"))
    except (ValueError, TypeError):
        return None


@lru_cache(maxsize=1024)
def _languages_of(languages_json: Optional[str]) -> frozenset[str]:
    try:
        return frozenset(json.loads(languages_json or "[]"))
    except (ValueError, TypeError):
        return frozenset()


# --- Scanning the horizon --------------------------------------------------------------------


@dataclass
class _Candidate:
    id: int
    first_name: str
    week: hours.Week
    speaks: bool
    same_origin: bool
    rank: int
    load: int = 0  # calls booked in the days read: fewer wins a tie
    spans: list[tuple[int, int]] = field(default_factory=list)  # busy (calls, leave), UTC seconds
    starts: list[int] = field(default_factory=list)  # their starts, in order...
    ends_max: list[int] = field(default_factory=list)  # ...with the running maximum of their ends

    def add_busy(self, spans: list[tuple[int, int]]) -> None:
        if spans:
            self.spans = sorted(self.spans + spans)
            self.starts = [s for s, _ in self.spans]
            self.ends_max = list(accumulate((e for _, e in self.spans), max))

    def busy(self, t: int, length: int) -> bool:
        """Whether [t, t + length) meets a call or leave."""
        i = bisect_left(self.starts, t + length)
        return i > 0 and self.ends_max[i - 1] > t


class _Scan:
    """Free slots in time order, a local day at a time, for a set of candidates."""

    def __init__(self, session: Session, settings: Settings, needs: Needs, *, earliest: int, end: int,
                 exclude_booking: Optional[int] = None) -> None:
        self.session = session
        self.service = hours.service_hours(settings)
        self.grid = grid_of(settings)
        self.needs = needs
        self.earliest, self.end = earliest, end
        self.exclude_booking = exclude_booking
        self._days: dict[date, tuple[int, bool]] = {}
        self._starts: dict[tuple, list[int]] = {}

    def first_day(self) -> date:
        return _instant(self.earliest).astimezone(self.service.tz).date()

    def last_day(self) -> date:
        return _instant(self.end).astimezone(self.service.tz).date()

    def _day(self, day: date) -> tuple[int, bool]:
        if day not in self._days:
            midnight, regular = hours.local_midnight(day, self.service.tz)
            self._days[day] = (_seconds(midnight), regular)
        return self._days[day]

    def _busy(self, candidates: list[_Candidate], since: int, until: int, leave: bool) -> None:
        """Read the booked calls (and, once, the leave) of these candidates between two instants."""
        ids = [c.id for c in candidates]
        by_id = {c.id: c for c in candidates}
        spans: dict[int, list[tuple[int, int]]] = {i: [] for i in ids}
        window_start, window_end = _instant(since), _instant(until)
        calls = (
            select(Booking.officer_id, epoch(Booking.starts_at), epoch(Booking.ends_at))
            # A literal, not a parameter, so SQLite can use the partial index on booked calls.
            .where(Booking.status == literal_column("'booked'"), Booking.officer_id.in_(ids),
                   Booking.starts_at >= window_start - timedelta(days=1), Booking.starts_at < window_end,
                   Booking.ends_at > window_start)
        )
        if self.exclude_booking is not None:
            calls = calls.where(Booking.id != self.exclude_booking)
        for officer_id, starts_at, ends_at in self.session.execute(calls):
            spans[officer_id].append((starts_at, ends_at))
            by_id[officer_id].load += 1
        if leave:
            away = select(OfficerLeave.officer_id, epoch(OfficerLeave.starts_at), epoch(OfficerLeave.ends_at)).where(
                OfficerLeave.officer_id.in_(ids), OfficerLeave.starts_at < _instant(self.end),
                OfficerLeave.ends_at > _instant(self.earliest))
            for officer_id, starts_at, ends_at in self.session.execute(away):
                spans[officer_id].append((starts_at, ends_at))
        for c in candidates:
            c.add_busy(spans[c.id])

    def _slot_starts(self, day: date, windows: tuple[hours.Window, ...]) -> list[int]:
        """The day's call starts (UTC seconds) that a working day of these windows gives."""
        key = (day, windows)
        if key not in self._starts:
            self._starts[key] = self._compute_starts(day, windows)
        return self._starts[key]

    def _compute_starts(self, day: date, windows: tuple[hours.Window, ...]) -> list[int]:
        midnight, regular = self._day(day)
        grid = self.grid
        if regular:
            phases = frozenset({(-midnight // 60) % (grid.slot // 60)})
            return [midnight + m * 60 for m in _day_minutes(windows, grid.call, grid.slot, phases, self.needs.safe_times)]
        # The day the clocks change: each minute through the zone, keeping those on the grid.
        next_midnight, _ = self._day(day + timedelta(days=1))
        phases = frozenset({(-midnight // 60) % (grid.slot // 60), (-(next_midnight // 60 - 24 * 60)) % (grid.slot // 60)})
        out = []
        for m in _day_minutes(windows, grid.call, grid.slot, phases, self.needs.safe_times):
            instant = hours.to_utc(day, m, self.service.tz)
            if instant is not None and _seconds(instant) % grid.slot == 0:
                out.append(_seconds(instant))
        return sorted(set(out))

    def days(self, candidates: list[_Candidate], start: Optional[date] = None) -> Iterator[tuple[date, dict]]:
        """(local day, {start: (rank key, candidate)}) for each day from ``start``, in order: at
        each free start, the best-matched candidate free then."""
        if not candidates:
            return
        day, last = start or self.first_day(), self.last_day()
        leave_read, chunk = False, 0
        while day <= last:
            chunk_end = min(last, day + timedelta(days=_CHUNK_DAYS[min(chunk, len(_CHUNK_DAYS) - 1)] - 1))
            chunk += 1
            since = max(self.earliest, self._day(day)[0])
            until = min(self.end, self._day(chunk_end + timedelta(days=1))[0]) + self.grid.call
            self._busy(candidates, since, until, leave=not leave_read)
            leave_read = True
            while day <= chunk_end:
                yield day, self._free_on(day, candidates)
                day += timedelta(days=1)

    def _free_on(self, day: date, candidates: list[_Candidate]) -> dict:
        best: dict[int, tuple[tuple, _Candidate]] = {}
        if self.service.is_holiday(day):
            return best
        weekday, call = day.weekday(), self.grid.call
        earliest, end = self.earliest, self.end
        for c in candidates:
            windows = c.week[weekday]
            if not windows:
                continue
            for t in self._slot_starts(day, windows):
                if t < earliest or t >= end or c.busy(t, call):
                    continue
                key = (c.rank, c.load, c.id)
                held = best.get(t)
                if held is None or key < held[0]:
                    best[t] = (key, c)
        return best


def _candidates(session: Session, needs: Needs, officer_id: Optional[int] = None) -> list[_Candidate]:
    # The JSON columns as their text: most officers share a pattern, each is parsed once (cached).
    query = select(Officer.id, Officer.name, cast(Officer.languages, Text), Officer.ethnic_origin,
                   cast(Officer.working_pattern, Text)).where(Officer.active.is_(True))
    if needs.officer_sex is not None:
        query = query.where(Officer.sex == needs.officer_sex)  # the hard rule, in the query (may_match)
    if officer_id is not None:
        query = query.where(Officer.id == officer_id)
    out = []
    for id_, name, languages, ethnic_origin, pattern in session.execute(query):
        week = _week_of(pattern)
        if week is None:
            log.warning("officer %s has a working pattern that cannot be read: no calls offered with them", id_)
            continue
        speaks_it = speaks(_languages_of(languages), needs.language)
        same = needs.ethnic_origin is not None and ethnic_origin == needs.ethnic_origin
        out.append(_Candidate(id_, (name.split() or [name])[0], week, speaks_it, same, _rank(speaks_it, same)))
    return out


def _ceil(seconds: int, step: int) -> int:
    return -(-seconds // step) * step


def _offer(t: int, c: _Candidate, needs: Needs, grid: Grid, due: int) -> Offer:
    return Offer(
        officer_id=c.id,
        officer_name=c.first_name,
        starts_at=_instant(t),
        ends_at=_instant(t + grid.call),
        interpreter=None if c.speaks else needs.language,
        same_ethnic_origin=c.same_origin,
        within_first_contact=t <= due,
    )


def offers(session: Session, settings: Settings, needs: Needs, *, now: datetime, first_contact_due: datetime,
           limit: int = 4) -> list[Offer]:
    """Up to ``limit`` calls to offer, earliest first (see the module's rules); ``[]`` when no
    officer who may be matched is free in the horizon."""
    if limit < 1:
        return []
    grid = grid_of(settings)
    earliest = _ceil(_seconds(now + grid.notice), grid.slot)
    scan = _Scan(session, settings, needs, earliest=earliest, end=_seconds(now + grid.horizon))
    candidates = _candidates(session, needs)
    spread, due = int(SPREAD.total_seconds()), _seconds(first_contact_due)

    picks: list[tuple[int, tuple, _Candidate]] = []
    seen: list[tuple[int, tuple, _Candidate]] = []  # every free start, for when spread ones run short
    earliest_by_rank: dict[int, tuple[int, tuple, _Candidate]] = {}
    last_day = None
    for last_day, free in scan.days(candidates):
        for t in sorted(free):
            key, c = free[t]
            seen.append((t, key, c))
            earliest_by_rank.setdefault(c.rank, (t, key, c))
            if len(picks) < limit and (not picks or t >= picks[-1][0] + spread):
                picks.append((t, key, c))
        if len(picks) >= limit:
            break
    else:  # the whole horizon read: fill with the nearest free starts left
        taken = {t for t, _, _ in picks}
        picks += [s for s in seen if s[0] not in taken][: limit - len(picks)]
        picks.sort(key=lambda p: p[0])
    if not picks:
        return []

    # The best match there is, when only free later: its earliest slot replaces the last offer.
    best_possible = min(c.rank for c in candidates)
    best_picked = min(c.rank for _, _, c in picks)
    if limit >= 2 and best_picked > best_possible:
        for rank in range(best_possible, best_picked):
            found = earliest_by_rank.get(rank)
            if found is None and last_day is not None and last_day < scan.last_day():
                better = [c for c in candidates if c.rank == rank]
                for _, free in scan.days(better, start=last_day + timedelta(days=1)):
                    if free:
                        t = min(free)
                        found = (t, *free[t])
                        break
            if found is not None:
                picks = sorted(picks[:-1] + [found], key=lambda p: p[0])
                break
    return [_offer(t, c, needs, grid, due) for t, _, c in picks]


def is_free(session: Session, settings: Settings, officer_id: int, starts_at: datetime, needs: Needs, *,
            now: datetime, exclude_booking: Optional[int] = None) -> bool:
    """Whether a call with this officer may start then for this person: the same rules as
    ``offers`` (working pattern, grid, bank holidays, leave, booked calls, sex, safe times),
    from ``now`` rather than the notice (an offer taken a few minutes later still stands)."""
    grid = grid_of(settings)
    t = _seconds(starts_at)
    if t % grid.slot or t <= _seconds(now):
        return False
    candidates = _candidates(session, needs, officer_id)
    scan = _Scan(session, settings, needs, earliest=t, end=t + 1, exclude_booking=exclude_booking)
    for _, free in scan.days(candidates):
        return t in free
    return False

"""Service hours, bank holidays, and local times on the service's clock.

Office hours are a setting (``OFFICE_HOURS``, e.g. ``mon-fri 09:00-17:00; sat 10:00-13:00``),
in the service's local time (``SERVICE_TIMEZONE``, Europe/London: GMT in winter, BST in
summer). Bank holidays are those of one UK region (``BANK_HOLIDAYS``: ``england-wales``,
``scotland`` or ``northern-ireland``, from the ``holidays`` package); the service is closed
on them and no officer call is offered on them. Officers' working patterns use the same
week shape (``Week``), written as a mapping (``{"mon": [["09:00", "12:30"], ...]}``) or as
the same text as ``OFFICE_HOURS``.

Out of hours the bot says plainly when an officer will be in touch (``next_open``); danger
now goes to the on-call officer at once whatever the hour (bot/cases.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any, Mapping, Optional
from zoneinfo import ZoneInfo

import holidays

from bot.settings import Settings

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60

Window = tuple[int, int]  # [start, end) in minutes from local midnight; end may be 1440 (24:00)
Week = tuple[tuple[Window, ...], ...]  # seven days, Monday first, each its windows in order

# BANK_HOLIDAYS values and the holidays package's UK subdivisions (England and Wales share theirs).
REGIONS = {"england-wales": "ENG", "scotland": "SCT", "northern-ireland": "NIR"}

_CLOCK = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
_RANGE = re.compile(r"^(\S+?)\s*-\s*(\S+)$")


# --- Weeks: office hours and working patterns --------------------------------------------------


def minute_of(clock: str) -> int:
    """``"09:30"`` -> 570. 24:00 is the end of the day."""
    found = _CLOCK.match(str(clock).strip())
    if not found or (found.group(1) == "24" and found.group(2) != "00"):
        raise ValueError(f"a time is HH:MM between 00:00 and 24:00, got {clock!r}")
    return int(found.group(1)) * 60 + int(found.group(2))


def clock_of(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _week(days: list[list[Window]]) -> Week:
    """Each day's windows in order, checked: start before end, none overlapping."""
    out = []
    for name, windows in zip(DAYS, days):
        windows = sorted(windows)
        for start, end in windows:
            if start >= end:
                raise ValueError(f"{name}: {clock_of(start)}-{clock_of(end)} ends before it starts")
        for (s1, e1), (s2, e2) in zip(windows, windows[1:]):
            if s2 < e1:
                raise ValueError(f"{name}: {clock_of(s1)}-{clock_of(e1)} overlaps {clock_of(s2)}-{clock_of(e2)}")
        out.append(tuple(windows))
    if not any(out):
        raise ValueError("no working hours on any day")
    return tuple(out)


_DAY_NAMES = {**{d: i for i, d in enumerate(DAYS)},
              **{d: i for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}}


def _day_index(name: str) -> int:
    try:
        return _DAY_NAMES[name.strip().lower()]
    except KeyError:
        raise ValueError(f"a day is one of {', '.join(DAYS)}, got {name!r}") from None


def _window(text: str) -> Window:
    found = _RANGE.match(text.strip())
    if not found:
        raise ValueError(f"a time range is HH:MM-HH:MM, got {text!r}")
    return minute_of(found.group(1)), minute_of(found.group(2))


def parse_week_text(text: str) -> Week:
    """``"mon-fri 09:00-12:30, 13:30-17:00; sat 10:00-13:00"``: entries split by ``;``, each
    days (a day, a range ``mon-fri``, or a list ``mon,wed``) then one or more time ranges."""
    days: list[list[Window]] = [[] for _ in DAYS]
    entries = [e.strip() for e in re.split(r"[;\n]", text or "") if e.strip()]
    if not entries:
        raise ValueError("no hours given")
    for entry in entries:
        head, _, rest = re.sub(r"\s*([-,])\s*", r"\1", entry).partition(" ")
        if not rest.strip():
            raise ValueError(f"{entry!r} is '<days> HH:MM-HH:MM'")
        chosen: list[int] = []
        for part in head.split(","):
            first, dash, last = part.partition("-")
            a = _day_index(first)
            b = _day_index(last) if dash else a
            if b < a:
                raise ValueError(f"days run Monday to Sunday: {part!r}")
            chosen.extend(range(a, b + 1))
        windows = [_window(r) for r in re.split(r"[,\s]+", rest.strip()) if r]
        for index in chosen:
            days[index].extend(windows)
    return _week(days)


def parse_week_mapping(mapping: Mapping[str, Any]) -> Week:
    """``{"mon": [["09:00", "12:30"], ["13:30", "17:00"]], "sat": [["10:00", "13:00"]]}``."""
    if not isinstance(mapping, Mapping):
        raise ValueError("a working pattern maps days to lists of [start, end] times")
    days: list[list[Window]] = [[] for _ in DAYS]
    for name, windows in mapping.items():
        index = _day_index(str(name))
        if not isinstance(windows, (list, tuple)):
            raise ValueError(f"{name}: a list of [start, end] times")
        for window in windows:
            if isinstance(window, str):
                days[index].append(_window(window))
            elif isinstance(window, (list, tuple)) and len(window) == 2:
                days[index].append((minute_of(window[0]), minute_of(window[1])))
            else:
                raise ValueError(f"{name}: each window is [start, end], got {window!r}")
    return _week(days)


def parse_week(value: Any) -> Week:
    """A week from either form (text as OFFICE_HOURS, or a mapping)."""
    return parse_week_text(value) if isinstance(value, str) else parse_week_mapping(value)


def week_mapping(week: Week) -> dict[str, list[list[str]]]:
    """The stored (JSON) form of a week."""
    return {DAYS[i]: [[clock_of(s), clock_of(e)] for s, e in windows] for i, windows in enumerate(week) if windows}


# --- Local time on the service's clock -------------------------------------------------------------


def to_utc(day: date, minute: int, tz: ZoneInfo) -> Optional[datetime]:
    """The instant of a local date and time (minutes from midnight, up to 1440), as aware UTC;
    None when that local time does not exist (the hour skipped when the clocks go forward).
    In the hour repeated when they go back, the first is meant."""
    local = datetime.combine(day, time()) + timedelta(minutes=minute)
    instant = local.replace(tzinfo=tz).astimezone(timezone.utc)
    if instant.astimezone(tz).replace(tzinfo=None) != local:
        return None
    return instant


def local_midnight(day: date, tz: ZoneInfo) -> tuple[datetime, bool]:
    """The instant a local day starts, and whether the day is a plain 24 hours (no clock
    change), so that any minute of it is that instant plus the minutes."""
    start = to_utc(day, 0, tz)
    end = to_utc(day + timedelta(days=1), 0, tz)
    if start is None or end is None:  # a zone whose clocks change at midnight
        naive = datetime.combine(day, time()).replace(tzinfo=tz)
        return naive.astimezone(timezone.utc), False
    return start, end - start == timedelta(days=1)


# --- Bank holidays and service hours -----------------------------------------------------------------


@lru_cache(maxsize=64)
def _holiday_dates(subdivision: str, year: int) -> frozenset[date]:
    return frozenset(holidays.UK(subdiv=subdivision, years=year).keys())


def region_of(settings: Settings) -> str:
    try:
        return REGIONS[settings.bank_holidays]
    except KeyError:
        raise ValueError(f"BANK_HOLIDAYS is one of {', '.join(REGIONS)}, got {settings.bank_holidays!r}") from None


def is_bank_holiday(day: date, settings: Settings) -> bool:
    return day in _holiday_dates(region_of(settings), day.year)


@dataclass(frozen=True)
class ServiceHours:
    week: Week
    tz: ZoneInfo
    region: str

    def is_holiday(self, day: date) -> bool:
        return day in _holiday_dates(self.region, day.year)


@lru_cache(maxsize=16)
def _service_hours(office_hours: str, tz_name: str, region: str) -> ServiceHours:
    try:
        week = parse_week_text(office_hours)
    except ValueError as exc:
        raise ValueError(f"OFFICE_HOURS: {exc}") from None
    return ServiceHours(week, ZoneInfo(tz_name), region)


def service_hours(settings: Settings) -> ServiceHours:
    return _service_hours(settings.office_hours, settings.timezone, region_of(settings))


def _windows_on(day: date, hours: ServiceHours) -> list[tuple[datetime, datetime]]:
    """The day's open windows as instants (a window's part in a skipped hour is dropped)."""
    if hours.is_holiday(day):
        return []
    out = []
    for start, end in hours.week[day.weekday()]:
        starts = to_utc(day, start, hours.tz)
        ends = to_utc(day, end, hours.tz)
        if starts is None:  # opens in the skipped hour: open from when the clocks went forward
            starts = to_utc(day, (start // 60 + 1) * 60, hours.tz)
        if ends is None:
            ends = to_utc(day, (end // 60 + 1) * 60, hours.tz)
        if starts is not None and ends is not None and starts < ends:
            out.append((starts, ends))
    return out


def is_open(now: datetime, settings: Settings) -> bool:
    """Whether the service is open at ``now`` (aware): office hours, not a bank holiday."""
    hours = service_hours(settings)
    day = now.astimezone(hours.tz).date()
    return any(start <= now < end for start, end in _windows_on(day, hours))


def next_open(now: datetime, settings: Settings) -> datetime:
    """``now`` when the service is open, else when it next opens (aware UTC)."""
    hours = service_hours(settings)
    day = now.astimezone(hours.tz).date()
    for offset in range(400):  # a year of holidays could not hide every working day
        for start, end in _windows_on(day + timedelta(days=offset), hours):
            if start <= now < end:
                return now.astimezone(timezone.utc)
            if start > now:
                return start
    raise ValueError("OFFICE_HOURS: the service never opens")  # pragma: no cover - parse_week refuses this


def opens_later(now: datetime, settings: Settings) -> Optional[datetime]:
    """When the service next opens, if it is closed now (out of hours); None when open. The
    whole report and a booking are still taken out of hours, and immediate risk still goes to
    the on-call officer at once."""
    return None if is_open(now, settings) else next_open(now, settings)


def steps_out_of_hours(steps: list[str], opens: Optional[datetime], first_contact_due: datetime) -> list[str]:
    """What the person is told next (bot.cases.Submission.next_steps), out of hours: first, that
    the office is closed and when it opens; then the rest, without the first-contact time when it
    falls before the opening (a time that would not be kept: the case keeps its 24-hour clock, so
    officers see it). An anonymous report, or one without contact details, keeps its step, whose
    time is then the opening (``told_by``)."""
    if opens is None:
        return steps
    told = ["out_of_hours"] + steps
    return [s for s in told if s != "first_contact"] if opens > first_contact_due else told


def told_by(opens: Optional[datetime], first_contact_due: datetime) -> datetime:
    """When the person is told an officer will have looked at the report: the first-contact time,
    or the opening when the office is closed until after it."""
    return max(first_contact_due, opens) if opens is not None else first_contact_due

"""First free slots: ``bot.booking.slots.offers`` with 200 officers and a month of bookings.

Two SQLite databases, migrated the way ``make run`` does, with the same 200 officers: one with
a month of booked calls (about 60% of every officer's slots), the baseline with none. The same
requests (a woman who speaks Polish; Urdu with an ethnic preference; BSL; no preference) are
timed alternately on both, each in a fresh session as the action server makes one.
Aim: the median under 50 ms.

Run alone: ``.venv/bin/python -m bench.booking`` (prints the markdown section).
"""
from __future__ import annotations

import gc
import math
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert

from bot import migrate, settings as settings_module
from bot.booking import hours
from bot.booking.slots import Needs, grid_of, offers
from bot.db import session_factory
from bot.models import Booking, Officer

OFFICERS = 200
BOOKED_SHARE = 0.6
DAYS_BOOKED = 31
CALLS = 32  # timed calls per database (after 4 unmeasured warm-up calls each)
AIM_MS = 50.0
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)  # a Monday morning, before opening
NEEDS = [Needs("pl", "female", None), Needs("ur", None, "asian"), Needs("bsl", None, None), Needs("en", None, None)]
PATTERNS = ["mon-fri 09:00-12:30, 13:30-17:00", "mon-fri 09:00-17:00", "mon-thu 08:30-16:30",
            "tue-fri 12:00-20:00; sat 10:00-14:00", "mon,wed,fri 09:00-17:00"]
LANGUAGES = ["pl", "ur", "pa", "ar", "bn", "cy", "ro", "pt", "es", "so", "ti", "fa", "ku", "lt"]


def _officers(rng: random.Random) -> list[dict]:
    rows = []
    for i in range(OFFICERS):
        pattern = hours.week_mapping(hours.parse_week_text(rng.choice(PATTERNS)))
        languages = ["en"] + rng.sample(LANGUAGES, rng.choice([0, 1, 1, 2]))
        rows.append(dict(code=f"B{i:03d}", name=f"Officer{i} Bench", sex="female" if i % 2 else "male",
                         languages=languages, ethnic_origin=rng.choice(["asian", "black", "mixed", "white", "other", None]),
                         working_pattern=pattern, on_call=False, active=True, contact=f"log:b{i}",
                         created_at=NOW, updated_at=NOW))
    return rows


def _bookings(officers: list[dict], settings, rng: random.Random) -> list[dict]:
    """About BOOKED_SHARE of each officer's slots for a month, as the grid lays them out."""
    grid, service = grid_of(settings), hours.service_hours(settings)
    rows, serial = [], 0
    day0 = NOW.astimezone(service.tz).date()
    for officer_id, officer in enumerate(officers, start=1):
        week = hours.parse_week_mapping(officer["working_pattern"])
        for offset in range(DAYS_BOOKED):
            day = day0 + timedelta(days=offset)
            if service.is_holiday(day):
                continue
            for start, end in week[day.weekday()]:
                for minute in range(start, end - grid.call // 60 + 1, grid.slot // 60):
                    if rng.random() >= BOOKED_SHARE:
                        continue
                    starts_at = hours.to_utc(day, minute, service.tz)
                    serial += 1
                    rows.append(dict(reference=f"BENCH{serial:09d}", conversation_id=f"bench-{serial}",
                                     officer_id=officer_id, starts_at=starts_at,
                                     ends_at=starts_at + timedelta(seconds=grid.call), status="booked", revision=1,
                                     contact_method="phone", voicemail_ok=False, reminders_ok=False,
                                     update_frequency="weekly", language="en", failed_checks=0,
                                     created_at=NOW, updated_at=NOW))
    return rows


def _database(path: Path, officers: list[dict], bookings: list[dict]):
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    factory = session_factory(url)
    with factory() as session, session.begin():
        session.execute(insert(Officer), officers)
        for i in range(0, len(bookings), 5000):
            session.execute(insert(Booking), bookings[i:i + 5000])
    return factory


def _full_collections() -> int:
    return gc.get_stats()[2]["collections"]


def _time(factory, settings, needs: Needs) -> tuple[float, int, bool]:
    """(ms, offers made, whether a full garbage collection of the process ran meanwhile)."""
    collections = _full_collections()
    start = time.perf_counter()
    with factory() as session:
        found = offers(session, settings, needs, now=NOW, first_contact_due=NOW + timedelta(hours=24))
    return (time.perf_counter() - start) * 1000, len(found), _full_collections() > collections


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]  # nearest rank


def offers_figures(tmp: Path | None = None) -> dict:
    """Median and p95 (ms) of ``offers()`` with a month of bookings and on an empty bookings table."""
    owned = tmp is None
    tmp = Path(tempfile.mkdtemp(prefix="hcbot-bench-offers-")) if owned else tmp
    try:
        rng = random.Random(4)
        settings = settings_module.load()
        officers = _officers(rng)
        bookings = _bookings(officers, settings, rng)
        loaded = _database(tmp / "offers-booked.db", officers, bookings)
        empty = _database(tmp / "offers-empty.db", officers, [])
        booked_count = len(bookings)
        del bookings  # the set-up's rows are not the server's: let the collector forget them
        gc.collect()
        settings = replace(settings, database_url=f"sqlite:///{tmp / 'offers-booked.db'}")
        for factory in (loaded, empty):  # warm-up: connections, caches
            for needs in NEEDS:
                _time(factory, settings, needs)
        timings: dict[str, list[tuple[float, int, bool]]] = {"booked": [], "empty": []}
        for i in range(CALLS):
            needs = NEEDS[i % len(NEEDS)]
            for label, factory in (("booked", loaded), ("empty", empty)):
                timings[label].append(_time(factory, settings, needs))
        result = {}
        for label, calls in timings.items():
            ms = [t for t, _, _ in calls]
            quiet = [t for t, _, full in calls if not full] or ms
            result[label] = {"median": statistics.median(ms), "p95": _pct(ms, 95), "max": max(ms),
                             "p95_quiet": _pct(quiet, 95), "full_gc": sum(full for _, _, full in calls),
                             "offers": sum(n for _, n, _ in calls) / CALLS}
        result.update(officers=len(officers), bookings=booked_count, calls=CALLS)
        return result
    finally:
        if owned:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


def markdown(figures: dict) -> list[str]:
    booked, empty = figures["booked"], figures["empty"]
    ratio = booked["median"] / empty["median"] if empty["median"] else float("nan")
    met = "**met**" if booked["median"] < AIM_MS else "**not met**"
    return [
        f"## First free slots ({figures['officers']} officers, {figures['bookings']} calls booked over a month, SQLite)",
        "",
        f"`offers()` in a fresh session, {figures['calls']} calls per database, the needs rotating (a woman who speaks "
        "Polish; Urdu with an ethnic preference; BSL; none); baseline: the same officers with no bookings.",
        "",
        "| | baseline (no bookings) | a month of bookings | bookings / baseline |",
        "|---|---:|---:|---:|",
        f"| median (ms) | {empty['median']:.1f} | {booked['median']:.1f} | {ratio:.2f}x |",
        f"| p95 (ms) | {empty['p95']:.1f} | {booked['p95']:.1f} | |",
        f"| max (ms) | {empty['max']:.1f} | {booked['max']:.1f} | |",
        f"| calls during which Python ran a full garbage collection | {empty['full_gc']} | {booked['full_gc']} | |",
        f"| p95 of the other calls (ms) | {empty['p95_quiet']:.1f} | {booked['p95_quiet']:.1f} | |",
        f"| offers per call | {empty['offers']:.1f} | {booked['offers']:.1f} | |",
        "",
        f"Aim: median under {AIM_MS:.0f} ms: {met} ({booked['median']:.1f} ms). The slowest calls are those a full "
        "collection of the whole process's objects fell in (tens of ms, whatever the request).",
    ]


if __name__ == "__main__":
    print("\n".join(markdown(offers_figures())))
    sys.exit(0)

"""Dates and times as a person reads them, in the service's time zone (Babel)."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

LOCALES = {"en": "en_GB"}


def _locale(language: str) -> str:
    return LOCALES.get(language, "en_GB")


def format_when(moment: datetime, language: str, timezone: str) -> str:
    """'9:30 am on Sunday 22 November' in the service's local time (with daylight saving)."""
    return format_datetime(moment, "h:mm a 'on' EEEE d MMMM", tzinfo=ZoneInfo(timezone), locale=_locale(language))


def format_day(day: date, language: str) -> str:
    return format_date(day, "EEEE d MMMM y", locale=_locale(language))

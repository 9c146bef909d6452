"""Dates and times as a person reads them, in the service's time zone (Babel)."""
from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time

from bot.settings import Settings

LOCALES = {"en": "en_GB"}


def _locale(language: str) -> str:
    return LOCALES.get(language, "en_GB")


def format_when(moment: datetime, language: str, timezone: str) -> str:
    """'9:30 am on Sunday 22 November' in the service's local time (with daylight saving)."""
    return format_datetime(moment, "h:mm a 'on' EEEE d MMMM", tzinfo=ZoneInfo(timezone), locale=_locale(language))


def format_day(day: date, language: str) -> str:
    return format_date(day, "EEEE d MMMM y", locale=_locale(language))


# --- A call's time, as the person reads it (bot/booking/) ---------------------------------------

# The locale for each conversation language of the contract (Punjabi in Gurmukhi, CLDR's default).
CALL_LOCALES = {"en": "en_GB", "cy": "cy_GB", "pl": "pl_PL", "ro": "ro_RO", "pa": "pa", "ur": "ur",
                "pt": "pt_PT", "es": "es_ES", "ar": "ar", "bn": "bn"}
# Patterns checked by hand; any other language composes its locale's own date and time formats.
_CALL_PATTERNS = {
    "cy": "EEEE d MMMM 'am' HH:mm",
    "pl": "EEEE, d MMMM 'o' HH:mm",
    "ro": "EEEE, d MMMM 'la' HH:mm",
    "pt": "EEEE, d 'de' MMMM 'às' HH:mm",
    "es": "EEEE d 'de' MMMM 'a las' H:mm",
}
_YEAR = re.compile(r"[\s,،]*(?:'de'\s*)?y+")


def _english_clock(local: datetime) -> str:
    """GOV.UK style: 9am, 10:30am, midday, 2:15pm."""
    if (local.hour, local.minute) == (12, 0):
        return "midday"
    if (local.hour, local.minute) == (0, 0):
        return "midnight"
    hour = local.hour % 12 or 12
    minutes = f":{local.minute:02d}" if local.minute else ""
    return f"{hour}{minutes}{'am' if local.hour < 12 else 'pm'}"


def spoken_time(moment: datetime, language: str, settings: Settings) -> str:
    """A call's day and time in the service's local time (daylight saving included), as a
    person reads it: "Monday 23 November at 10:30am", "poniedziałek, 23 listopada o 10:30"."""
    tz = ZoneInfo(settings.timezone)
    locale = Locale.parse(CALL_LOCALES.get(language, "en_GB"))
    if language not in CALL_LOCALES or language == "en":
        local = moment.astimezone(tz)
        return f"{format_date(local, 'EEEE d MMMM', locale='en_GB')} at {_english_clock(local)}"
    if language in _CALL_PATTERNS:
        return format_datetime(moment, _CALL_PATTERNS[language], tzinfo=tz, locale=locale)
    day_pattern = _YEAR.sub("", locale.date_formats["full"].pattern).strip(" ,،")
    day = format_datetime(moment, day_pattern, tzinfo=tz, locale=locale)
    clock = format_time(moment, "short", tzinfo=tz, locale=locale)
    return locale.datetime_formats["full"].replace("'", "").replace("{1}", day).replace("{0}", clock)

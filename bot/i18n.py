"""Every text the bot sends, in the conversation's language: the Babel catalogs, read at
run time, and dates and times as a person reads them (Babel's CLDR data).

The English source text lives where it is used (domain.yml's responses, the questionnaires,
strings marked ``N_`` in bot/ and actions/); ``make update-messages`` extracts it into
``locales/messages.pot`` and merges it into each language's catalog (bot/i18n_catalogs.py),
``make compile-messages`` writes the ``.mo`` files read here. A message missing from a
catalog falls back to the English, never to nothing.
"""
from __future__ import annotations

import gettext as _gettext
import re
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time

from bot.languages import LANGUAGES, supported
from bot.settings import ROOT, Settings

LOCALE_DIR = ROOT / "locales"
DOMAIN = "messages"
RLM = "\u200f"  # RIGHT-TO-LEFT MARK


def N_(message: str) -> str:
    """Marks English source text for the catalogs, where it is defined (translated where it is sent)."""
    return message


def NP_(singular: str, plural: str) -> tuple[str, str]:
    """Marks English source text with a plural form (see translate_plural)."""
    return singular, plural


@lru_cache(maxsize=None)
def translations(language: str) -> _gettext.NullTranslations:
    return _gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[supported(language)], fallback=True)


def translate(message: str, language: str) -> str:
    """The message in the language (its English source text when it has no translation)."""
    if not message or supported(language) == "en":
        return message
    return translations(language).gettext(message)


def translate_plural(forms: tuple[str, str], n: int, language: str) -> str:
    """The right plural form for ``n`` in the language (Polish, Welsh and Arabic have several),
    with ``{count}`` filled in: ``forms`` is an ``NP_`` pair."""
    singular, plural = forms
    if supported(language) == "en":
        chosen = singular if n == 1 else plural
    else:
        chosen = translations(language).ngettext(singular, plural, n)
    return chosen.replace("{count}", str(n))


def is_rtl(language: str) -> bool:
    return LANGUAGES[supported(language)].rtl


def mark_direction(text: str, language: str) -> str:
    """Arabic and Urdu text marked right-to-left: each line begins with a RIGHT-TO-LEFT MARK, so a
    line that starts with a number or a reference ("HC-2026-...") still reads right to left in
    the widget (dir="auto") and in a phone's messages app."""
    if not text or not is_rtl(language):
        return text
    return "\n".join(line if not line or line.startswith(RLM) else RLM + line for line in text.split("\n"))


def _locale(language: str) -> str:
    return LANGUAGES[supported(language)].locale


def format_when(moment: datetime, language: str, timezone: str) -> str:
    """When something happened, in the service's local time (daylight saving included), in the
    language's own format: "9:30 am on Sunday 22 November", "niedziela, 22 listopada, 09:30"."""
    if supported(language) == "en":
        return format_datetime(moment, "h:mm a 'on' EEEE d MMMM", tzinfo=ZoneInfo(timezone), locale="en_GB")
    return format_datetime(moment, "medium", tzinfo=ZoneInfo(timezone), locale=_locale(language))


def format_day(day: date, language: str) -> str:
    if supported(language) == "en":
        return format_date(day, "EEEE d MMMM y", locale="en_GB")
    return format_date(day, "full", locale=_locale(language))


# --- A call's time, as the person reads it (bot/booking/) ---------------------------------------

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
    locale = Locale.parse(_locale(language))
    if supported(language) == "en":
        local = moment.astimezone(tz)
        return f"{format_date(local, 'EEEE d MMMM', locale='en_GB')} at {_english_clock(local)}"
    if language in _CALL_PATTERNS:
        return format_datetime(moment, _CALL_PATTERNS[language], tzinfo=tz, locale=locale)
    day_pattern = _YEAR.sub("", locale.date_formats["full"].pattern).strip(" ,،")
    day = format_datetime(moment, day_pattern, tzinfo=tz, locale=locale)
    clock = format_time(moment, "short", tzinfo=tz, locale=locale)
    return locale.datetime_formats["full"].replace("'", "").replace("{1}", day).replace("{0}", clock)

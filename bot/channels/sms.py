"""Text messages as a phone shows them: numbered options for buttons, the words Twilio and the
service answer to, and long replies split into as few SMS segments as possible.

Pure functions: no database, no Rasa (bot/channels/phone.py and bot/rasa_ext/twilio_channel.py
use them).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Optional

from bot.i18n import N_, translate

# --- The words a text can be ------------------------------------------------------------------

# Twilio's own (Advanced Opt-Out defaults): the number is blocked at Twilio on an opt-out word,
# unblocked on an opt-in word; the message still reaches the webhook. A whole message, any case.
OPT_OUT_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"})
OPT_IN_WORDS = frozenset({"start", "unstop", "yes"})  # "yes" only undoes an opt-out; otherwise it is an answer
HELP_WORDS = frozenset({"help", "info"})
# The service's own: end the conversation and forget a report not yet sent (the quick exit of a text).
EXIT_WORDS = frozenset({"exit"})


def keyword(body: str) -> str:
    """The whole message as one word, lower case, without surrounding spaces or punctuation."""
    return re.sub(r"[\s.!?¡¿,;:'\"]+", " ", body or "").strip().lower()


# --- Numbered options ---------------------------------------------------------------------------

REPLY_WITH = N_("Reply with a number from 1 to {last}.")


def with_options(text: str, options: list[dict], language: str) -> str:
    """A message and its buttons as a text: each option on its own line after its number, then
    how to answer."""
    if not options:
        return text
    lines = [text.rstrip(), ""] if text and text.strip() else []
    lines += [f"{n}. {option['title']}" for n, option in enumerate(options, start=1)]
    lines.append(translate(REPLY_WITH, language).replace("{last}", str(len(options))))
    return "\n".join(lines)


def chosen_option(body: str, options: Optional[list[dict]]) -> Optional[dict]:
    """The option a reply picks: its number ("2", "2.", " 2 ", "#2", "٢", "২"), or its title typed
    out in full; None when it picks none (the reply is then read as written)."""
    if not options:
        return None
    text = unicodedata.normalize("NFKC", body or "").strip().strip(".)#").strip()
    digits = "".join(str(unicodedata.digit(ch, -1)) if ch.isdigit() else ch for ch in text)
    if digits.isdigit():
        n = int(digits)
        return options[n - 1] if 1 <= n <= len(options) else None
    folded = text.casefold()
    for option in options:
        if folded and folded == str(option.get("title", "")).strip().casefold():
            return option
    return None


# --- Segments ----------------------------------------------------------------------------------

# GSM 03.38: the basic set (one septet each) and the extension set (two: escape + char).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")

SINGLE = {"gsm7": 160, "ucs2": 70}  # characters (septets, or UTF-16 units) in a message of one segment

# Typography a phone would otherwise send as UCS-2 (70 characters a segment instead of 160).
_TO_GSM = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u2026": "...", "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2022": "-", "\u00b7": "-",
})


def gsm_cost(text: str) -> Optional[int]:
    """Septets ``text`` takes in GSM-7, or None when it needs UCS-2."""
    cost = 0
    for ch in text:
        if ch in GSM7_BASIC:
            cost += 1
        elif ch in GSM7_EXTENDED:
            cost += 2
        else:
            return None
    return cost


def for_sms(text: str) -> str:
    """Curly quotes, dashes and ellipses as their plain forms, when that is all that keeps the text
    from GSM-7; text that needs UCS-2 anyway is left as written."""
    plain = text.translate(_TO_GSM)
    return plain if gsm_cost(plain) is not None else text


def encoding(text: str) -> str:
    return "gsm7" if gsm_cost(text) is not None else "ucs2"


def _length(text: str, enc: str) -> int:
    if enc == "gsm7":
        return gsm_cost(text) or 0
    return len(text.encode("utf-16-le")) // 2  # an emoji is two UTF-16 units


# After a sentence's end, but not a numbered option's "2." (a digit before the stop).
_SENTENCE_END = re.compile(r"(?<=[^\d\s][.!?。؟۔।])\s+|\n+")


def _pieces(text: str, limit: int, enc: str) -> list[str]:
    """Sentences (and lines), each further cut at spaces, then anywhere, to fit ``limit``."""
    out = []
    for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
        if not sentence:
            continue
        if _length(sentence, enc) <= limit:
            out.append(sentence)
            continue
        word_run = ""
        for word in sentence.split(" "):
            candidate = f"{word_run} {word}".strip()
            if _length(candidate, enc) <= limit:
                word_run = candidate
                continue
            if word_run:
                out.append(word_run)
            while _length(word, enc) > limit:  # one "word" longer than a message (a URL)
                cut = limit
                while _length(word[:cut], enc) > limit:
                    cut -= 1
                out.append(word[:cut])
                word = word[cut:]
            word_run = word
        if word_run:
            out.append(word_run)
    return out


def split_segments(text: str, limit: Optional[int] = None) -> list[str]:
    """``text`` as SMS messages of one segment each (160 GSM-7 or 70 UCS-2 characters), broken
    between sentences where it can be, then between words: as few as can be made in order.
    Line breaks between sentences are kept; a break moved to a message boundary is dropped.
    With ``limit`` (WhatsApp's message length), messages of up to that many characters."""
    text = (for_sms(text) if limit is None else text).strip()
    if not text:
        return []
    enc = encoding(text) if limit is None else "ucs2"
    limit = limit or SINGLE[enc]
    if _length(text, enc) <= limit:
        return [text]
    messages: list[str] = []
    current = ""
    # Keep the line structure: pieces joined by the whitespace that separated them.
    for piece, joiner in _with_joiners(text, limit, enc):
        candidate = f"{current}{joiner}{piece}" if current else piece
        if _length(candidate, enc) <= limit:
            current = candidate
        else:
            messages.append(current)
            current = piece
    if current:
        messages.append(current)
    return messages


def _with_joiners(text: str, limit: int, enc: str) -> list[tuple[str, str]]:
    """Each piece with what joins it to the one before: a line break where the text had one."""
    out = []
    for n, line in enumerate(text.split("\n")):
        for m, piece in enumerate(_pieces(line, limit, enc)):
            out.append((piece, "\n" if (n and not m) else " "))
    return out


# --- What the service says on its own -----------------------------------------------------------

HELP_REPLY = N_(
    "This is the confidential line for reporting hate crime and harassment to your housing "
    "association. If you are in danger now, call 999. Text EXIT to end this conversation and "
    "delete a report you have not sent. Text STOP to get no more messages from this number."
)
EXIT_REPLY = N_(
    "This conversation has ended and what you had not sent has been deleted. If you are in "
    "danger now, call 999. Text us again at any time to start a new report."
)
MEDIA_QUESTION = N_(
    "Thank you for sending this. Shall we keep it with your report as evidence? Only the officers "
    "handling your report will see it."
)
MEDIA_KEEP = N_("Yes, keep it with my report")
MEDIA_DELETE = N_("No, delete it")
MEDIA_KEPT = N_("Thank you, it is kept with your report.")
MEDIA_DELETED = N_("It has been deleted and is not kept.")
MEDIA_NOT_KEPT = N_("The photo or file you sent has not been kept. Send it again if you want it kept with your report.")
MEDIA_FAILED = N_("Sorry, we could not receive that file. You can tell the officer about it when they contact you.")

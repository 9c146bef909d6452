"""Reading a person's reply to a question: a button, their own words, a skip, or a command.

This is where "answerable with buttons or in their own words" and "skippable"
are decided, for every question, without Rasa: the action passes in what the
language model made of the message (intent and confidence) and the text.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Optional

import phonenumbers

from bot.report.questions import SKIPPED, Question

# Intents that interrupt a question; each has a rule in data/rules/ (a test checks).
COMMAND_INTENTS = frozenset({"stop", "go_back", "change_answer", "ask_about_service", "danger"})
# A long free-text answer that mentions "stop" is an answer, not a command.
MAX_COMMAND_WORDS_IN_FREE_TEXT = 5
COMMAND_CONFIDENCE = 0.6
ANSWER_CONFIDENCE = 0.6
MAX_TEXT_CHARS = 4000

SKIP_PHRASES = (
    "skip", "pass", "rather not say", "rather not", "prefer not to say", "prefer not", "no comment",
    "don't want to say", "dont want to say", "don't want to answer", "next question",
)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]{2,}$")


@dataclass(frozen=True)
class Reply:
    text: str
    intent: Optional[str] = None
    confidence: float = 0.0
    value: Optional[str] = None  # from a button payload /choose{"value": ...}

    @property
    def is_payload(self) -> bool:
        return self.text.startswith("/")


@dataclass(frozen=True)
class Outcome:
    kind: str  # answer | skip | command | unclear
    value: Any = None
    problem: Optional[str] = None  # for unclear: choice | text | date | future_date | contact

    @property
    def slot_value(self) -> Any:
        return SKIPPED if self.kind == "skip" else self.value


def normalise(text: str) -> str:
    """Lower case, accents off, punctuation to spaces, single spaces, apostrophes unified."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'").replace("‘", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[^\w']+", " ", text)
    return " ".join(text.split())


@lru_cache(maxsize=None)
def _pattern(words: tuple[str, ...]) -> re.Pattern:
    parts = []
    for w in words:
        w = normalise(w.rstrip("*")) + ("*" if w.endswith("*") else "")
        body = re.escape(w.rstrip("*")).replace(r"\ ", r"\s+")
        parts.append(body + (r"\w*" if w.endswith("*") else ""))
    return re.compile(r"(?<![\w'])(?:" + "|".join(parts) + r")(?![\w'])")


def matching_options(question: Question, text: str) -> list[str]:
    """The options the words pick, in the question's order. A match inside a longer
    match of another option does not count ("once" in "more than once")."""
    norm = normalise(text)
    spans: dict[str, list[tuple[int, int]]] = {}
    for opt in question.options:
        if normalise(opt.label) == norm:
            return [opt.value]
        if opt.words:
            found = [m.span() for m in _pattern(opt.words).finditer(norm)]
            if found:
                spans[opt.value] = found

    def inside_another(value: str, span: tuple[int, int]) -> bool:
        return any(
            other != value and o[0] <= span[0] and span[1] <= o[1] and (o[1] - o[0]) > (span[1] - span[0])
            for other, other_spans in spans.items()
            for o in other_spans
        )

    return [v for v, found in spans.items() if any(not inside_another(v, span) for span in found)]


def _word_count(text: str) -> int:
    return len(normalise(text).split())


# A typed command that undoes or discards answers must also say so in words: a
# misread answer must never throw a report away or unwind it.
COMMAND_WORDS = {
    "stop": (
        "stop*", "cancel*", "quit", "exit", "end", "delete*", "forget*", "never mind", "nevermind", "leave it",
        "don't want", "dont want", "do not want", "no more", "enough", "finish*", "abort",
    ),
    "go_back": ("back", "previous", "undo", "last question", "before", "mistake", "oops", "wait"),
    "change_answer": (
        "chang*", "wrong", "edit*", "correct*", "fix*", "mistake*", "amend*", "update*", "not right", "incorrect",
    ),
}


def _is_command(question: Question, reply: Reply) -> bool:
    if reply.intent not in COMMAND_INTENTS:
        return False
    if reply.is_payload:
        return True
    if reply.confidence < COMMAND_CONFIDENCE:
        return False
    if reply.intent == "danger":
        return True  # a false alarm costs a sentence; a miss can cost a life
    if question.kind == "text" and _word_count(reply.text) > MAX_COMMAND_WORDS_IN_FREE_TEXT:
        return False
    if question.options and matching_options(question, reply.text):
        return False  # it answers the question ("more than once" is not "stop")
    words = COMMAND_WORDS.get(reply.intent)
    if words and not _pattern(words).search(normalise(reply.text)):
        return False
    return True


def _is_skip(question: Question, reply: Reply) -> bool:
    norm = normalise(reply.text)
    if any(norm == normalise(p) for p in SKIP_PHRASES):
        return True
    if reply.intent == "skip" and (reply.is_payload or reply.confidence >= ANSWER_CONFIDENCE):
        return question.kind != "text" or _word_count(reply.text) <= 8
    return False


def read_reply(question: Question, reply: Reply, today: date) -> Outcome:
    """What this reply means as an answer to ``question``."""
    if _is_command(question, reply):
        return Outcome("command")
    if _is_skip(question, reply):
        return Outcome("skip")
    if reply.is_payload:
        return _read_payload(question, reply, today)
    if question.kind == "text":
        return _read_text(question, reply)
    if question.kind == "contact":
        return Outcome("skip") if _declines(reply) else _read_contact(reply.text)
    return _read_options(question, reply, today)


def _confident(reply: Reply, intent: str) -> bool:
    return reply.intent == intent and reply.confidence >= ANSWER_CONFIDENCE


def _declines(reply: Reply) -> bool:
    return _confident(reply, "deny") or normalise(reply.text) in ("no", "nope", "nothing", "no thanks", "none")


def _wrap(question: Question, value: str) -> Any:
    return [value] if question.kind == "multi" else value


def _read_payload(question: Question, reply: Reply, today: date) -> Outcome:
    if reply.intent == "choose" and reply.value and question.option(reply.value):
        if question.kind == "when":
            return Outcome("answer", _when_value(reply.value, today))
        return Outcome("answer", _wrap(question, reply.value))
    by_intent = {"affirm": question.on_affirm, "deny": question.on_deny, "dont_know": question.on_dont_know}
    if by_intent.get(reply.intent or ""):
        return Outcome("answer", _wrap(question, by_intent[reply.intent]))
    return Outcome("unclear", problem="choice")


def _read_text(question: Question, reply: Reply) -> Outcome:
    text = reply.text.strip()
    if not text:
        return Outcome("unclear", problem="text")
    # "No" to an optional free-text question ("anything about them?") means nothing to add.
    if question.slot != "description" and _declines(reply):
        return Outcome("skip")
    return Outcome("answer", text[:MAX_TEXT_CHARS])


def _read_contact(text: str) -> Outcome:
    text = text.strip()
    if EMAIL.match(text):
        return Outcome("answer", {"email": text.lower()})
    try:
        number = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException:
        number = None
    # "Possible" (right length for the country), not "valid": numbering metadata goes out of
    # date, and turning away someone's real number is worse than an odd one reaching an officer.
    if number is not None and phonenumbers.is_possible_number(number):
        return Outcome("answer", {"phone": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)})
    return Outcome("unclear", problem="contact")


def _read_options(question: Question, reply: Reply, today: date) -> Outcome:
    text = reply.text.strip()
    norm = normalise(text)
    # A number picks the option in that place ("2"), as on SMS.
    if norm.isdigit() and 1 <= int(norm) <= len(question.options):
        value = question.options[int(norm) - 1].value
        return Outcome("answer", _when_value(value, today) if question.kind == "when" else _wrap(question, value))
    found = matching_options(question, text)
    if question.kind == "multi" and found:
        return Outcome("answer", found)
    if len(found) == 1:
        value = found[0]
        return Outcome("answer", _when_value(value, today) if question.kind == "when" else value)
    if question.kind == "when":
        parsed = parse_date(text, today)
        if parsed is not None:
            if parsed > today:
                return Outcome("unclear", problem="future_date")
            return Outcome("answer", parsed.isoformat())
    for intent, value in (("affirm", question.on_affirm), ("deny", question.on_deny), ("dont_know", question.on_dont_know)):
        if value and _confident(reply, intent):
            return Outcome("answer", _wrap(question, value) if question.kind != "when" else value)
    if reply.intent == "dont_know" and question.on_dont_know is None and not found:
        return Outcome("skip")
    return Outcome("unclear", problem="date" if question.kind == "when" else "choice")


def _when_value(value: str, today: date) -> str:
    """Today and yesterday become dates at once (the report may be sent later); periods stay."""
    if value == "today":
        return today.isoformat()
    if value == "yesterday":
        return (today - timedelta(days=1)).isoformat()
    return value


def parse_date(text: str, today: date, language: str = "en") -> Optional[date]:
    import dateparser  # imported on first use: it loads its language data lazily

    base = datetime(today.year, today.month, today.day, 12, 0)
    found = dateparser.parse(
        text,
        languages=[language],
        settings={"PREFER_DATES_FROM": "past", "RELATIVE_BASE": base, "DATE_ORDER": "DMY", "STRICT_PARSING": False},
    )
    return found.date() if found else None

"""Reading a person's reply to a question: a button, their own words, a skip, or a command.

This is where "answerable with buttons or in their own words" and "skippable"
are decided, for every question, without Rasa: the action passes in what the
language model made of the message (intent and confidence) and the text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Optional

import phonenumbers

from bot.i18n import translate
from bot.languages import mentioned_language
from bot.report.questions import SKIPPED, Question
from bot.text import normalise

# Intents that interrupt a question; each has a rule in data/rules/ (a test checks).
COMMAND_INTENTS = frozenset({"stop", "go_back", "change_answer", "ask_about_service", "danger", "not_now",
                             "choose_language"})
COMMAND_CONFIDENCE = 0.6
# In the other nine languages a typed command is known by the language model alone (the word
# lists below are English): sure, and short, so that an account of what happened is never
# read as "stop".
SURE_COMMAND_CONFIDENCE = 0.9
SHORT_COMMAND_WORDS = 4
ANSWER_CONFIDENCE = 0.6
MAX_TEXT_CHARS = 4000

SKIP_PHRASES = (
    "skip", "pass", "rather not say", "rather not", "prefer not to say", "prefer not", "no comment",
    "don't want to say", "dont want to say", "don't want to answer", "next question",
)
# A reply that starts like this refuses the question ("don't want to give my name").
REFUSALS = (
    "i'd rather not", "id rather not", "i would rather not", "rather not", "prefer not", "i prefer not",
    "don't want to give", "dont want to give", "do not want to give", "i don't want to give", "i dont want to give",
    "not giving", "won't give", "wont give", "i won't give", "don't want to say", "dont want to say",
)
# Words that negate what follows them ("no photos", "wasn't violent", "never stopped").
NEGATORS = frozenset(
    "not no never nothing none nobody without don't dont didn't didnt wasn't wasnt isn't isnt hasn't hasnt "
    "haven't havent won't wont can't cant doesn't doesnt aren't arent weren't werent".split()
)
NEGATION_REACH = 2  # words before a match that can negate it
# Options that mean "none of these": never picked together with another.
EXCLUSIVE = frozenset({"none", "none_known"})
PAYLOAD = re.compile(r"/[a-z_]+(@[0-9.]+)?(\{.*\})?", re.S)  # Rasa's: /intent, a confidence, entities
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]{2,}$")


@dataclass(frozen=True)
class Reply:
    text: str
    intent: Optional[str] = None
    confidence: float = 0.0
    value: Optional[str] = None  # from a button payload /choose{"value": ...}
    language: str = "en"  # the conversation's

    @property
    def is_payload(self) -> bool:
        """A button's payload (/intent or /intent{...}), not just any text that starts with '/'."""
        return bool(PAYLOAD.fullmatch(self.text.strip()))


@dataclass(frozen=True)
class Outcome:
    kind: str  # answer | skip | command | unclear
    value: Any = None
    problem: Optional[str] = None  # for unclear: choice | text | date | future_date | contact
    danger: bool = False  # the answer also says they are in danger now

    @property
    def slot_value(self) -> Any:
        return SKIPPED if self.kind == "skip" else self.value


@lru_cache(maxsize=None)
def _phrases(phrases: tuple[str, ...]) -> frozenset[str]:
    """The phrases as normalised text, worked out once (replies are matched against them every turn)."""
    return frozenset(normalise(p) for p in phrases)


@lru_cache(maxsize=None)
def _pattern(words: tuple[str, ...]) -> re.Pattern:
    parts = []
    for w in words:
        w = normalise(w.rstrip("*")) + ("*" if w.endswith("*") else "")
        body = re.escape(w.rstrip("*")).replace(r"\ ", r"\s+")
        parts.append(body + (r"\w*" if w.endswith("*") else ""))
    return re.compile(r"(?<![\w'])(?:" + "|".join(parts) + r")(?![\w'])")


def _negated(norm: str, span: tuple[int, int]) -> bool:
    before = norm[: span[0]].split()[-NEGATION_REACH:]
    after = norm[span[1]:].split()[:1]
    own = set(norm[span[0]: span[1]].split())
    negating = set(before) | ({"not"} & set(after))  # "no photos"; "of course not"
    return not (own & NEGATORS) and bool(negating & NEGATORS)


def matching_options(question: Question, text: str, language: str = "en") -> list[str]:
    """The options the words pick, in the question's order (an option's label in the language
    of the conversation picks it too). A match inside a longer match
    of another option does not count ("once" in "more than once"), nor does a negated one
    ("no photos", "it wasn't violent")."""
    norm = normalise(text)
    spans: dict[str, list[tuple[int, int]]] = {}
    for opt in question.options:
        if normalise(opt.label) == norm or normalise(translate(opt.label, language)) == norm:
            return [opt.value]
        if opt.words:
            found = [m.span() for m in _pattern(opt.words).finditer(norm) if not _negated(norm, m.span())]
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


# A typed command that unwinds answers must also say so in words: a misread answer must
# never unwind a report (and "stop" must be the whole message: see WHOLE_COMMANDS).
COMMAND_WORDS = {
    "go_back": ("back", "previous", "undo", "last question", "before", "mistake", "oops", "wait"),
    "change_answer": (
        "chang*", "wrong", "edit*", "correct*", "fix*", "mistake*", "amend*", "update*", "not right", "incorrect",
    ),
}


# In a free-text answer a command must be the whole message: "back gate" is an address and
# "please make it stop" is what happened.
WHOLE_COMMANDS = {
    "stop": (
        "stop", "stop it", "stop this", "stop now", "stop please", "please stop", "cancel", "cancel it",
        "cancel this", "cancel the report", "cancel report", "cancel everything", "quit", "exit", "end", "end chat",
        "abort", "delete", "delete it", "delete this", "delete everything", "delete my report", "forget it",
        "i want to stop", "i want to stop now", "stop the report", "stop the chat", "stop reporting",
        "i don't want to do this", "i dont want to do this", "i don't want to do this any more",
        "i want to cancel", "cancel my report",
    ),
    "go_back": (
        "back", "go back", "go back please", "back please", "previous", "previous question", "undo", "wait go back",
        "can i go back", "last question", "the last question", "take me back", "go back a question",
    ),
    "not_now": (
        "not now", "later", "later please", "maybe later", "another time", "not right now", "i can't talk now",
        "i cant talk now", "can't talk now", "cant talk now", "i have to go", "i need to go", "i'll come back later",
        "ill come back later", "i'll finish later", "i'll do it later", "can we do this later", "not a good time",
    ),
    "change_answer": (
        "change", "change answer", "change an answer", "change my answer", "edit", "edit answer", "edit an answer",
        "i want to change an answer", "i want to change my answer", "correct an answer", "that's wrong",
        "thats wrong", "fix an answer", "change something", "i need to change an answer",
    ),
}
QUESTION_WORDS = ("what", "who", "why", "how", "is", "are", "will", "can", "does", "do", "where", "when")


def _sure_and_short(reply: Reply) -> bool:
    """In a language without word lists here: the model is sure, and the message is short and
    has no digits (a number, a date or an address is an answer)."""
    return (reply.confidence >= SURE_COMMAND_CONFIDENCE and _word_count(reply.text) <= SHORT_COMMAND_WORDS
            and not any(c.isdigit() for c in reply.text))


def is_stop_request(reply: Reply) -> bool:
    """The stop button, or a message that is nothing but a request to stop."""
    if reply.is_payload:
        return reply.intent == "stop"
    if normalise(reply.text) in _phrases(WHOLE_COMMANDS["stop"]):
        return True
    return reply.language != "en" and reply.intent == "stop" and _sure_and_short(reply)


def _is_command(question: Question, reply: Reply) -> bool:
    if reply.intent not in COMMAND_INTENTS:
        return False
    if reply.is_payload:
        return True
    if reply.confidence < COMMAND_CONFIDENCE:
        return False
    norm = normalise(reply.text)
    if reply.intent == "stop":
        return is_stop_request(reply)  # never on a misreading: it throws the report away
    if reply.intent == "choose_language":
        return mentioned_language(reply.text) is not None or _sure_and_short(reply)
    if question.kind == "contact" and _read_contact(reply.text).kind == "answer":
        return False  # a phone number or an e-mail address, whatever the model made of it
    if question.kind in ("text", "contact"):
        if reply.intent == "danger":
            return False  # kept as the answer, with the 999 advice (see read_reply)
        if reply.intent == "ask_about_service":
            return "?" in reply.text or norm.split(" ")[0] in QUESTION_WORDS or (
                reply.language != "en" and _sure_and_short(reply))
        if reply.language != "en" and _sure_and_short(reply):
            return True
        return norm in _phrases(WHOLE_COMMANDS.get(reply.intent, ()))
    if reply.intent == "danger":
        return True  # a false alarm costs a sentence; a miss can cost a life
    if question.options and matching_options(question, reply.text, reply.language):
        return False  # it answers the question ("more than once" is not "stop")
    words = COMMAND_WORDS.get(reply.intent)
    if words and not _pattern(words).search(norm) and not (reply.language != "en" and _sure_and_short(reply)):
        return False
    return True


def _is_skip(question: Question, reply: Reply) -> bool:
    norm = normalise(reply.text)
    if norm in _phrases(SKIP_PHRASES):
        return True
    if any(norm.startswith(p) for p in _phrases(REFUSALS)):
        return True
    if reply.intent == "skip" and (reply.is_payload or reply.confidence >= ANSWER_CONFIDENCE):
        return question.kind not in ("text", "contact") or _word_count(reply.text) <= 8
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
        outcome = _read_text(question, reply)
        if outcome.kind == "answer" and _confident(reply, "danger"):
            # Keep what they wrote as the answer, and give the 999 advice in the same reply.
            return Outcome("answer", outcome.value, danger=True)
        return outcome
    if question.kind == "contact":
        outcome = _read_contact(reply.text)
        return Outcome("skip") if outcome.kind == "unclear" and _declines(reply) else outcome
    return _read_options(question, reply, today)


def _confident(reply: Reply, intent: str) -> bool:
    return reply.intent == intent and reply.confidence >= ANSWER_CONFIDENCE


NOTHING_TO_ADD = ("no", "nope", "nah", "nothing", "no thanks", "none", "no one", "nobody", "not really", "no thank you")


def _declines(reply: Reply) -> bool:
    """A short "no" (to "anything about them?"): nothing to add. A longer reply is an answer."""
    norm = normalise(reply.text)
    return norm in _phrases(NOTHING_TO_ADD) or (_confident(reply, "deny") and _word_count(reply.text) <= 3)


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
    if EMAIL.match(text) and len(text) <= 254:
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
    found = matching_options(question, text, reply.language)
    if len(found) > 1 and EXCLUSIVE & set(found):
        return Outcome("unclear", problem="choice")  # "nothing yet but photos": ask again
    by_intent = {"affirm": question.on_affirm, "deny": question.on_deny}
    opposite = {v: k for k, v in by_intent.items() if v}
    if len(found) == 1 and found[0] in opposite:
        # The words say yes but the sense says no ("of course not"), or the other way: ask again.
        other = "deny" if opposite[found[0]] == "affirm" else "affirm"
        if _confident(reply, other):
            return Outcome("unclear", problem="choice")
    if question.kind == "multi" and found:
        return Outcome("answer", found)
    if len(found) == 1:
        value = found[0]
        return Outcome("answer", _when_value(value, today) if question.kind == "when" else value)
    if question.kind == "when":
        parsed = parse_date(text, today, reply.language)
        if parsed is not None:
            if parsed > today:
                return Outcome("unclear", problem="future_date")
            return Outcome("answer", parsed.isoformat())
    for intent, value in (("affirm", question.on_affirm), ("deny", question.on_deny), ("dont_know", question.on_dont_know)):
        if value and not found and _confident(reply, intent):
            return Outcome("answer", _wrap(question, value))
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

    if normalise(text).isdigit():
        return None  # "2" is not a date (and may mean a numbered option)
    base = datetime(today.year, today.month, today.day, 12, 0)
    found = dateparser.parse(
        text,
        languages=list(dict.fromkeys([language, "en"])),
        settings={"PREFER_DATES_FROM": "past", "RELATIVE_BASE": base, "DATE_ORDER": "DMY", "STRICT_PARSING": False},
    )
    return found.date() if found else None

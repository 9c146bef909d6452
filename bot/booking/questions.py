"""The questions before booking a call with an officer (Karin 4.26-4.28, Karbon 3.4.3).

Each question is a slot of ``booking_form``; its text and buttons are ``utter_ask_<slot>``
in domain.yml, except ``call_time``, whose buttons are the free times offered at that moment
(``action_ask_call_time``). What is already known safely (a safe number and whether a
voicemail may be left, from the safety check) is not asked again: it comes in the
``context`` facts. Nobody is asked to explain a preference.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from bot.i18n import N_
from bot.questionnaire import SKIPPED, Answers, Option, Question, Questionnaire, yesno
from bot.safety.check import SAFETY

CALL_LANGUAGES: tuple[tuple[str, str], ...] = (
    ("en", "English"), ("cy", "Cymraeg"), ("pl", "Polski"), ("ro", "Română"), ("pa", "ਪੰਜਾਬੀ"), ("ur", "اردو"),
    ("pt", "Português"), ("es", "Español"), ("ar", "العربية"), ("bn", "বাংলা"), ("bsl", "British Sign Language"),
)
LANGUAGE_WORDS = {
    "en": ("english",), "cy": ("welsh",), "pl": ("polish", "polski"), "ro": ("romanian", "romana"),
    "pa": ("punjabi", "panjabi"), "ur": ("urdu",), "pt": ("portuguese", "portugues"), "es": ("spanish", "espanol"),
    "ar": ("arabic",), "bn": ("bengali", "bangla"), "bsl": ("bsl", "sign language", "signer", "signing", "deaf"),
}
BY_PHONE = ("phone", "video", "sms")
# The same times as the safety check's (bot/safety/risk_matrix.yml), asked only when it has none.
SAFE_TIMES = SAFETY.by_slot["safe_times"].options
NO_PREFERENCE = Option("no_preference", "No preference", (
    "no preference", "either", "any", "don't mind", "dont mind", "doesn't matter", "doesnt matter", "whoever", "no",
))


def _needs_number(answers: Answers) -> bool:
    """A number to reach them on: asked when the method needs one and no safe one is known (or
    they would rather use another)."""
    if answers.get("call_method") not in BY_PHONE:
        return False
    return not answers.get("known_phone") or answers.get("call_use_known_phone") == "no"


def _phone_call(answers: Answers) -> bool:
    return answers.get("call_method") == "phone" and answers.get("known_voicemail") is None


def _can_text(answers: Answers) -> bool:
    number = answers.get("call_use_known_phone") == "yes" or isinstance(answers.get("call_phone"), dict)
    return bool(number) and answers.get("call_method") in BY_PHONE


QUESTIONS: tuple[Question, ...] = (
    Question(
        "call_method",
        "choice",
        "How to talk",
        (
            Option("phone", "Phone call", ("phone", "call", "ring", "telephone", "mobile")),
            Option("video", "Video call", ("video", "zoom", "teams", "facetime", "whatsapp video")),
            Option("in_person", "In person, somewhere safe", ("in person", "face to face", "meet", "visit", "office")),
            Option("sms", "Text messages", ("text", "texts", "sms", "message", "messages", "messaging")),
        ),
    ),
    yesno("call_use_known_phone", "Use the safe number already given",
          ask_if=lambda a: a.get("call_method") in BY_PHONE and bool(a.get("known_phone"))),
    Question("call_phone", "contact", "Number for the call", ask_if=_needs_number),
    yesno("call_voicemail", "May leave a voicemail", ask_if=_phone_call),
    Question(
        "officer_sex",
        "choice",
        "Officer a woman or a man",
        (
            Option("female", "A woman", ("woman", "female", "lady", "women", "she")),
            Option("male", "A man", ("man", "male", "men", "he", "bloke", "guy")),
            NO_PREFERENCE,
        ),
        on_deny="no_preference",
        on_dont_know="no_preference",
    ),
    Question(
        "officer_ethnicity",
        "choice",
        "Officer of the same ethnic background",
        (
            Option("asian", "Asian or Asian British", ("asian", "indian", "pakistani", "bangladeshi", "chinese")),
            Option("black", "Black, Black British, Caribbean or African", ("black", "african", "caribbean")),
            Option("mixed", "Mixed or multiple ethnic groups", ("mixed", "multiple", "dual heritage")),
            Option("white", "White", ("white", "polish", "romanian", "irish", "british", "gypsy", "traveller")),
            Option("other", "Another ethnic group", ("arab", "other", "another")),
            NO_PREFERENCE,
        ),
        on_deny="no_preference",
        on_dont_know="no_preference",
    ),
    Question(
        "call_language",
        "choice",
        "Language of the call",
        tuple(Option(code, label, (label.lower(), *LANGUAGE_WORDS.get(code, ()))) for code, label in CALL_LANGUAGES),
    ),
    Question(
        "call_safe_times",
        "multi",
        "Safe times for the call",
        SAFE_TIMES,
        ask_if=lambda a: not a.get("known_safe_times") and a.get("call_method") != "sms",
    ),
    Question(
        "update_frequency",
        "choice",
        "How often to hear how the case is going",
        (
            Option("weekly", "Every week", ("week", "weekly", "every week", "once a week")),
            Option("fortnightly", "Every two weeks", ("fortnight", "fortnightly", "two weeks", "2 weeks")),
            Option("on_change", "Only when something changes", ("when something", "only when", "changes", "news")),
        ),
    ),
    Question("call_time", "choice", "Time of the call"),  # options: the times offered (see offered_times)
    Question("call_secret", "text", "A word to change the booking"),
    yesno("call_reminder", "Text reminder", ask_if=_can_text),
)

BOOKING = Questionnaire("booking", QUESTIONS)
SLOTS: tuple[str, ...] = BOOKING.slots
NO_TIME_SUITS = "none_suit"


def with_context(answers: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """The answers with what is already known (``known_phone``: a safe number ending, ``known_voicemail``)."""
    return {**context, **{k: v for k, v in answers.items() if v is not None}}


def preference(answers: Answers, slot: str) -> Optional[str]:
    value = answers.get(slot)
    return None if value in (None, SKIPPED, "no_preference") else value


# Changing or cancelling a booked call: who they are (a reference and their word), then a new time.
CHECK_QUESTIONS: tuple[Question, ...] = (
    Question("check_reference", "text", "Booking or case reference", ask_if=lambda a: not a.get("known_reference")),
    Question("check_secret", "text", "The word they chose"),
)
CHECK = Questionnaire("booking_check", CHECK_QUESTIONS)
RESCHEDULE = Questionnaire("reschedule", (next(q for q in QUESTIONS if q.slot == "call_time"),))


NONE_OF_THESE_TIMES = N_("None of these times")


def offered_times(labels: list[str], questionnaire: Questionnaire = BOOKING) -> Questionnaire:
    """``questionnaire`` (the booking, or a change of time) with ``call_time``'s options: the times
    just offered (value = their position), and "none of these"."""
    options = tuple(Option(str(i), label) for i, label in enumerate(labels))
    options += (Option(NO_TIME_SUITS, NONE_OF_THESE_TIMES, ("none", "none of these", "neither", "other time",
                                                                "another time", "different time")),)
    return Questionnaire(questionnaire.name, tuple(
        Question(q.slot, q.kind, q.label, options, q.ask_if) if q.slot == "call_time" else q
        for q in questionnaire.questions
    ), questionnaire.derive)

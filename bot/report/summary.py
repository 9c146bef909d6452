"""The summary a person checks before sending, and the list of answers they can change."""
from __future__ import annotations

from datetime import date
from typing import Any, Mapping

import phonenumbers

from bot.i18n import N_, format_day, translate
from bot.report.questions import BY_SLOT, SKIPPED, Question, answered_slots

SKIPPED_LABEL = N_("I'd rather not say")
MAX_TEXT_IN_SUMMARY = 300


def display_value(question: Question, value: Any, language: str = "en") -> str:
    if value == SKIPPED:
        return translate(SKIPPED_LABEL, language)
    if isinstance(value, list):
        return ", ".join(display_value(question, v, language) for v in value)
    if isinstance(value, dict):
        if "phone" in value:
            number = phonenumbers.parse(value["phone"], "GB")
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        return str(value.get("email", ""))
    option = question.option(str(value)) if question.options else None
    if option is not None:
        return translate(option.label, language)
    if question.kind == "when":
        try:
            return format_day(date.fromisoformat(value), language)
        except ValueError:
            pass
    text = str(value)
    return text if len(text) <= MAX_TEXT_IN_SUMMARY else text[: MAX_TEXT_IN_SUMMARY - 1] + "…"


def summary_text(answers: Mapping[str, Any], language: str = "en") -> str:
    lines = []
    for slot in answered_slots(answers):
        question = BY_SLOT[slot]
        lines.append(f"• {translate(question.label, language)}: {display_value(question, answers[slot], language)}")
    return "\n".join(lines)


def change_choices(answers: Mapping[str, Any], language: str = "en") -> list[tuple[str, str]]:
    """(slot, label) for each answer the person can change, in the order asked."""
    return [(slot, translate(BY_SLOT[slot].label, language)) for slot in answered_slots(answers)]

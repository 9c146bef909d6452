"""What a reply does to the report in progress: the answer, and what follows from it.

Called by the form's validation action; returns plain data so the rules are
testable without Rasa.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping, Optional

from bot import consent
from bot.questionnaire import Questionnaire
from bot.report.questions import REPORT
from bot.report.reading import Reply, read_reply
from bot.text import normalise

# A first message this long that reads as a report is kept as their account of what happened
# (after any "I want to report..." opening, which says nothing about what happened).
MIN_WORDS_FOR_OPENING_ACCOUNT = 8
REQUEST_OPENING = re.compile(
    r"^(hi|hello|hey)?\s*(i|we)?\s*(want|would like|'d like|d like|need|wish|wanted)?\s*(to)?\s*"
    r"(make|report|tell you about|speak about)\s*(a)?\s*(report)?\s*(of|about)?\s*"
)


@dataclass
class Step:
    """The result of one reply: slot changes, responses to send, and the next question."""

    command: bool = False  # the reply was a command (stop, back...): the rules take it from here
    changes: dict[str, Any] = field(default_factory=dict)
    responses: list[str] = field(default_factory=list)
    next_slot: Optional[str] = None


def take_reply(
    answers: Mapping[str, Any],
    requested: Optional[str],
    reply: Optional[Reply],
    *,
    today: date,
    now_iso: str,
    language: str,
    consent_log: Optional[Mapping[str, Any]] = None,
    already_warned: bool = False,
    questionnaire: Questionnaire = REPORT,
) -> Step:
    """Apply ``reply`` (None when the form resumes without a new message) to ``answers``.

    ``already_warned``: the 999 advice was given for this very message before the form ran
    (the danger policy); then a danger message is not a command any more, and the advice is
    not repeated."""
    answers = dict(answers)
    step = Step()
    if reply is not None and requested in questionnaire.by_slot:
        outcome = read_reply(questionnaire.by_slot[requested], reply, today)
        if outcome.kind == "command":
            # After the 999 advice, ask the same question again; otherwise the rules answer.
            return Step(next_slot=requested) if already_warned else Step(command=True)
        if outcome.kind == "unclear":
            # Say kindly what was wrong and ask the same question again.
            return Step(changes={requested: None}, responses=[f"utter_unclear_{outcome.problem}"], next_slot=requested)
        value = outcome.slot_value
        answers[requested] = value
        step.changes[requested] = value
        if outcome.danger:
            if not already_warned:
                step.responses.append("utter_danger_999")
            step.changes["immediate_risk"] = True
        if requested == "reporter_role" and value == "anonymous":
            step.responses.append("utter_anonymous_explained")
        if requested in consent.WORDINGS:
            log = dict(consent_log or {})
            log[requested] = consent.record(requested, str(value), now_iso, language)
            step.changes["consent_log"] = log
        for slot in questionnaire.moot_answers(answers):
            answers[slot] = None
            step.changes[slot] = None
    step.next_slot = questionnaire.next_slot(answers)
    return step


def opening_account(reply: Reply) -> Optional[str]:
    """Their first message, when it already tells what happened, is kept as the free-recall answer."""
    if reply.is_payload or reply.intent != "report_harassment":
        return None
    rest = REQUEST_OPENING.sub("", normalise(reply.text))
    if len(rest.split()) < MIN_WORDS_FOR_OPENING_ACCOUNT:
        return None
    return reply.text.strip()


# A danger message this long, before they have told us what happened, is kept as their account.
MIN_WORDS_FOR_DANGER_ACCOUNT = 4


def account_from_danger(answers: Mapping[str, Any], reply: Reply) -> Optional[str]:
    """The words of a danger message, as their account of what happened, when the report has
    none yet (the message is often the first thing they say)."""
    if answers.get("description") or reply.is_payload:
        return None
    text = reply.text.strip()
    return text if len(normalise(text).split()) >= MIN_WORDS_FOR_DANGER_ACCOUNT else None

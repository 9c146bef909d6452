"""A questionnaire: questions asked one at a time, in order, each only when it applies.

The report (bot/report/questions.py) and the safety check (bot/safety/check.py) are
both questionnaires; one reader (bot/report/reading.py) and one flow
(bot/report/flow.py) serve them. Every question can be skipped ("I'd rather not say").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Mapping, Optional

SKIPPED = "skipped"

Answers = Mapping[str, Any]


@dataclass(frozen=True)
class Option:
    value: str
    label: str  # the button title (English source text)
    words: tuple[str, ...] = ()  # what people type for it; "word*" matches any ending


@dataclass(frozen=True)
class Question:
    slot: str
    kind: str  # choice | multi | yesno | text | when | contact
    label: str  # its name in the summary
    options: tuple[Option, ...] = ()
    ask_if: Callable[[Answers], bool] = field(default=lambda a: True, compare=False)
    # Which option a plain yes / no / "I don't know" picks, where that is unambiguous.
    on_affirm: Optional[str] = None
    on_deny: Optional[str] = None
    on_dont_know: Optional[str] = None

    def option(self, value: str) -> Optional[Option]:
        return next((o for o in self.options if o.value == value), None)


YES = Option("yes", "Yes", ("yes", "yeah", "yep", "y", "yup", "ok", "okay", "sure", "please do", "of course"))
NO = Option("no", "No", ("no", "nope", "n", "nah", "not really", "never", "no way"))
NOT_SURE = Option("not_sure", "Not sure", ("not sure", "unsure", "maybe", "don't know", "dont know", "no idea"))


def yesno(slot: str, label: str, ask_if: Callable[[Answers], bool] = lambda a: True) -> Question:
    return Question(slot, "yesno", label, (YES, NO), ask_if=ask_if, on_affirm="yes", on_deny="no")


@dataclass(frozen=True)
class Questionnaire:
    name: str
    questions: tuple[Question, ...]
    # Facts that follow from the answers, for the questions' conditions (see bot/safety/check.py).
    derive: Optional[Callable[[Answers], Answers]] = field(default=None, compare=False)

    @cached_property
    def by_slot(self) -> dict[str, Question]:
        return {q.slot: q for q in self.questions}

    @cached_property
    def slots(self) -> tuple[str, ...]:
        return tuple(q.slot for q in self.questions)

    def required_slots(self, answers: Answers) -> list[str]:
        """The questions these answers need, in order."""
        if self.derive is not None:
            answers = self.derive(answers)
        return [q.slot for q in self.questions if q.ask_if(answers)]

    def next_slot(self, answers: Answers) -> Optional[str]:
        return next((s for s in self.required_slots(answers) if answers.get(s) is None), None)

    def previous_slot(self, answers: Answers, current: Optional[str]) -> Optional[str]:
        """The answered question before ``current`` (or the last answered one), for "go back"."""
        order = self.required_slots(answers)
        end = order.index(current) if current in order else len(order)
        return next((s for s in reversed(order[:end]) if answers.get(s) is not None), None)

    def answered_slots(self, answers: Answers) -> list[str]:
        return [s for s in self.required_slots(answers) if answers.get(s) is not None]

    def relevant_answers(self, answers: Answers) -> dict[str, Any]:
        """Only the answers this branch asked for (an answer made moot by a change is dropped)."""
        return {s: answers.get(s) for s in self.required_slots(answers)}

    def moot_answers(self, answers: Answers) -> list[str]:
        """Answers that no longer apply after a change (e.g. contact details once anonymous)."""
        needed = set(self.required_slots(answers))
        return [s for s in self.slots if s not in needed and answers.get(s) is not None]

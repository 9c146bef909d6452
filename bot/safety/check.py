"""The safety check: its questions, and a score that explains itself.

Everything that decides a level is data in ``risk_matrix.yml`` beside this file: the
questions, the points each answer adds with the reason recorded for the officer, the
bands, and the hard escalators that make a case high whatever its total. This module
only reads that file and applies it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml

from bot.questionnaire import NO, SKIPPED, YES, Answers, Option, Question, Questionnaire

MATRIX_FILE = Path(__file__).with_name("risk_matrix.yml")
LEVELS = ("standard", "medium", "high")
# Report answers that count as being targeted for who they are.
HATE_MOTIVATIONS = {"race", "religion", "sex_gender", "disability", "sexual_orientation", "illness", "age"}


def _as_set(value: Any) -> set[str]:
    if value is None or value == SKIPPED:
        return set()
    if isinstance(value, (list, tuple, set)):
        return {str(v) for v in value}
    if isinstance(value, bool):
        return {"true" if value else "false"}
    return {str(value)}


@dataclass(frozen=True)
class Condition:
    """``{slot: value}`` pairs that must all match (a value may be a list: any of them)."""

    wanted: tuple[tuple[str, frozenset[str]], ...]

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> "Condition":
        return cls(tuple((slot, frozenset(_as_set(value))) for slot, value in data.items()))

    def __call__(self, answers: Answers) -> bool:
        return all(_as_set(answers.get(slot)) & wanted for slot, wanted in self.wanted)

    @property
    def slots(self) -> set[str]:
        return {slot for slot, _ in self.wanted}


@dataclass(frozen=True)
class Rule:
    when: Condition
    reason: str
    points: int = 0


@dataclass(frozen=True)
class Matrix:
    version: str
    questionnaire: Questionnaire
    bands: tuple[tuple[str, int], ...]  # (level, minimum), highest first
    scores: tuple[Rule, ...]
    escalators: tuple[Rule, ...]

    def band(self, total: int) -> str:
        return next(level for level, minimum in self.bands if total >= minimum)


def _question(data: Mapping[str, Any], stop: Optional[Condition]) -> Question:
    kind = data["kind"]
    if kind == "yesno":
        options: tuple[Option, ...] = (YES, NO)
    else:
        options = tuple(Option(str(o["value"]), o["label"], tuple(o.get("words", ()))) for o in data.get("options", ()))
    condition = Condition.from_data(data["ask_if"]) if data.get("ask_if") else None
    stop_slots = stop.slots if stop else set()

    def ask_if(answers: Answers) -> bool:
        if stop is not None and data["slot"] not in stop_slots and stop(answers):
            return False
        return condition(answers) if condition else True

    defaults = {"on_affirm": "yes", "on_deny": "no"} if kind == "yesno" else {}
    return Question(
        slot=data["slot"],
        kind=kind,
        label=data["label"],
        options=options,
        ask_if=ask_if,
        on_affirm=data.get("on_affirm", defaults.get("on_affirm")),
        on_deny=data.get("on_deny", defaults.get("on_deny")),
        on_dont_know=data.get("on_dont_know"),
    )


def _derived(answers: Mapping[str, Any]) -> dict[str, Any]:
    """``can_contact``: there is a way to reach them that they say is safe."""
    safer = answers.get("safe_contact_other")
    can = (answers.get("has_contact") and answers.get("safe_contact") != "no") or (safer and safer != SKIPPED)
    return {**answers, "can_contact": bool(can)}


@lru_cache(maxsize=None)
def load(path: Path = MATRIX_FILE) -> Matrix:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    bands = tuple(sorted(((b["level"], int(b["min"])) for b in data["bands"]), key=lambda b: -b[1]))
    if {level for level, _ in bands} != set(LEVELS) or bands[-1][1] != 0:
        raise ValueError(f"{path.name}: the bands must be {', '.join(LEVELS)}, the lowest starting at 0")
    stop = Condition.from_data(data["stop_if"]) if data.get("stop_if") else None
    rule = lambda r: Rule(Condition.from_data(r["when"]), r["reason"], int(r.get("points", 0)))  # noqa: E731
    return Matrix(
        version=str(data["version"]),
        questionnaire=Questionnaire("safety", tuple(_question(q, stop) for q in data["questions"]), derive=_derived),
        bands=bands,
        scores=tuple(rule(r) for r in data["scores"]),
        escalators=tuple(rule(r) for r in data["escalators"]),
    )


SAFETY = load().questionnaire
SLOTS: tuple[str, ...] = SAFETY.slots
# The questions asked before the risk questions, about reaching them safely.
CONTACT_SLOTS = ("safe_to_talk", "safe_contact", "safe_contact_other", "safe_times", "voicemail_ok", "code_word")
RISK_SLOTS = tuple(s for s in SLOTS if s not in CONTACT_SLOTS)


def facts(report: Mapping[str, Any], *, has_contact: bool, immediate_risk: bool) -> dict[str, Any]:
    """What the matrix may name besides the check's own answers: the report's answers and
    a few facts drawn from them."""
    found = dict(report)
    found["has_contact"] = has_contact
    found["immediate_risk"] = immediate_risk
    found["hate_motivated"] = bool(_as_set(report.get("motivation")) & HATE_MOTIVATIONS)
    return found


def with_facts(answers: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """The check's answers joined with the facts (``context``: the report's, see ``facts``)."""
    return _derived({**context, **{k: v for k, v in answers.items() if v is not None}})


@dataclass(frozen=True)
class Assessment:
    matrix_version: str
    score: int
    level: str
    reasons: tuple[tuple[str, int], ...]  # (reason, points), in the matrix's order
    escalators: tuple[str, ...]
    answered: int  # risk questions answered (not skipped)

    def explain(self) -> str:
        """In words, for the officer: the level, why, and what counted."""
        lines = [f"Risk {self.level} (score {self.score}, {self.matrix_version})."]
        if self.escalators:
            lines.append("High whatever the score: " + "; ".join(self.escalators) + ".")
        lines += [f"+{points} {reason}" for reason, points in self.reasons]
        if not self.answered:
            lines.append("No risk question was answered: judge on the call.")
        return "\n".join(lines)


def assess(answers: Mapping[str, Any], matrix: Optional[Matrix] = None) -> Assessment:
    """Score the check's answers (joined with the report's facts, see ``facts``)."""
    matrix = matrix or load()
    reasons = tuple((r.reason, r.points) for r in matrix.scores if r.points and r.when(answers))
    escalators = tuple(r.reason for r in matrix.escalators if r.when(answers))
    total = sum(points for _, points in reasons)
    level = "high" if escalators else matrix.band(total)
    answered = sum(1 for s in RISK_SLOTS if answers.get(s) not in (None, SKIPPED))
    return Assessment(matrix.version, total, level, reasons, escalators, answered)


def higher(a: Optional[str], b: Optional[str]) -> Optional[str]:
    """The more serious of two levels (None is below standard)."""
    rank = {None: -1, **{level: i for i, level in enumerate(LEVELS)}}
    return a if rank.get(a, -1) >= rank.get(b, -1) else b


"""Danger now in the other nine languages: one phrase file per language, read the same way.

English has its own, richer reader (bot/safety/danger.py). Each other language has a file
``bot/safety/lexicon/<lang>.yml`` written by a speaker of it:

- ``danger``: named families of phrases, each a way of saying danger now (someone at the
  door or inside, a weapon with them, a break-in, a fire, someone being hurt, hiding, a plain
  cry for help);
- ``report``: phrases that make a message a report, not an emergency: past times, habits,
  what-ifs, questions about the service, "I'm safe now", negations ("he is not here");
- ``now``: phrases that say it is happening now; they outweigh ``report`` ("they attacked
  me yesterday and now they are at the door").

A phrase is words as a person types them. Matching is on the shared normalisation
(bot.text.normalise: lower case, accents and vowel marks off, punctuation to spaces, the
Arabic-script letter variants folded), so "zabić", "zabic" and "ZABIC!" read alike. Inside a
phrase, a word ending in ``*`` matches any ending ("drzwi*": drzwi, drzwiami), and ``~``
stands for up to three other words ("jest ~ drzwi*": "jest pod moimi drzwiami").

A message is danger in a language when one of its ``danger`` phrases matches, and either
none of its ``report`` phrases does or one of its ``now`` phrases does. Every language's
file is tried on every message, whatever language the conversation is in: a danger
message in Polish in the middle of an English conversation is still danger, and the
language that matched is the language of the 999 reply.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import yaml

from bot.text import normalise

LEXICON_DIR = Path(__file__).with_name("lexicon")
GAP = r"(?:\S+ ){0,3}"


def _phrase(phrase: str) -> str:
    parts: list[str] = []
    for word in phrase.split():
        if word == "~":
            parts.append(GAP)
            continue
        stem = normalise(word.rstrip("*"))
        if not stem:
            continue
        body = re.escape(stem).replace(r"\ ", " ")
        parts.append(body + (r"\w*" if word.endswith("*") else "") + " ")
    return "".join(parts)


def compile_phrases(phrases: list[str]) -> Optional[re.Pattern]:
    """One pattern for all the phrases, matched on normalised text with a space at each end."""
    bodies = sorted({b for b in (_phrase(p) for p in phrases) if b.strip()}, key=len, reverse=True)
    if not bodies:
        return None
    return re.compile(r"(?<= )(?:" + "|".join(bodies) + ")")


@dataclass(frozen=True)
class Lexicon:
    language: str
    danger: dict[str, re.Pattern]
    report: Optional[re.Pattern]
    now: Optional[re.Pattern]

    @classmethod
    def from_file(cls, path: Path) -> "Lexicon":
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        danger = {}
        for name, phrases in (data.get("danger") or {}).items():
            pattern = compile_phrases(list(phrases or []))
            if pattern is not None:
                danger[name] = pattern
        return cls(data.get("language") or path.stem, danger,
                   compile_phrases(list(data.get("report") or [])), compile_phrases(list(data.get("now") or [])))

    def signs(self, norm: str) -> list[str]:
        """The families this (normalised, space-padded) text matches, if it is danger now."""
        found = [f"{self.language}:{name}" for name, pattern in self.danger.items() if pattern.search(norm)]
        if found and self.reads_as_report(norm) and not self.says_now(norm):
            return []
        return found

    def reads_as_report(self, norm: str) -> bool:
        return bool(self.report and self.report.search(norm))

    def says_now(self, norm: str) -> bool:
        return bool(self.now and self.now.search(norm))


@lru_cache(maxsize=1)
def lexicons() -> tuple[Lexicon, ...]:
    return tuple(Lexicon.from_file(p) for p in sorted(LEXICON_DIR.glob("*.yml")))


def padded(text: str) -> str:
    return f" {normalise(text)} "


def danger_signs(text: str) -> list[str]:
    """Every language's families this message matches as danger now ("pl:at_the_door")."""
    norm = padded(text)
    return [sign for lexicon in lexicons() for sign in lexicon.signs(norm)]


def reads_as_report(text: str) -> bool:
    norm = padded(text)
    return any(lexicon.reads_as_report(norm) and not lexicon.says_now(norm) for lexicon in lexicons())


def says_now(text: str) -> bool:
    norm = padded(text)
    return any(lexicon.says_now(norm) for lexicon in lexicons())


def language_of(signs: list[str]) -> Optional[str]:
    """The language whose phrases matched (the first, if several did)."""
    return signs[0].split(":", 1)[0] if signs and ":" in signs[0] else None


if __name__ == "__main__":  # python -m bot.safety.lexicons pl: the lexicon against its labelled set
    import sys

    from bot.settings import ROOT

    lang = sys.argv[1]
    lexicon = Lexicon.from_file(LEXICON_DIR / f"{lang}.yml")
    labelled = yaml.safe_load((ROOT / "tests" / "data" / f"danger_{lang}.yml").read_text(encoding="utf-8"))
    missed = [t for t in labelled["danger"] if not lexicon.signs(padded(t))]
    alarms = [t for t in labelled["not_danger"] if lexicon.signs(padded(t))]
    print(f"{lang}: caught {len(labelled['danger']) - len(missed)}/{len(labelled['danger'])}, "
          f"false alarms {len(alarms)}/{len(labelled['not_danger'])}")
    for t in missed:
        print("  MISSED:", t)
    for t in alarms:
        print("  FALSE ALARM:", t, lexicon.signs(padded(t)))

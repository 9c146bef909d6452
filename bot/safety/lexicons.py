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

from bot.safety import danger as english
from bot.text import normalise

LEXICON_DIR = Path(__file__).with_name("lexicon")
GAP = "~"
# A word's letters, Indic vowel signs included (they are marks, which \w leaves out).
_WORD_CHARS = r"[\w'\u0900-\u0DFF]"


def _tokens(phrase: str) -> list[tuple[str, bool]]:
    """(word, any ending allowed) for each word of the phrase, normalised; ("~", False) for a gap."""
    tokens: list[tuple[str, bool]] = []
    for raw in phrase.split():
        if raw == GAP:
            tokens.append((GAP, False))
            continue
        words = normalise(raw.rstrip("*")).split()
        tokens += [(w, raw.endswith("*") and i == len(words) - 1) for i, w in enumerate(words)]
    while tokens and tokens[0][0] == GAP:
        tokens.pop(0)
    while tokens and tokens[-1][0] == GAP:
        tokens.pop()
    return tokens


def _pattern(tokens: list[tuple[str, bool]]) -> str:
    parts = []
    for word, star in tokens:
        parts.append(r"(?:\S+ ){0,3}" if word == GAP else re.escape(word) + (_WORD_CHARS + "*" if star else "") + " ")
    return "".join(parts)


class PhraseSet:
    """Phrases matched on normalised, space-padded text, indexed by their first word, so that a
    message is tried only against the phrases that can start at each of its words: a few
    milliseconds for a 5,000-character message, however many phrases a language has."""

    def __init__(self, phrases: list[str]) -> None:
        self.exact: dict[str, list[re.Pattern]] = {}
        self.prefix: dict[str, list[re.Pattern]] = {}
        seen = set()
        for phrase in phrases:
            tokens = _tokens(str(phrase))
            if not tokens or tuple(tokens) in seen:
                continue
            seen.add(tuple(tokens))
            word, star = tokens[0]
            (self.prefix if star else self.exact).setdefault(word, []).append(re.compile(_pattern(tokens)))
        self.longest_prefix = max((len(w) for w in self.prefix), default=0)

    def __bool__(self) -> bool:
        return bool(self.exact or self.prefix)

    def search(self, norm: str) -> bool:
        """``norm``: normalised text with a space at each end."""
        position = 1
        for word in norm.split():
            candidates = list(self.exact.get(word, ()))
            for k in range(1, min(len(word), self.longest_prefix) + 1):
                candidates += self.prefix.get(word[:k], ())
            if any(p.match(norm, position) for p in candidates):
                return True
            position += len(word) + 1
        return False


@dataclass(frozen=True)
class Lexicon:
    language: str
    danger: dict[str, PhraseSet]
    report: PhraseSet
    now: PhraseSet

    @classmethod
    def from_file(cls, path: Path) -> "Lexicon":
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        danger = {name: PhraseSet(list(phrases or [])) for name, phrases in (data.get("danger") or {}).items()}
        return cls(data.get("language") or path.stem, {k: v for k, v in danger.items() if v},
                   PhraseSet(list(data.get("report") or [])), PhraseSet(list(data.get("now") or [])))

    def signs(self, norm: str) -> list[str]:
        """The families this (normalised, space-padded) text matches, if it is danger now."""
        found = [f"{self.language}:{name}" for name, phrases in self.danger.items() if phrases.search(norm)]
        if found and self.reads_as_report(norm) and not self.says_now(norm):
            return []
        return found

    def reads_as_report(self, norm: str) -> bool:
        return self.report.search(norm)

    def says_now(self, norm: str) -> bool:
        return self.now.search(norm)


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


# --- every language, English's own reader included (the Rasa pipeline and the actions use these) ---

def signs_in_any_language(text: str) -> list[str]:
    """English's patterns (bot/safety/danger.py), then every other language's."""
    return english.danger_signs(text) + danger_signs(text)


def reads_as_report_in_any_language(text: str) -> bool:
    return english.reads_as_report(text) or reads_as_report(text)


def says_now_in_any_language(text: str) -> bool:
    return english.says_now(text) or says_now(text)


def language_of(signs: list[str], likelihood: Optional[dict[str, float]] = None) -> Optional[str]:
    """The language whose phrases matched; when several did (Spanish and Portuguese share
    "socorro"), the likeliest by ``likelihood`` (bot.languages.LearnedReader), else the first."""
    spoken = list(dict.fromkeys(sign.split(":", 1)[0] for sign in signs if ":" in sign))
    if not spoken:
        return None
    return max(spoken, key=lambda code: (likelihood or {}).get(code, 0.0)) if likelihood else spoken[0]


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

"""Case and booking references: short, easy to read over the phone, not guessable.

Nine symbols in three groups ("K7Q-M4X-RT9"): eight drawn at random from an
alphabet without look-alikes (no 0/O, 1/I/L, U, S/5, Z/2, B/8), which gives
24^8, about 10^11, possibilities; the ninth is a Luhn mod-N check symbol,
so a misheard or mistyped symbol is caught before any look-up.
"""
from __future__ import annotations

import re
import secrets

ALPHABET = "34679ACDEFGHJKMNPQRTVWXY"  # deliberately small and unambiguous
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_RANDOM_SYMBOLS = 8
PATTERN = re.compile(rf"^[{ALPHABET}]{{3}}-[{ALPHABET}]{{3}}-[{ALPHABET}]{{3}}$")


def _check_symbol(body: str) -> str:
    """Luhn mod N over the alphabet (doubling every second symbol from the right)."""
    n = len(ALPHABET)
    total = 0
    factor = 2
    for ch in reversed(body):
        addend = factor * _INDEX[ch]
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[(n - total % n) % n]


def new_reference() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(_RANDOM_SYMBOLS))
    raw = body + _check_symbol(body)
    return f"{raw[0:3]}-{raw[3:6]}-{raw[6:9]}"


def normalise(text: str) -> str | None:
    """The canonical form of a reference as a person typed or read it, or None if not valid."""
    raw = re.sub(r"[\s\-_.]", "", text.upper())
    if len(raw) != _RANDOM_SYMBOLS + 1 or any(c not in _INDEX for c in raw):
        return None
    if _check_symbol(raw[:-1]) != raw[-1]:
        return None
    return f"{raw[0:3]}-{raw[3:6]}-{raw[6:9]}"

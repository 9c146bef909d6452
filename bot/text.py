"""Text as the matchers in bot/ read it."""
from __future__ import annotations

import re
import unicodedata

# Indic scripts (Devanagari to Sinhala: Bengali and Gurmukhi among them) write vowels as marks:
# they are part of the word, never accents to take off.
_INDIC = re.compile(r"[\u0900-\u0DFF]")
# Arabic-script letters written more than one way (Arabic and Urdu keyboards): one form each;
# and the Polish ł, which has no accent to take off but is typed as l without Polish keys.
_FOLD = str.maketrans({"ł": "l", "Ł": "l", "ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "ہ": "ه", "ۃ": "ه", "ـ": None})
_NOT_WORD = re.compile(r"[^\w'\u0900-\u0DFF]+")


def normalise(text: str) -> str:
    """Lower case, accents and Arabic vowel marks off, Arabic-script letter variants folded,
    punctuation to spaces, single spaces, apostrophes unified."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'").replace("‘", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c) or _INDIC.match(c))
    text = _NOT_WORD.sub(" ", text.translate(_FOLD).lower())
    return " ".join(text.split())

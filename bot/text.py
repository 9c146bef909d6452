"""Text as the matchers in bot/ read it."""
from __future__ import annotations

import re
import unicodedata


def normalise(text: str) -> str:
    """Lower case, accents off, punctuation to spaces, single spaces, apostrophes unified."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'").replace("‘", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[^\w']+", " ", text)
    return " ".join(text.split())

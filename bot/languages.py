"""The ten conversation languages, and which one a message is written in.

Identification combines two readers:

- lingua (lingua-language-detector, whose models ship inside the package) knows how each
  language is written in its own script, and also knows the languages we do not support,
  so that someone writing in French or Lithuanian can be told we reply in English and can
  book an interpreter;
- a reader learned from this project's own training data (bot/rasa_ext/language_nlu.py
  trains it with the model), which knows the ways our users really type: Roman Urdu,
  romanised Punjabi and Bengali, Arabizi, Polish and Romanian without diacritics.

A message is *identified* only when the reading is sure: a script only one of our
languages uses (Gurmukhi, Bengali), or enough words with both readers agreeing, or one of
them very sure. A two-word "hi there" is not identified, and the conversation keeps its
language (English at the start, with a choice of languages offered).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Optional

from bot.text import normalise


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1, as the contract's `language` slot
    english: str  # its name in English
    native: str  # its name in itself (the language buttons)
    locale: str  # Babel's locale for dates and plural forms
    rtl: bool = False


LANGUAGES: dict[str, Language] = {lang.code: lang for lang in (
    Language("en", "English", "English", "en_GB"),
    Language("cy", "Welsh", "Cymraeg", "cy_GB"),
    Language("pl", "Polish", "Polski", "pl_PL"),
    Language("ro", "Romanian", "Română", "ro_RO"),
    Language("pa", "Punjabi", "ਪੰਜਾਬੀ", "pa_Guru"),
    Language("ur", "Urdu", "اردو", "ur", rtl=True),
    Language("pt", "Portuguese", "Português", "pt_PT"),
    Language("es", "Spanish", "Español", "es_ES"),
    Language("ar", "Arabic", "العربية", "ar", rtl=True),
    Language("bn", "Bengali", "বাংলা", "bn"),
)}
CODES = tuple(LANGUAGES)
DEFAULT = "en"


def supported(code: Optional[str]) -> str:
    """The code itself when it is one of ours, else English."""
    return code if code in LANGUAGES else DEFAULT


# What people type to name a language (in it, in English, romanised, without accents):
# "Polski", "po polsku", "urdu", "bangla". Matched on the whole message, normalised.
NAMES: dict[str, tuple[str, ...]] = {
    "en": ("english", "in english", "english please", "angielski", "po angielsku", "saesneg", "engleza", "ingles",
           "inglés", "انگریزی", "انجلش", "الانجليزية", "الإنجليزية", "ইংরেজি", "ইংরেজিতে", "ਅੰਗਰੇਜ਼ੀ", "angrezi", "ingreji"),
    "cy": ("cymraeg", "welsh", "yn gymraeg", "gymraeg", "galeza", "ওয়েলশ", "ویلش", "الويلزية"),
    "pl": ("polski", "polish", "po polsku", "polsku", "jezyk polski", "polaco", "polonesa", "polonez", "poloneza",
           "পোলিশ", "ਪੋਲਿਸ਼", "پولش", "پولستانی", "البولندية"),
    "ro": ("romana", "română", "romaneste", "românește", "in romana", "limba romana", "romanian", "rumano", "romeno",
           "রোমানিয়ান", "رومانوی", "الرومانية"),
    "pa": ("ਪੰਜਾਬੀ", "ਪੰਜਾਬੀ ਵਿੱਚ", "punjabi", "panjabi", "punjabi vich", "پنجابی", "পাঞ্জাবি", "البنجابية"),
    "ur": ("اردو", "urdu", "urdu mein", "urdu main", "urdu me", "উর্দু", "উর্দুতে", "ਉਰਦੂ", "الأردية"),
    "pt": ("portugues", "português", "portuguese", "em portugues", "portugalski", "portugheza", "পর্তুগিজ", "پرتگالی",
           "البرتغالية"),
    "es": ("espanol", "español", "spanish", "castellano", "en espanol", "hiszpanski", "spaniola", "espanhol",
           "স্প্যানিশ", "ہسپانوی", "الإسبانية"),
    "ar": ("العربية", "عربي", "عربى", "arabic", "arabi", "3arabi", "بالعربي", "بالعربية", "আরবি", "ਅਰਬੀ"),
    "bn": ("বাংলা", "bangla", "bengali", "bangla te", "banglay", "বাংলায়", "بنگالی", "ਬੰਗਾਲੀ", "البنغالية"),
}


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    return {normalise(name): code for code, names in NAMES.items() for name in (*names, LANGUAGES[code].native)}


def named_language(text: str) -> Optional[str]:
    """The language a message names and nothing else ("Polski", "urdu please"), if any."""
    norm = normalise(text)
    for suffix in (" please", " plz", " pls", " prosze", " por favor", " va rog", " lutfan", " plis"):
        if norm.endswith(suffix):
            norm = norm[: -len(suffix)]
    return _names().get(norm)


def mentioned_language(text: str) -> Optional[str]:
    """The one language a message names anywhere in it ("can we speak polish", "urdu mein
    baat karein"); None when it names none, or several."""
    norm = f" {normalise(text)} "
    found = {code for name, code in _names().items() if f" {name} " in norm}
    return found.pop() if len(found) == 1 else None


def chosen_language(entities: list[dict]) -> Optional[str]:
    """The language a message chose: a language button's payload, or a language named in a
    request to change (bot/rasa_ext/language_nlu.py marks those with the ``LanguageName``
    extractor); not merely the language the message happens to be written in."""
    for entity in entities:
        if entity.get("entity") == "language" and entity.get("value") in LANGUAGES and \
                entity.get("extractor") in (None, "LanguageName"):
            return entity["value"]
    return None


# --- identification --------------------------------------------------------------------------

_GURMUKHI = re.compile(r"[\u0A00-\u0A7F]")
_BENGALI = re.compile(r"[\u0980-\u09FF]")
_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]")
_LETTER = re.compile(r"[^\W\d_]", re.U)

# lingua's names for ours, and the languages it also tells apart that we do not support: those
# most spoken at home in England and Wales after ours (Census 2021), and neighbours of ours that
# would otherwise be misread as one of them.
_LINGUA_OURS = {"en": "ENGLISH", "cy": "WELSH", "pl": "POLISH", "ro": "ROMANIAN", "pa": "PUNJABI", "ur": "URDU",
                "pt": "PORTUGUESE", "es": "SPANISH", "ar": "ARABIC", "bn": "BENGALI"}
_LINGUA_OTHERS = ("FRENCH", "ITALIAN", "GERMAN", "LITHUANIAN", "LATVIAN", "RUSSIAN", "UKRAINIAN", "BULGARIAN", "TURKISH",
                  "PERSIAN", "CHINESE", "TAMIL", "GUJARATI", "HINDI", "SOMALI", "ALBANIAN", "GREEK", "HUNGARIAN",
                  "SLOVAK", "CZECH", "DUTCH", "TAGALOG", "VIETNAMESE", "JAPANESE", "KOREAN", "THAI")

_OURS_BY_LINGUA = {name: code for code, name in _LINGUA_OURS.items()}

MIN_WORDS = 3  # fewer words than this in a Latin script are never identified alone
SURE = 0.90  # one reader this sure is enough (with MIN_WORDS)
AGREED = 0.50  # both readers at least this sure of the same language


@dataclass(frozen=True)
class Identified:
    code: Optional[str]  # one of ours, when sure
    other: Optional[str] = None  # the English name of a language we do not support, when sure
    confidence: float = 0.0

    @property
    def sure(self) -> bool:
        return self.code is not None

    def as_dict(self) -> dict:
        return {"code": self.code, "other": self.other, "confidence": round(self.confidence, 3)}


@lru_cache(maxsize=1)
def _detector():
    from lingua import Language as L, LanguageDetectorBuilder

    names = [*(_LINGUA_OURS.values()), *_LINGUA_OTHERS]
    languages = [getattr(L, n) for n in names if hasattr(L, n)]
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()


def warm_up() -> None:
    """Load lingua's models now (at the Rasa server's start) rather than on someone's first message."""
    for sample in ("hello there, how are you", "dzień dobry", "مرحبا كيف حالك", "ہیلو آپ کیسے ہیں", "bonjour"):
        lingua_reading(sample)


def lingua_reading(text: str) -> dict[str, float]:
    """lingua's confidence for each language: our codes, and others by their English name."""
    out: dict[str, float] = {}
    for value in _detector().compute_language_confidence_values(text):
        name = value.language.name
        out[_OURS_BY_LINGUA.get(name, name.title())] = value.value
    return out


class LearnedReader:
    """Which of our languages a message is in, learned from the training data's examples
    (each labelled with its file's language): character n-grams, so that it knows Roman Urdu
    from romanised Punjabi, and Polish without its diacritics. Trained with scikit-learn;
    kept and applied as plain arrays (``from_arrays``), so a model file holds no pickle."""

    def __init__(self, model=None, arrays: Optional[dict] = None) -> None:
        self.model = model  # the scikit-learn pipeline, right after training
        self.arrays = arrays  # or: classes, vocabulary (n-gram -> column), idf, coef, intercept

    @classmethod
    def fit(cls, texts: list[str], labels: list[str]) -> "LearnedReader":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        if len(set(labels)) < 2:
            return cls(None)
        model = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=2, preprocessor=normalise),
            LogisticRegression(C=20.0, max_iter=2000),
        )
        model.fit(texts, labels)
        return cls(model)

    @classmethod
    def from_arrays(cls, meta: dict, arrays: dict) -> "LearnedReader":
        return cls(None, {"classes": list(meta["classes"]),
                          "vocabulary": {gram: i for i, gram in enumerate(meta["vocabulary"])}, **arrays})

    def probabilities(self, text: str) -> dict[str, float]:
        if not text.strip():
            return {}
        if self.model is not None:
            probs = self.model.predict_proba([text])[0]
            return {code: float(p) for code, p in zip(self.model.classes_, probs)}
        if self.arrays is None:
            return {}
        return self._apply(text)

    def _apply(self, text: str) -> dict[str, float]:
        """What TfidfVectorizer(char_wb, 1-4, sublinear_tf, l2) and LogisticRegression compute."""
        import numpy as np

        a = self.arrays
        counts: dict[int, int] = {}
        for word in normalise(text).split():
            padded = f" {word} "
            for n in range(1, 5):
                for i in range(len(padded) - n + 1):
                    column = a["vocabulary"].get(padded[i:i + n])
                    if column is not None:
                        counts[column] = counts.get(column, 0) + 1
        if not counts:
            return {}
        columns = np.fromiter(counts, dtype=np.int64)
        values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64))) * a["idf"][columns]
        values /= np.linalg.norm(values) or 1.0
        logits = a["coef"][:, columns] @ values + a["intercept"]
        if len(a["classes"]) == 2:  # binary: one row of coefficients
            p = 1.0 / (1.0 + np.exp(-logits[0]))
            return {a["classes"][0]: float(1 - p), a["classes"][1]: float(p)}
        logits = logits - logits.max()
        probs = np.exp(logits) / np.exp(logits).sum()
        return {code: float(p) for code, p in zip(a["classes"], probs)}


def identify(text: str, learned: Optional[Mapping[str, float]] = None) -> Identified:
    """Which language the message is written in, when that is clear (see the module's notes).
    ``learned``: the LearnedReader's probabilities for our languages, when it has run."""
    text = (text or "").strip()
    if not text or text.startswith("/"):
        return Identified(None)
    named = named_language(text)
    if named:
        return Identified(named, confidence=1.0)
    letters = _LETTER.findall(text)
    if len(letters) < 2:
        return Identified(None)
    for script, code in ((_GURMUKHI, "pa"), (_BENGALI, "bn")):
        if sum(bool(script.match(c)) for c in letters) > len(letters) / 2:
            return Identified(code, confidence=1.0)
    learned = {k: v for k, v in (learned or {}).items() if k in LANGUAGES}
    # words of letters only: a reference ("KGJ-JP4-F3Y"), a phone number or a postcode says nothing
    words = sum(1 for w in normalise(text).split() if len(w) > 1 and not any(c.isdigit() for c in w))
    arabic_script = sum(bool(_ARABIC_SCRIPT.match(c)) for c in letters) > len(letters) / 2
    if not arabic_script and words < MIN_WORDS:
        return Identified(None)  # before lingua: most replies are this short
    lingua = lingua_reading(text)
    if arabic_script:
        # Arabic or Urdu (or Persian): lingua tells the script's languages apart even when short
        best = max(lingua, key=lingua.get)
        if best in ("ar", "ur") and lingua[best] >= AGREED:
            return Identified(best, confidence=lingua[best])
        if best not in LANGUAGES and lingua[best] >= SURE and words >= MIN_WORDS:
            return Identified(None, other=best, confidence=lingua[best])
        guess = max(("ar", "ur"), key=lambda c: lingua.get(c, 0) + learned.get(c, 0))
        return Identified(guess, confidence=lingua.get(guess, 0)) if words >= MIN_WORDS else Identified(None)
    ours = max(learned, key=learned.get) if learned else None
    p = learned.get(ours, 0.0) if ours else 0.0
    best_lingua = max(lingua, key=lingua.get)
    if ours and (p >= SURE or (p >= AGREED and best_lingua == ours)):
        return Identified(ours, confidence=p)
    if best_lingua not in LANGUAGES and lingua[best_lingua] >= SURE and p < AGREED:
        return Identified(None, other=best_lingua, confidence=lingua[best_lingua])
    if not learned and best_lingua in LANGUAGES and lingua[best_lingua] >= SURE:
        return Identified(best_lingua, confidence=lingua[best_lingua])
    return Identified(None)

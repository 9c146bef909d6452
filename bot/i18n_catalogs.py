"""Babel catalogs of every text the bot sends: extract, update, compile, check.

The English source text stays where it is used: domain.yml's responses (so Rasa's own tools
work), the questionnaires' questions and options (bot/report/questions.py,
bot/safety/risk_matrix.yml, bot/booking/questions.py: labels in summaries, buttons made by
actions, and the words a typed answer is matched against), and strings marked ``N_`` in
bot/ and actions/ (Babel's own Python extractor). ``extract`` pulls them all into
``locales/messages.pot``; ``update`` merges it into each language's
``locales/<lang>/LC_MESSAGES/messages.po`` (creating the catalog of a language that has
none), as Poedit and Weblate expect; ``compile`` writes the ``.mo`` files read at run time
(bot/i18n.py); ``check`` lists what a translator still has to do.

    python -m bot.i18n_catalogs extract | update | compile | check [LANG ...]
"""
from __future__ import annotations

import re
import sys
from typing import Iterator

import yaml
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from bot.languages import CODES, LANGUAGES
from bot.settings import ROOT

LOCALES = ROOT / "locales"
POT = LOCALES / "messages.pot"
DOMAIN = "messages"
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

# Notes for translators, by where a message is used.
COMMENTS = {
    "domain.yml:utter_language_changed": "Say that you will write in YOUR language from now on (name your language).",
    "domain.yml:utter_language_switched": "Say that the person is writing in YOUR language, so you carry on in it.",
    "domain.yml:utter_language_not_supported": "Only ever shown in English; translate it all the same.",
    "domain.yml:utter_language_offer": "Only ever shown in English; translate it all the same.",
}


def extract_domain(fileobj, keywords, comment_tags, options) -> Iterator[tuple]:
    """Babel extraction method for domain.yml: each response's text and button titles (the
    language buttons excepted: each is written in its own language, in every language)."""
    domain = yaml.safe_load(fileobj.read().decode("utf-8"))
    native = {lang.native for lang in LANGUAGES.values()}
    for name, variants in (domain.get("responses") or {}).items():
        comment = COMMENTS.get(f"domain.yml:{name}")
        for variant in variants:
            if variant.get("text"):
                yield 0, None, variant["text"], [f"{name}", *([comment] if comment else [])]
            for button in variant.get("buttons") or []:
                if button["title"] not in native:
                    yield 0, None, button["title"], [f"{name} (button)"]


def questionnaire_messages() -> Iterator[tuple[str, str]]:
    """(text, where) for every question and option label of every questionnaire."""
    from bot.booking.questions import BOOKING, CHECK, NONE_OF_THESE_TIMES
    from bot.report.questions import REPORT
    from bot.safety.check import SAFETY

    for questionnaire in (REPORT, SAFETY, BOOKING, CHECK):
        for q in questionnaire.questions:
            yield q.label, f"{questionnaire.name}:{q.slot}"
            for option in q.options:
                yield option.label, f"{questionnaire.name}:{q.slot}.{option.value}"
    yield NONE_OF_THESE_TIMES, "booking:call_time"


def source_messages() -> list[tuple[str, str, list[str]]]:
    """(message, where it comes from, notes) for every text the bot can send."""
    found: list[tuple[str, str, list[str]]] = []
    with (ROOT / "domain.yml").open("rb") as fh:
        for _, _, message, comments in extract_domain(fh, None, None, None):
            found.append((message, "domain.yml", comments))
    for message, where in questionnaire_messages():
        found.append((message, where, []))
    for folder in ("bot", "actions"):
        for filename, _, message, comments, _ in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords={"N_": None, "NP_": (1, 2)}, comment_tags=("TRANSLATORS:",)
        ):
            found.append((message, f"{folder}/{filename}", list(comments)))
    return found


def extract() -> Catalog:
    catalog = Catalog(project="hate-crime-reporting", domain=DOMAIN, fuzzy=False)
    for message, where, comments in source_messages():
        existing = catalog.get(message)
        if existing is not None:
            existing.locations.append((where, 0))
            existing.auto_comments.extend(c for c in comments if c not in existing.auto_comments)
        else:
            catalog.add(message, locations=[(where, 0)], auto_comments=comments)
    LOCALES.mkdir(exist_ok=True)
    with POT.open("wb") as fh:
        write_po(fh, catalog, width=0, omit_header=False, sort_output=True)
    return catalog


def catalog_path(lang: str):
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def languages() -> list[str]:
    return [code for code in CODES if catalog_path(code).exists()]


def read_catalog(lang: str) -> Catalog:
    with catalog_path(lang).open("rb") as fh:
        return read_po(fh, locale=Locale.parse(LANGUAGES[lang].locale))


def update() -> None:
    for lang in CODES:
        with POT.open("rb") as fh:  # read afresh for each: Catalog.update shares the template's messages
            template = read_po(fh)
        po = catalog_path(lang)
        if po.exists():
            catalog = read_catalog(lang)
        else:
            po.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=Locale.parse(LANGUAGES[lang].locale), domain=DOMAIN, project="hate-crime-reporting",
                              fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
        if lang == "en":  # English is the source text itself
            for message in catalog:
                if message.id:
                    message.string = message.id
        with po.open("wb") as fh:
            write_po(fh, catalog, width=0, sort_output=True, ignore_obsolete=True)


def compile_all() -> None:
    for lang in languages():
        po = catalog_path(lang)
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        catalog = read_catalog(lang)
        with mo.open("wb") as fh:
            write_mo(fh, catalog)


def problems(lang: str) -> list[str]:
    """Untranslated, fuzzy, or with placeholders that differ from the English: each a line."""
    with POT.open("rb") as fh:
        wanted = [m.id for m in read_po(fh) if m.id]
    catalog = read_catalog(lang)
    found = []
    have = {m.id: m for m in catalog if m.id}
    for msgid in wanted:
        message = have.get(msgid)
        english = msgid if isinstance(msgid, str) else msgid[0]
        short = english[:70].replace("\n", " ")
        forms = () if message is None else (message.string,) if isinstance(message.string, str) else message.string
        if isinstance(msgid, tuple) and message is not None and len(forms) != catalog.num_plurals:
            found.append(f"plural: {short} needs a tuple of {catalog.num_plurals} forms as message.string")
        elif message is None or not forms or not all(forms):
            found.append(f"untranslated: {short}" + (f" (plural: a tuple of {catalog.num_plurals} forms)"
                                                     if isinstance(msgid, tuple) else ""))
        elif message.fuzzy:
            found.append(f"fuzzy: {short}")
        elif any(sorted(PLACEHOLDER.findall(english)) != sorted(PLACEHOLDER.findall(form)) for form in forms):
            found.append(f"placeholders differ: {short}")
    return found


def check(langs: list[str]) -> int:
    bad = 0
    for lang in langs or CODES:
        listed = problems(lang)
        bad += len(listed)
        print(f"{lang}: {len(listed)} problem(s)")
        for line in listed:
            print("  " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "compile"
    if command == "check":
        sys.exit(check(sys.argv[2:]))
    {"extract": extract, "update": update, "compile": compile_all}[command]()

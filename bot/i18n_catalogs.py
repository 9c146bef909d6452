"""Babel catalogs of every text the bot sends: extract, update, compile.

The English source text stays in domain.yml (so Rasa's own tools work) and in
bot/report/questions.py (labels in the summary); ``extract`` pulls both into
``locales/messages.pot``, ``update`` merges it into each language's
``locales/<lang>/LC_MESSAGES/messages.po`` (as Poedit and Weblate expect), and
``compile`` writes the ``.mo`` files that are read at run time.
"""
from __future__ import annotations

import sys

import yaml
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from bot.report.questions import QUESTIONS
from bot.report.summary import SKIPPED_LABEL
from bot.settings import ROOT

LOCALES = ROOT / "locales"
POT = LOCALES / "messages.pot"
DOMAIN = "messages"


def source_messages() -> list[tuple[str, str]]:
    """(message, where it comes from) for every text the bot can send."""
    found: list[tuple[str, str]] = []
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    for name, variants in domain.get("responses", {}).items():
        for variant in variants:
            if variant.get("text"):
                found.append((variant["text"], f"domain.yml:{name}"))
            for button in variant.get("buttons", []) or []:
                found.append((button["title"], f"domain.yml:{name}:button"))
    for q in QUESTIONS:
        found.append((q.label, f"bot/report/questions.py:{q.slot}"))
        for option in q.options:
            found.append((option.label, f"bot/report/questions.py:{q.slot}.{option.value}"))
    found.append((SKIPPED_LABEL, "bot/report/summary.py"))
    found.append(("Never mind", "actions/report.py"))
    return found


def extract() -> Catalog:
    catalog = Catalog(project="hate-crime-reporting", domain=DOMAIN, fuzzy=False)
    for message, where in source_messages():
        catalog.add(message, locations=[(where, 0)])
    LOCALES.mkdir(exist_ok=True)
    with POT.open("wb") as fh:
        write_po(fh, catalog, width=0, omit_header=False, sort_output=True)
    return catalog


def languages() -> list[str]:
    return sorted(p.name for p in LOCALES.iterdir() if (p / "LC_MESSAGES").is_dir()) if LOCALES.exists() else []


def update() -> None:
    with POT.open("rb") as fh:
        template = read_po(fh)
    for lang in languages():
        po = LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        if po.exists():
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=lang)
        else:
            catalog = Catalog(locale=lang, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True)
        if lang == "en":  # English is the source text itself
            for message in catalog:
                if message.id:
                    message.string = message.id
        with po.open("wb") as fh:
            write_po(fh, catalog, width=0, sort_output=True)


def compile_all() -> None:
    for lang in languages():
        po = LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        with mo.open("wb") as fh:
            write_mo(fh, catalog)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "compile"
    {"extract": extract, "update": update, "compile": compile_all}[command]()

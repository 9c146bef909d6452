"""The catalog NLG (bot/rasa_ext/nlg.py) with the real domain, a real tracker and the real catalogs."""
from __future__ import annotations

import asyncio

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.i18n import RLM, translate
from bot.rasa_ext.nlg import CatalogNLG
from bot.settings import ROOT

DOMAIN = Domain.load(str(ROOT / "domain.yml"))
NLG = CatalogNLG(domain=DOMAIN)
DANGER_EN = DOMAIN.responses["utter_danger_999"][0]["text"]


def tracker(*events, sender="s1") -> DialogueStateTracker:
    return DialogueStateTracker.from_events(sender, list(events), slots=DOMAIN.slots)


def user(text, intent="greet", identified=None, ts=None):
    parse = {"intent": {"name": intent, "confidence": 1.0}, "entities": [], "text": text}
    if identified:
        parse["language_identified"] = identified
    return UserUttered(text, parse["intent"], [], parse_data=parse, timestamp=ts)


def generate(name, t, **kwargs):
    return asyncio.run(NLG.generate(name, t, "rest", **kwargs))


def translated(text: str, lang: str) -> bool:
    return translate(text, lang) != text


def test_english_is_the_domain_text():
    out = generate("utter_danger_999", tracker(user("help", "danger"), SlotSet("language", "en")))
    assert out["text"] == DANGER_EN


@pytest.mark.parametrize("lang", ["pl", "cy", "ar", "ur", "bn", "pa", "ro", "pt", "es"])
def test_the_999_advice_in_the_conversation_s_language_with_999_kept(lang):
    if not translated(DANGER_EN, lang):
        pytest.skip(f"{lang} catalog not translated yet")
    out = generate("utter_danger_999", tracker(user("x", "danger"), SlotSet("language", lang)))
    assert out["text"] != DANGER_EN and "999" in out["text"] and "55" in out["text"]
    assert out["text"].startswith(RLM) == (lang in ("ar", "ur"))
    assert [b["payload"] for b in out["buttons"]] == [b["payload"] for b in DOMAIN.responses["utter_danger_999"][0]["buttons"]]


def test_values_are_filled_in_after_translation():
    out = generate("utter_already_sent", tracker(user("x"), SlotSet("language", "pl")), case_reference="HC-2026-ABCD")
    assert "HC-2026-ABCD" in out["text"] and "{case_reference}" not in out["text"]


def test_the_greeting_offers_the_languages_while_the_language_is_not_known():
    out = generate("utter_greet", tracker(user("hi")))
    titles = [b["title"] for b in out["buttons"]]
    assert titles == ["English", "Cymraeg", "Polski", "Română", "ਪੰਜਾਬੀ", "اردو", "Português", "Español", "العربية", "বাংলা"]
    assert DOMAIN.responses["utter_language_offer"][0]["text"] in out["text"]


def test_no_offer_once_the_language_is_known():
    out = generate("utter_greet", tracker(user("hello I want to report abuse"), SlotSet("language", "en")))
    assert not out.get("buttons")


def test_writing_in_another_language_mid_conversation_is_said_once_in_the_new_language():
    events = [user("hello I want to report", ts=1), SlotSet("language", "en"), BotUttered("Hello", timestamp=2),
              user("Mój sąsiad krzyczy na mnie każdego dnia", "report_harassment", {"code": "pl"}, ts=3),
              SlotSet("language", "pl")]
    first = generate("utter_privacy", tracker(*events, sender="switch"))
    notice = translate(DOMAIN.responses["utter_language_switched"][0]["text"], "pl")
    assert first["text"].startswith(notice)
    again = generate("utter_privacy", tracker(*events, sender="switch"))
    assert not again["text"].startswith(notice) or notice == again["text"]


def test_a_language_we_do_not_support_gets_english_and_the_interpreter_offer():
    t = tracker(user("Je voudrais signaler du harcèlement", "report_harassment", {"code": None, "other": "French"}))
    out = generate("utter_greet", t)
    assert "French" in out["text"] and "interpreter" in out["text"]


def test_the_999_advice_never_carries_a_notice():
    events = [user("hello", ts=1), SlotSet("language", "en"), BotUttered("Hello", timestamp=2),
              user("Je suis en danger", "danger", {"code": None, "other": "French"}, ts=3)]
    assert generate("utter_danger_999", tracker(*events))["text"] == DANGER_EN


def test_a_language_button_says_so_in_the_chosen_language_without_a_switch_notice():
    events = [user("hello", ts=1), SlotSet("language", "en"), BotUttered("Hello", timestamp=2),
              user('/choose_language{"language":"es"}', "choose_language", ts=3), SlotSet("language", "es"),
              ActionExecuted("action_choose_language")]
    out = generate("utter_language_changed", tracker(*events))
    assert out["text"] == translate(DOMAIN.responses["utter_language_changed"][0]["text"], "es")

"""Whole conversations in each of the ten languages, through the real Rasa and action servers.

Each language's messages come from its test stories (tests/stories/test_language_<lang>.yml,
written by speakers of it): a first message describing harassment, a danger message, and a
request to change language. Every reply is checked against the catalogs: the bot answers in
the language the person wrote in, from the first reply, through the report, the safety check
and the booking of a call, and the 999 advice comes in the language the danger was told in.
"""
from __future__ import annotations

from functools import lru_cache

import pytest
import yaml
from sqlalchemy import select

from bot.booking.officers import DEMO_OFFICERS, load_officers
from bot.db import session_factory
from bot.i18n import RLM, translate
from bot.languages import CODES
from bot.models import Booking, Case, Officer
from bot.settings import ROOT
from tests.test_integration import Chat

pytestmark = pytest.mark.integration

OTHERS = [code for code in CODES if code != "en"]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def english(response: str) -> str:
    return DOMAIN["responses"][response][0]["text"]


def said(response: str, lang: str, reply: str, **values) -> bool:
    """The reply holds the response as the catalog words it in the language (values filled in)."""
    text = translate(english(response), lang).format(**values) if values else translate(english(response), lang)
    return text.replace(RLM, "") in reply.replace(RLM, "")


@lru_cache(maxsize=None)
def story_messages(lang: str) -> dict[str, str]:
    """The language's own messages, from its test stories: report, greeting, danger, switch."""
    stories = yaml.safe_load((ROOT / "tests" / "stories" / f"test_language_{lang}.yml").read_text(encoding="utf-8"))
    users = [[step["user"].strip() for step in story["steps"] if "user" in step] for story in stories["stories"]]
    return {"report": users[0][0], "greeting": users[1][0], "danger": users[1][1], "switch": users[2][1]}


def choose(value: str) -> str:
    return '/choose{"value":"%s"}' % value


# The report, the safety check and the booking, answered with the buttons (as most people do) and
# with words that are the same in every language (an address, a name, numbers).
REPORT = [choose("victim"), choose("racist"), choose("race"), choose("yesterday"), choose("repeated"), choose("yes"),
          choose("home"), "Flat 4, Oak Court", choose("known"), choose("our_tenant"), "/skip", choose("no"),
          choose("recordings"), choose("no"), choose("no"), choose("none"), "Sam", "07700 900123", choose("yes"),
          choose("no")]
SAFETY = [choose("yes"), choose("yes"), choose("any"), choose("yes"), "/skip", "/skip", "/deny", "/deny", "/deny",
          "/deny", "/deny", choose("neither"), choose("none"), choose("none"), choose("not_really"), "/deny",
          "/affirm", "/deny", "/deny"]


def booking(lang: str) -> list[str]:
    return [choose("phone"), "07700 900777", choose("no"), choose("no_preference"), choose("no_preference"),
            choose(lang), choose("any"), choose("weekly"), choose("0"), "harebell", choose("no")]


@pytest.fixture(scope="module")
def officers(sqlite_stack):
    factory = session_factory(sqlite_stack.settings.database_url)
    with factory() as s:
        if not s.execute(select(Officer.id)).first():
            load_officers(factory, DEMO_OFFICERS)
    return sqlite_stack


@pytest.mark.parametrize("lang", OTHERS)
def test_a_whole_report_safety_check_and_booking_in_the_language(officers, lang):
    stack = officers
    chat = Chat(stack)
    first = chat.say(story_messages(lang)["report"])
    assert chat.slot("language") == lang, first
    assert said("utter_greet", lang, first) and said("utter_privacy", lang, first), first
    for text in REPORT:
        reply = chat.say(text)
        assert chat.slot("language") == lang, (text, reply)
    reply = chat.say("/affirm")
    reference = chat.slot("case_reference")
    assert reference and reference in reply.replace(RLM, "")
    for text in SAFETY:
        reply = chat.say(text)
    assert chat.slot("risk_level") in ("standard", "medium", "high"), reply
    assert said("utter_offer_call", lang, reply), reply
    reply = chat.say("/affirm")
    for text in booking(lang):
        reply = chat.say(text)
    assert chat.slot("booking_reference"), reply
    assert chat.slot("booking_reference") in reply.replace(RLM, "")
    assert all(english(r) not in t for t in chat.transcript for r in ("utter_greet", "utter_privacy", "utter_offer_call"))
    with session_factory(stack.settings.database_url)() as s:
        case = s.execute(select(Case).where(Case.reference == reference)).scalar_one()
        call = s.execute(select(Booking).where(Booking.reference == chat.slot("booking_reference"))).scalar_one()
    assert case.language == lang
    assert call.language == lang


@pytest.mark.parametrize("lang", OTHERS)
def test_danger_in_the_language_in_an_english_conversation_gets_999_in_it(sqlite_stack, lang):
    chat = Chat(sqlite_stack)
    chat.say("I want to report racist abuse from my neighbour")
    assert chat.slot("language") == "en"
    reply = chat.say(story_messages(lang)["danger"])
    assert said("utter_danger_999", lang, reply), reply
    assert reply.replace(RLM, "").startswith(translate(english("utter_danger_999"), lang).replace(RLM, "")[:40])
    assert chat.slot("immediate_risk") is True and chat.slot("language") == lang


@pytest.mark.parametrize("lang", OTHERS)
def test_switching_to_the_language_midway_asks_the_same_question_in_it(sqlite_stack, lang):
    chat = Chat(sqlite_stack)
    chat.say("I want to report racist abuse from my neighbour")
    reply = chat.say(story_messages(lang)["switch"])
    if said("utter_choose_language", lang, reply) or said("utter_choose_language", "en", reply):
        reply = chat.say('/choose_language{"language":"%s"}' % lang)  # "change language" without naming one
    assert chat.slot("language") == lang
    assert said("utter_language_changed", lang, reply), reply
    assert chat.slot("requested_slot") == "reporter_role"  # the same question, asked again
    reply = chat.say(choose("witness"))
    assert chat.slot("reporter_role") == "witness" and chat.slot("language") == lang


def test_the_language_button_and_the_name_of_a_language(stack):
    chat = Chat(stack)
    reply = chat.say("hi")
    assert "Polski" in reply and "العربية" in reply  # the languages offered, each in itself
    reply = chat.say("Polski")
    assert chat.slot("language") == "pl" and said("utter_language_changed", "pl", reply)
    reply = chat.say('/choose_language{"language":"ar"}')
    assert chat.slot("language") == "ar" and reply.startswith(RLM)
    reply = chat.say("change language")
    assert "Cymraeg" in reply and "বাংলা" in reply


def test_a_language_we_do_not_support_is_answered_in_english_with_an_interpreter(stack):
    chat = Chat(stack)
    reply = chat.say("Bonjour, je voudrais signaler du harcèlement raciste de la part de mon voisin")
    assert chat.slot("language") == "en"
    assert "French" in reply and "interpreter" in reply

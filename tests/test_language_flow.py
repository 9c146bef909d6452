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

from bot.booking.officers import ensure_demo_officers
from bot.db import session_factory
from bot.i18n import RLM, translate
from bot.languages import CODES
from bot.models import Booking, Case
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
# with words that are the same in every language (an address, a name, numbers), by the question
# the bot is asking.
ANSWERS = {
    # the report
    "reporter_role": choose("victim"), "description": "/skip", "incident_type": choose("racist"), "motivation": choose("race"),
    "incident_when": choose("yesterday"), "frequency": choose("repeated"), "ongoing": choose("yes"),
    "location": choose("home"), "address": "Flat 4, Oak Court", "perpetrator_known": choose("known"),
    "perpetrator_status": choose("our_tenant"), "perpetrator_description": "/skip", "witnesses": choose("no"),
    "evidence": choose("recordings"), "graffiti": choose("no"), "home_insecure": choose("no"),
    "vulnerable": choose("none"), "contact_name": "Sam", "contact": "07700 900123",
    "consent_police": choose("yes"), "consent_agencies": choose("no"),
    # the safety check
    "safe_to_talk": choose("yes"), "safe_contact": choose("yes"), "safe_times": choose("any"),
    "voicemail_ok": choose("yes"), "code_word": "/skip", "risk_afraid_of": choose("not_afraid"),
    "risk_health_effect": choose("not_really"), "risk_knows_address": choose("no"),
    "risk_escalating": choose("neither"), "risk_targets": choose("none"), "risk_vulnerability": choose("none"),
    "risk_safe_tonight": "/affirm",
    # the booking
    "call_method": choose("phone"), "call_use_known_phone": choose("yes"), "call_phone": "07700 900777",
    "call_voicemail": choose("no"), "officer_sex": choose("no_preference"), "officer_ethnicity": choose("no_preference"),
    "call_safe_times": choose("any"), "update_frequency": choose("weekly"), "call_time": choose("0"),
    "call_secret": "harebell", "call_reminder": choose("no"),
}


def answer_until_done(chat: Chat, form: str, lang: str, limit: int = 40) -> str:
    """Answer each question the form asks (by its requested slot) until the form is done."""
    reply = chat.transcript[-1]
    for _ in range(limit):
        slot = chat.slot("requested_slot")
        if not slot:
            return reply
        reply = chat.say(choose(lang) if slot == "call_language" else ANSWERS.get(slot, "/deny"))
        assert chat.slot("language") == lang, (form, slot, reply)
    raise AssertionError(f"{form} did not finish: {reply}")


@pytest.fixture(scope="module")
def officers(sqlite_stack):
    ensure_demo_officers(session_factory(sqlite_stack.settings.database_url))  # as make run does
    return sqlite_stack


@pytest.mark.parametrize("lang", OTHERS)
def test_a_whole_report_safety_check_and_booking_in_the_language(officers, lang):
    stack = officers
    chat = Chat(stack)
    first = chat.say(story_messages(lang)["report"])
    assert chat.slot("language") == lang, first
    assert said("utter_greet", lang, first) and said("utter_privacy", lang, first), first
    answer_until_done(chat, "report", lang)
    reply = chat.say("/affirm")  # send it, at the summary
    reference = chat.slot("case_reference")
    assert reference and reference in reply.replace(RLM, "")
    reply = answer_until_done(chat, "safety check", lang)
    assert chat.slot("risk_level") in ("standard", "medium", "high"), reply
    assert said("utter_offer_call", lang, reply), reply
    chat.say("/affirm")  # yes to a call
    reply = answer_until_done(chat, "booking", lang)
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
    # Read as a request to switch ("changed") or as writing on in the language ("switched"): either way
    # it says so in the language, and asks the same question again in it.
    assert said("utter_language_changed", lang, reply) or said("utter_language_switched", lang, reply), reply
    assert chat.slot("requested_slot") == "reporter_role"  # the same question, asked again
    reply = chat.say(choose("witness"))
    assert chat.slot("reporter_role") == "witness" and chat.slot("language") == lang


def test_the_language_button_and_the_name_of_a_language(stack):
    chat = Chat(stack)
    chat.say("hi")
    titles = [b["title"] for m in chat.messages for b in m.get("buttons") or []]
    assert "Polski" in titles and "العربية" in titles  # the languages offered, each in itself
    reply = chat.say("Polski")
    assert chat.slot("language") == "pl" and said("utter_language_changed", "pl", reply)
    reply = chat.say('/choose_language{"language":"ar"}')
    assert chat.slot("language") == "ar" and reply.startswith(RLM)
    chat.say("change language")
    titles = [b["title"] for m in chat.messages for b in m.get("buttons") or []]
    assert "Cymraeg" in titles and "বাংলা" in titles


def test_a_language_we_do_not_support_is_answered_in_english_with_an_interpreter(stack):
    chat = Chat(stack)
    reply = chat.say("Bonjour, je voudrais signaler du harcèlement raciste de la part de mon voisin")
    assert chat.slot("language") == "en"
    assert "French" in reply and "interpreter" in reply

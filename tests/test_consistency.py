"""The pieces that must agree: domain.yml, the questions, the consent wording, the rules, the catalogs."""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from bot.consent import WORDINGS
from bot.i18n_catalogs import POT, source_messages
from bot.report.questions import QUESTIONS, SLOTS
from bot.booking.questions import BOOKING, CHECK, RESCHEDULE
from bot.referrals import RULES
from bot.report.reading import COMMAND_INTENTS
from bot.safety.check import LEVELS, SAFETY
from bot.settings import ROOT

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
RESPONSES = DOMAIN["responses"]
CONTRACT_SLOTS = {"language": "text", "immediate_risk": "bool", "risk_level": "text", "case_reference": "text", "booking_reference": "text"}


def _payload_value(payload: str):
    if payload == "/skip":
        return "SKIP"
    match = re.fullmatch(r'/choose(\{.*\})', payload)
    return json.loads(match.group(1))["value"] if match else None


# Where skipping is better put another way than "I'd rather not say".
SKIP_TITLES = {"code_word": "No code word", "safe_contact_other": "Skip", "call_secret": "No word, thanks"}
# Questions whose buttons are made at the moment they are asked (the free times).
ASKED_BY_ACTION = {"call_time"}


def test_every_question_has_a_response_whose_buttons_match_its_options():
    for q in (*QUESTIONS, *SAFETY.questions, *BOOKING.questions):
        if q.slot in ASKED_BY_ACTION:
            assert f"action_ask_{q.slot}" in DOMAIN["actions"]
            continue
        variants = RESPONSES[f"utter_ask_{q.slot}"]
        for variant in variants:
            buttons = [(b["title"], _payload_value(b["payload"])) for b in variant.get("buttons", [])]
            assert buttons[-1] == (SKIP_TITLES.get(q.slot, "I'd rather not say"), "SKIP"), q.slot
            assert buttons[:-1] == [(o.label, o.value) for o in q.options], q.slot


def test_the_forms_ask_exactly_the_questions_in_the_same_order():
    assert DOMAIN["forms"]["report_form"]["required_slots"] == list(SLOTS)
    assert DOMAIN["forms"]["safety_form"]["required_slots"] == list(SAFETY.slots)
    assert DOMAIN["forms"]["booking_form"]["required_slots"] == list(BOOKING.slots)
    assert DOMAIN["forms"]["booking_check_form"]["required_slots"] == list(CHECK.slots)
    assert DOMAIN["forms"]["reschedule_form"]["required_slots"] == list(RESCHEDULE.slots)


def test_the_safety_check_can_say_every_level_and_every_referral():
    for level in LEVELS:
        assert f"utter_safety_result_{level}" in RESPONSES
    for rule in RULES:
        if rule.kind == "on_call_alert":
            continue  # said with the 999 advice (utter_danger_alerted)
        assert f"utter_referral_{rule.kind}" in RESPONSES, rule.kind
    # a disclosure without consent is always told, for every rule that may make one
    for kind in ("police", "local_authority_housing", "safeguarding"):
        assert f"utter_referral_{kind}_duty" in RESPONSES, kind


def test_the_999_advice_needs_no_action_and_asks_if_they_are_safe():
    (advice,) = RESPONSES["utter_danger_999"]
    assert "999" in advice["text"] and "55" in advice["text"] and "emergencySMS" in advice["text"]
    assert "safe" in advice["text"].split("\n")[-1]
    assert [b["payload"] for b in advice["buttons"]] == ["/affirm", "/deny"]


def test_no_slot_can_be_set_from_a_message_except_danger_now_and_the_language():
    for name, slot in DOMAIN["slots"].items():
        if name == "immediate_risk":
            # Set in the same turn as the danger message, even with the action server down.
            assert slot["mappings"] == [{"type": "from_intent", "intent": "danger", "value": True}]
            continue
        if name == "language":
            # Set in the same turn from what the message is written in or names (a typed
            # "/greet{\"language\": \"xx\"}" can set any value: it is rendered as English).
            assert slot["mappings"] == [{"type": "from_entity", "entity": "language"}]
            continue
        assert slot["mappings"] == [{"type": "custom"}], name


def test_every_question_is_stored_on_the_case():
    from bot.models import Case

    columns = set(Case.__table__.columns.keys())
    stored_elsewhere = {"incident_when": {"incident_date", "incident_period"}, "contact": {"contact_phone", "contact_email"}}
    for slot in SLOTS:
        if slot in WORDINGS:
            continue  # consent rows
        assert stored_elsewhere.get(slot, {slot}) <= columns, slot


def test_contract_slots_exist_with_their_types():
    from rasa.shared.core.slots import Slot, TextSlot

    for name, kind in CONTRACT_SLOTS.items():
        declared = DOMAIN["slots"][name]["type"]
        if name == "language":  # a text slot that refuses a code not of the ten (bot/rasa_ext/slots.py)
            assert issubclass(Slot.resolve_by_type(declared), TextSlot)
            continue
        assert declared == kind
    assert DOMAIN["slots"]["language"]["initial_value"] == "en"


def test_consent_questions_show_exactly_the_versioned_wording():
    for slot, wording in WORDINGS.items():
        assert [v["text"] for v in RESPONSES[f"utter_ask_{slot}"]] == [wording.text]


def _rule_intents():
    intents = set()
    for path in (ROOT / "data" / "rules").glob("*.yml"):
        for rule in yaml.safe_load(path.read_text())["rules"]:
            conditions = rule.get("condition") or []
            in_form = any(c.get("active_loop") == "report_form" for c in conditions)
            first = rule["steps"][0]
            if "intent" in first:
                intents.add((first["intent"], in_form))
    return intents


def test_every_command_that_interrupts_a_question_has_a_rule():
    intents = _rule_intents()
    for intent in COMMAND_INTENTS:
        assert (intent, True) in intents or (intent, False) in intents, intent


def test_every_response_the_code_names_exists():
    code = "\n".join(p.read_text() for p in [*(ROOT / "actions").glob("*.py"), *(ROOT / "bot").rglob("*.py")])
    named = set(re.findall(r'"(utter_[a-z_]+)"', code))
    for problem in ("choice", "date", "future_date", "contact", "text"):
        named.add(f"utter_unclear_{problem}")
    for step in ("first_contact", "no_contact", "anonymous", "graffiti", "emergency_repair", "out_of_hours",
                 "emergency_repair_needs_address", "come_back"):
        named.add(f"utter_next_{step}")
    missing = {n for n in named if n not in RESPONSES}
    assert not missing


def test_the_message_catalog_template_is_up_to_date():
    from babel.messages.pofile import read_po

    with Path(POT).open("rb") as fh:
        pot = {m.id for m in read_po(fh) if m.id}
    assert pot == {message for message, _, _ in source_messages()}, "run: make update-messages"

"""The real Rasa server and action server, talked to through the REST channel.

Runs once on SQLite (the embedded default) and once on PostgreSQL with the
Redis lock store (production), and finds the cases in the database.
"""
from __future__ import annotations

import uuid
import pytest
import requests
from sqlalchemy import select

from bench.journeys import REPORT_JOURNEY
from bot.db import session_factory
from bot.models import Case, Consent, WorkOrder
from bot.processes import Stack

pytestmark = pytest.mark.integration


class Chat:
    def __init__(self, stack: Stack, sender: str | None = None):
        self.stack = stack
        self.sender = sender or uuid.uuid4().hex
        self.transcript: list[str] = []

    def say(self, text: str) -> str:
        r = requests.post(f"{self.stack.rasa_url}/webhooks/rest/webhook",
                          json={"sender": self.sender, "message": text, "metadata": {}}, timeout=60)
        r.raise_for_status()
        self.messages = r.json()
        reply = "\n".join(m.get("text", "") for m in self.messages)
        self.transcript.append(reply)
        return reply

    def tracker(self) -> dict:
        r = requests.get(f"{self.stack.rasa_url}/conversations/{self.sender}/tracker",
                         params={"token": self.stack.settings.rasa_auth_token}, timeout=30)
        r.raise_for_status()
        return r.json()

    def slot(self, name: str):
        return self.tracker()["slots"].get(name)


def cases(stack: Stack) -> list[Case]:
    with session_factory(stack.settings.database_url)() as s:
        return list(s.execute(select(Case)).scalars())


def case_by_reference(stack: Stack, reference: str):
    with session_factory(stack.settings.database_url)() as s:
        case = s.execute(select(Case).where(Case.reference == reference)).scalar_one()
        consents = {c.scope: c for c in s.execute(select(Consent).where(Consent.case_id == case.id)).scalars()}
        orders = [o.kind for o in s.execute(select(WorkOrder).where(WorkOrder.case_id == case.id)).scalars()]
        return case, consents, orders


def test_a_whole_report_through_rest_becomes_a_case(stack):
    chat = Chat(stack)
    first = chat.say(REPORT_JOURNEY[0])
    assert "confidential" in first and "stop" in first and "999" in first
    assert "who is reporting" in first
    replies = [chat.say(m) for m in REPORT_JOURNEY[1:-1]]
    assert "Which of these best describes it" in replies[0]  # the opening account was kept
    summary = replies[-1]
    assert "Here's what you've told me" in summary and "Flat 4, Oak Court" in summary
    final = chat.say(REPORT_JOURNEY[-1])
    assert "Your reference is" in final and "within" not in final.split("Your reference is")[0]
    reference = chat.slot("case_reference")
    assert reference and reference in final
    assert chat.slot("language") == "en"
    assert chat.slot("description") is None  # the answers live in the case now, not the conversation

    case, consents, orders = case_by_reference(stack, reference)
    assert case.description == REPORT_JOURNEY[0]
    assert case.reporter_role == "victim" and case.incident_type == ["racist", "violence", "abuse"]
    assert case.motivation == ["race"] and case.frequency == "repeated" and case.ongoing == "yes"
    assert case.location == "home" and case.address == "Flat 4, Oak Court"
    assert case.perpetrator_known == "known" and case.perpetrator_status == "our_tenant"
    assert case.perpetrator_description == "tall man, about 50"
    assert case.witnesses == "no" and case.evidence == ["recordings"]
    assert case.graffiti is False and case.home_insecure is False and case.vulnerable == ["none"]
    assert case.contact_name == "Sam" and case.contact_phone == "+447700900123"
    assert case.channel == "rest" and case.conversation_id == chat.sender
    assert consents["police"].granted and consents["police"].wording_version == "police-v1"
    assert not consents["other_agencies"].granted
    assert orders == []


def test_graffiti_anonymous_and_skips(stack):
    chat = Chat(stack)
    chat.say("hello")
    reply = chat.say('/choose{"value":"anonymous"}')
    assert "can't contact you" in reply and "what happened" in reply
    chat.say("someone wrote racist graffiti on the door of our block")
    for text in ["/skip", "/skip", "3 days ago", "just once", "no", '/choose{"value":"estate"}']:
        chat.say(text)
    reply = chat.say("I don't know")  # who it is: so nothing about whether they are a tenant
    assert "tell us about them" in reply
    assert "anyone else see" in chat.say("/skip")
    for text in ["no", "I'd rather not say", "yes"]:
        reply = chat.say(text)
    assert "Where is the graffiti" in reply
    for text in ["door of Block C", "no", "no"]:
        reply = chat.say(text)
    assert "police" in reply  # no name or contact questions when anonymous
    chat.say("no")
    summary = chat.say("/skip")
    assert "Here's what you've told me" in summary and "I'd rather not say" in summary
    final = chat.say("yes send it")
    assert "As you're anonymous" in final and "graffiti to be removed by" in final
    case, consents, orders = case_by_reference(stack, chat.slot("case_reference"))
    assert case.anonymous and case.address is None and case.contact_phone is None
    assert orders == ["graffiti_removal"] and case.graffiti_location == "door of Block C"
    assert "incident_type" in case.skipped and not consents["other_agencies"].answered


def test_change_an_answer_and_go_back(stack):
    chat = Chat(stack)
    chat.say("hi")
    chat.say('/choose{"value":"witness"}')
    assert "best describes it" in chat.say("I saw a man spit at my neighbour and call her names")
    reply = chat.say("go back")
    assert "In your own words, what happened" in reply
    chat.say("a man spat at my neighbour")
    assert "because of who they are" in chat.say("violence")
    reply = chat.say("I want to change an answer")
    assert "Which answer would you like to change" in reply
    reply = chat.say('/choose{"value":"reporter_role"}')
    assert "who is reporting" in reply
    reply = chat.say('/choose{"value":"on_behalf"}')
    assert "because of who they are" in reply  # carries on where it was
    assert chat.slot("reporter_role") == "on_behalf"
    assert chat.slot("description") == "a man spat at my neighbour"


def test_stop_discards_the_unsent_report(stack):
    chat = Chat(stack)
    chat.say("I want to report harassment")
    chat.say('/choose{"value":"victim"}')
    chat.say("they keep putting notes through my door")
    reply = chat.say("stop")
    assert "I've stopped, and your report was not sent" in reply
    assert chat.slot("description") is None and chat.slot("report_status") is None
    assert not [c for c in cases(stack) if c.conversation_id == chat.sender]


def test_what_is_this_in_the_middle_then_carry_on(stack):
    chat = Chat(stack)
    chat.say("hello")
    reply = chat.say("who will see what I tell you?")
    assert "confidential" in reply and "who is reporting" in reply


def test_a_restart_of_the_rasa_server_loses_nothing(stack):
    chat = Chat(stack)
    chat.say("hello")
    chat.say('/choose{"value":"victim"}')
    chat.say("my neighbour shouts at me and bangs on my walls")
    stack.stop("rasa")
    stack.start(only="rasa")
    reply = chat.say("abusive words")
    assert "because of who you are" in reply
    assert chat.slot("description") == "my neighbour shouts at me and bangs on my walls"


def test_nothing_people_wrote_is_in_the_logs(stack):
    secrets = ["racist abuse at me", "Oak Court", "900123", "+4477", "tall man", "notes through my door", "Block C", "Sam",
               "with a knife", "kicking my door", "bluebell", "900456", "he would kill me"]
    logs = stack.logs()
    assert "Rasa server is up and running" in logs
    for secret in secrets:
        assert secret not in logs, secret


def test_a_typed_payload_cannot_set_the_slots_outside_tools_read(stack):
    chat = Chat(stack)
    chat.say('/inform{"case_reference": "AAA-AAA-AAA", "immediate_risk": true, "language": "xx", "value": "victim"}')
    slots = chat.tracker()["slots"]
    assert slots["case_reference"] is None and slots["immediate_risk"] is False and slots["language"] == "en"


def test_odd_input_gets_an_answer_not_an_error(stack):
    chat = Chat(stack)
    chat.say("hello")
    for text in ["", "   ", "🙂🙂🙂", "x" * 5000, "\x00\x01 control", "<script>alert(1)</script>", "' OR 1=1 --"]:
        reply = chat.say(text)
        assert reply.strip(), repr(text[:20])
    assert "who is reporting" in chat.say("/skip") or chat.slot("reporter_role") is not None


def test_danger_sets_immediate_risk_in_the_same_turn_and_on_the_case(stack):
    chat = Chat(stack)
    chat.say("hello")
    reply = chat.say("he's outside my door with a knife")
    assert "call 999" in reply and "Are you somewhere safe" in reply
    assert "who is reporting" not in reply  # the questions wait until they are safe
    assert chat.slot("immediate_risk") is True
    case, _, _ = case_by_reference(stack, chat.slot("case_reference"))
    assert case.immediate_risk and case.status == "incomplete"


def test_danger_words_the_language_model_misses_still_get_999(stack):
    chat = Chat(stack)
    chat.say("hello")
    chat.say('/choose{"value":"victim"}')
    chat.say("they shout at me in the stairwell")
    reply = chat.say("someone is breaking my door down")  # at a choice question
    assert "call 999" in reply and chat.slot("immediate_risk") is True


def test_999_advice_mid_report_with_the_action_server_down(stack):
    chat = Chat(stack)
    chat.say("hello")
    chat.say('/choose{"value":"victim"}')
    stack.stop("actions")
    try:
        reply = chat.say("he's at my door with a knife")
        assert "call 999" in reply
        assert chat.slot("immediate_risk") is True
    finally:
        stack.start(only="actions")
    # With the action server back, the report carries on.
    assert "what happened" in chat.say("hello") or chat.slot("report_status") == "in_progress"

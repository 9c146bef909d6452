"""Danger, the safety check and referrals, through the real Rasa and action servers (REST),
on SQLite and on PostgreSQL with Redis locks, and found in the database."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bench.journeys import REPORT_JOURNEY
from bot.db import session_factory
from bot.models import Case, OutboxMessage, Referral, RiskAssessment
from tests.test_integration import Chat

pytestmark = pytest.mark.integration

KNIFE = "he's outside my door with a knife"


def choose(value: str) -> str:
    return '/choose{"value":"%s"}' % value


def case_of(stack, reference: str):
    with session_factory(stack.settings.database_url)() as s:
        case = s.execute(select(Case).where(Case.reference == reference)).scalar_one()
        referrals = {r.kind: r for r in s.execute(select(Referral).where(Referral.case_id == case.id)).scalars()}
        assessments = list(s.execute(select(RiskAssessment).where(RiskAssessment.case_id == case.id)).scalars())
        outbox = list(s.execute(select(OutboxMessage).where(OutboxMessage.case_id == case.id)).scalars())
        return case, referrals, assessments, outbox


def report(chat: Chat, police: str = "yes", agencies: str = "no") -> str:
    """A whole report (bench/journeys.py), with the consent answers given; returns the last reply."""
    journey = [*REPORT_JOURNEY[:-3], police, agencies, REPORT_JOURNEY[-1]]
    for text in journey:
        reply = chat.say(text)
    return reply


def test_danger_as_the_first_message(stack):
    chat = Chat(stack)
    reply = chat.say(KNIFE)
    assert reply.startswith("If you are in danger now, call 999")
    assert "press 55" in reply and "emergencySMS" in reply and "Are you somewhere safe right now?" in reply
    assert "on-call officer" in reply
    assert chat.slot("immediate_risk") is True
    reference = chat.slot("case_reference")
    case, referrals, _, outbox = case_of(stack, reference)
    assert case.status == "incomplete" and case.immediate_risk and case.description == KNIFE
    assert referrals["on_call_alert"].status == "open"
    assert [m.topic for m in outbox if m.topic == "on_call_alert"] == ["on_call_alert"]
    assert all("knife" not in m.body for m in outbox)

    assert "carry on talking" in chat.say("/affirm")
    reply = chat.say("/carry_on")
    assert "kept confidential" in reply and "who is reporting" in reply  # the privacy notice first


def test_not_safe_then_later(stack):
    chat = Chat(stack)
    chat.say("hello")
    chat.say(choose("victim"))
    assert "Are you somewhere safe" in chat.say("they are kicking my door in right now")
    reply = chat.say("/deny")
    assert "call 999 now" in reply and "close it" in reply
    assert "carry on talking" in chat.say("I'm safe now")
    assert "Come back to this chat when it's safe" in chat.say("later")
    assert chat.slot("reporter_role") == "victim"  # nothing lost
    # asked what happened, they said what is happening: that is their account
    assert chat.slot("description") == "they are kicking my door in right now"
    reply = chat.say("carry on")
    assert "Which of these best describes it" in reply  # back where they were


def test_danger_mid_report_flags_the_case_and_the_finished_report_completes_it(stack):
    chat = Chat(stack)
    chat.say(REPORT_JOURNEY[0])
    chat.say(choose("victim"))
    reply = chat.say("he's back at my door right now shouting he'll kill me")
    assert "call 999" in reply and chat.slot("immediate_risk") is True
    reference = chat.slot("case_reference")
    chat.say("/affirm")
    reply = chat.say("/carry_on")
    assert "Which of these best describes it" in reply  # the form picks up where it paused
    for text in REPORT_JOURNEY[2:]:
        final = chat.say(text)
    assert reference in final and chat.slot("case_reference") == reference
    case, referrals, _, _ = case_of(stack, reference)
    assert case.status == "new" and case.immediate_risk and case.address == "Flat 4, Oak Court"
    assert referrals["police"].basis == "consent"  # they agreed in the report
    assert len([c for c in _cases(stack) if c.conversation_id == chat.sender]) == 1


def _cases(stack):
    with session_factory(stack.settings.database_url)() as s:
        return list(s.execute(select(Case)).scalars())


STANDARD = [choose("yes"), choose("yes"), choose("any"), choose("yes"), "/skip",
            "I'm not afraid", "no", "no", "no", "no", "no", choose("neither"), choose("none"), choose("none"),
            choose("not_really"), "no", "yes", "no", "no"]
MEDIUM = [choose("yes"), choose("yes"), choose("evening"), choose("no"), "/skip",
          choose("injury"), "no", "no", "no", "no", "no", choose("neither"), choose("none"), choose("isolated"),
          choose("a_lot"), "yes", "yes", "no", "no"]
HIGH = [choose("yes"), choose("no"), "07700 900456", choose("evening"), choose("no"), "bluebell",
        choose("killed"), "yes", "yes", "no", "no", "yes", choose("worse"), choose("children"), choose("none"),
        choose("a_lot"), "yes", "no", "yes", "no"]


@pytest.mark.parametrize("answers, level", [(STANDARD, "standard"), (MEDIUM, "medium"), (HIGH, "high")])
def test_the_whole_safety_check_to_each_band(stack, answers, level):
    chat = Chat(stack)
    final = report(chat)
    assert "questions about your safety" in final and "safe for you to answer" in final
    for text in answers:
        reply = chat.say(text)
    assert "Thank you for answering" in reply
    assert chat.slot("risk_level") == level
    assert chat.slot("safety_status") == "done" and chat.slot("risk_injured") is None
    case, referrals, assessments, outbox = case_of(stack, chat.slot("case_reference"))
    assert case.risk_level == level and assessments[-1].scored_level == level and assessments[-1].reasons
    if level == "high":
        assert "high priority" in reply
        assert "Threat to kill, believed" in assessments[-1].escalators
        assert case.safe_to_contact is False and case.safe_contact_other == "+447700900456"
        assert case.code_word == "bluebell" and case.voicemail_ok is False
        assert {"police", "safeguarding", "management_transfer", "local_authority_housing"} <= set(referrals)
        assert "safeguarding referral" in reply and "somewhere safe to stay" in reply
        assert {m.topic for m in outbox} >= {"police", "safeguarding", "local_authority_housing"}
    if level == "standard":
        assert set(referrals) == {"police"} and referrals["police"].basis == "consent"


def test_no_consent_high_risk_discloses_under_duty_and_says_so(stack):
    chat = Chat(stack)
    final = report(chat, police="no", agencies="no")
    assert "tell the police" not in final
    for text in [choose("yes"), choose("yes"), choose("any"), choose("yes"), "/skip", choose("injury"), "no",
                 "yes, he said he would kill me and I believed him"]:
        reply = chat.say(text)
    for _ in range(20):
        if chat.slot("safety_status") == "done":
            break
        reply = chat.say("/skip")
    assert "we have a duty to let them know" in reply
    case, referrals, _, _ = case_of(stack, chat.slot("case_reference"))
    police = referrals["police"]
    assert (police.basis, police.reason) == ("duty_to_disclose", "protect_victim") and police.told_at


def test_no_consent_and_low_risk_the_police_are_not_told(stack):
    chat = Chat(stack)
    report(chat, police="no", agencies="no")
    for text in STANDARD:
        chat.say(text)
    case, referrals, _, _ = case_of(stack, chat.slot("case_reference"))
    assert "police" not in referrals and case.risk_level == "standard"


def test_danger_after_the_report_is_sent(stack):
    chat = Chat(stack)
    report(chat)
    reference = chat.slot("case_reference")
    reply = chat.say(KNIFE)
    assert "call 999" in reply and chat.slot("immediate_risk") is True
    assert chat.slot("case_reference") == reference
    case, referrals, _, _ = case_of(stack, reference)
    assert case.immediate_risk and "on_call_alert" in referrals
    chat.say("/affirm")
    assert "safe for you to answer" in chat.say("/carry_on")  # back to the safety check


def test_not_safe_to_talk_ends_the_check(stack):
    chat = Chat(stack)
    report(chat)
    reply = chat.say("no")
    assert "An officer will go through these questions with you" in reply
    assert chat.slot("safety_status") is None and chat.slot("risk_level") is None


def test_the_on_call_alert_is_sent_by_the_worker_with_no_report_text(stack):
    import time

    chat = Chat(stack)
    chat.say("they are setting fire to my door right now")
    reference = chat.slot("case_reference")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, _, _, outbox = case_of(stack, reference)
        alert = next(m for m in outbox if m.topic == "on_call_alert")
        if alert.status == "sent":
            break
        time.sleep(0.5)
    assert alert.status == "sent" and alert.attempts == 1 and alert.transport == "log"
    logs = stack.logs()
    assert reference in logs and "setting fire" not in logs


def test_nothing_said_in_these_conversations_is_in_the_logs(stack):
    logs = stack.logs()
    for secret in ["with a knife", "kicking my door", "bluebell", "900456", "he would kill me", "setting fire",
                   "shouting he'll kill me"]:
        assert secret not in logs, secret

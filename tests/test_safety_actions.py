"""The safety actions, called as the action server calls them, against a real case database."""
from __future__ import annotations

from sqlalchemy import select

from actions.report import ActionStopReport
from actions.safety import ActionCarryOn, ActionFlagDanger, ActionScoreSafetyCheck, ValidateSafetyForm
from bot.cases import submit_report
from bot.db import session_factory
from bot import settings as settings_module
from bot.models import Case, OutboxMessage
from tests.test_actions import run, tracker
from tests.test_cases import FULL

DANGER = "he's outside my door with a knife"


def _case(url, reference):
    with session_factory(url)() as s:
        return s.execute(select(Case).where(Case.reference == reference)).scalar_one()


def test_danger_in_the_first_message_starts_a_report_and_flags_its_case(case_db):
    messages, slots, _ = run(ActionFlagDanger(), tracker({}, DANGER, "danger"))
    assert [m["response"] for m in messages] == ["utter_danger_alerted"]
    assert slots["immediate_risk"] is True and slots["report_status"] == "in_progress"
    assert slots["description"] == DANGER  # their first words are their account
    case = _case(case_db, slots["case_reference"])
    assert case.status == "incomplete" and case.immediate_risk and case.report_id == slots["report_id"]
    with session_factory(case_db)() as s:
        alert = s.execute(select(OutboxMessage).where(OutboxMessage.topic == "on_call_alert")).scalar_one()
    assert case.reference in alert.body and "knife" not in alert.body


def test_danger_mid_form_pauses_the_form_and_keeps_the_answers(case_db):
    slots_in = {"report_id": "rid-9", "report_status": "in_progress", "reporter_role": "victim",
                "description": "they shout at me", "requested_slot": "incident_type"}
    _, slots, events = run(ActionFlagDanger(), tracker(slots_in, DANGER, "danger", active_loop="report_form"))
    assert {"event": "active_loop", "name": None} in [{"event": e["event"], "name": e.get("name")} for e in events]
    assert slots["requested_slot"] is None and "description" not in slots  # their account stays as it was
    case = _case(case_db, slots["case_reference"])
    assert case.report_id == "rid-9" and case.description == "they shout at me" and case.reporter_role == "victim"


def test_danger_after_the_report_is_sent_flags_that_case(case_db):
    settings = settings_module.load()
    sub = submit_report(session_factory(case_db), settings, report_id="rid-1", conversation_id="conv-1",
                        channel="rest", language="en", answers=FULL)
    _, slots, _ = run(ActionFlagDanger(), tracker({"case_reference": sub.reference, "report_status": "submitted"},
                                                   DANGER, "danger"))
    assert slots["case_reference"] == sub.reference and "report_id" not in slots
    assert _case(case_db, sub.reference).immediate_risk


def test_with_the_database_down_the_flag_fails_quietly_and_still_pauses(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://nobody@127.0.0.1:1/none")
    messages, slots, events = run(ActionFlagDanger(), tracker({"report_id": "r", "report_status": "in_progress"},
                                                               DANGER, "danger", active_loop="report_form"))
    assert messages == [] and slots["immediate_risk"] is True and "case_reference" not in slots
    assert any(e["event"] == "active_loop" for e in events)


def test_carry_on_goes_back_to_what_is_unfinished():
    messages, _, events = run(ActionCarryOn(), tracker({"report_status": "in_progress", "reporter_role": "victim"},
                                                        "/carry_on", "carry_on"))
    assert [m["response"] for m in messages] == ["utter_privacy"]  # not said yet in this conversation
    assert events[-1] == {"event": "followup", "name": "report_form", "timestamp": None}
    _, _, events = run(ActionCarryOn(), tracker({"report_status": "submitted", "safety_status": "in_progress"},
                                                 "carry on", "carry_on"))
    assert events[-1]["name"] == "safety_form"
    messages, _, events = run(ActionCarryOn(), tracker({}, "carry on", "carry_on"))
    assert [m["response"] for m in messages] == ["utter_nothing_to_carry_on"] and events == []


def _safety_tracker(slots, text, intent="inform", value=None):
    trk = tracker({"safety_context": {"has_contact": True}, **slots}, text, intent, value, active_loop="safety_form")
    trk.events[-1]["name"] = "safety_form"
    return trk


def test_the_safety_form_reads_replies_and_branches():
    _, slots, _ = run(ValidateSafetyForm(), _safety_tracker({"requested_slot": "safe_to_talk"}, "/choose", "choose", "yes"))
    assert slots == {"safe_to_talk": "yes", "requested_slot": "safe_contact"}
    _, slots, _ = run(ValidateSafetyForm(), _safety_tracker(
        {"safe_to_talk": "yes", "requested_slot": "safe_contact"}, "no my ex reads my texts", "deny"))
    assert slots == {"safe_contact": "no", "requested_slot": "safe_contact_other"}
    _, slots, _ = run(ValidateSafetyForm(), _safety_tracker(
        {"safe_to_talk": "yes", "safe_contact": "no", "requested_slot": "safe_contact_other"}, "07700 900456"))
    assert slots["safe_contact_other"] == {"phone": "+447700900456"} and slots["requested_slot"] == "safe_times"
    _, slots, _ = run(ValidateSafetyForm(), _safety_tracker({"requested_slot": "safe_to_talk"}, "no", "deny"))
    assert slots == {"safe_to_talk": "no", "requested_slot": None}  # nothing more is asked


def test_scoring_stores_the_check_and_says_the_level_and_referrals(case_db):
    settings = settings_module.load()
    answers = {**FULL, "consent_police": "no", "vulnerable": ["none"], "home_insecure": "no", "graffiti": "no"}
    sub = submit_report(session_factory(case_db), settings, report_id="rid-3", conversation_id="conv-1",
                        channel="rest", language="en", answers=answers)
    slots_in = {"case_reference": sub.reference, "safety_status": "in_progress", "safe_to_talk": "yes",
                "risk_weapon": "yes", "risk_knows_address": "yes", "safety_context": {"has_contact": True}}
    messages, slots, _ = run(ActionScoreSafetyCheck(), tracker(slots_in, "/choose", "choose"))
    said = [m["response"] for m in messages]
    assert said[0] == "utter_safety_result_high" and "utter_referral_police_duty" in said
    assert slots["risk_level"] == "high" and slots["safety_status"] == "done"
    assert slots["risk_weapon"] is None and slots["safety_context"] is None  # kept with the case, not here
    assert _case(case_db, sub.reference).risk_level == "high"


def test_not_safe_to_talk_ends_the_check_kindly():
    messages, slots, _ = run(ActionScoreSafetyCheck(), tracker({"safe_to_talk": "no", "safety_status": "in_progress"}, "no"))
    assert [m["response"] for m in messages] == ["utter_safety_not_now"] and slots["safety_status"] is None


def test_stop_during_the_safety_check_keeps_the_answers_given(case_db):
    settings = settings_module.load()
    sub = submit_report(session_factory(case_db), settings, report_id="rid-4", conversation_id="conv-1",
                        channel="rest", language="en", answers=FULL)
    slots_in = {"case_reference": sub.reference, "report_status": "submitted", "safety_status": "in_progress",
                "safe_to_talk": "yes", "code_word": "bluebell"}
    messages, slots, _ = run(ActionStopReport(), tracker(slots_in, "stop", "stop"))
    assert [m["response"] for m in messages] == ["utter_safety_stopped"]
    assert slots["safety_status"] is None and slots["code_word"] is None
    assert _case(case_db, sub.reference).code_word == "bluebell"


def test_stop_after_a_danger_flag_says_the_case_is_kept():
    messages, _, _ = run(ActionStopReport(), tracker({"report_status": "in_progress", "case_reference": "ABC-DEF-GHJ"},
                                                      "stop", "stop"))
    assert [m["response"] for m in messages] == ["utter_stopped_flagged"]


def test_stop_in_the_safety_check_tells_them_of_a_disclosure_it_raised(case_db):
    settings = settings_module.load()
    answers = {**FULL, "consent_police": "no", "consent_agencies": "no", "vulnerable": ["none"]}
    sub = submit_report(session_factory(case_db), settings, report_id="rid-5", conversation_id="conv-1",
                        channel="rest", language="en", answers=answers)
    slots_in = {"case_reference": sub.reference, "report_status": "submitted", "safety_status": "in_progress",
                "safe_to_talk": "yes", "risk_threat_to_kill": "yes"}
    messages, _, _ = run(ActionStopReport(), tracker(slots_in, "stop", "stop"))
    said = [m["response"] for m in messages]
    assert said[0] == "utter_safety_stopped" and "utter_referral_police_duty" in said


def test_a_new_report_starts_clean_after_one_was_sent():
    from actions.report import ActionStartReport

    _, slots, _ = run(ActionStartReport(), tracker({"report_status": "submitted", "case_reference": "OLD-REF-000",
                                                      "immediate_risk": True, "risk_level": "high"}, "hello", "greet"))
    assert slots["report_status"] == "in_progress" and slots["case_reference"] is None
    assert slots["immediate_risk"] is False and slots["risk_level"] is None


def test_carry_on_retries_a_flag_that_failed(case_db):
    messages, slots, _ = run(ActionCarryOn(), tracker({"immediate_risk": True, "report_status": "in_progress",
                                                        "report_id": "rid-6"}, "carry on", "carry_on"))
    assert slots["case_reference"] and "utter_danger_alerted" in [m["response"] for m in messages]
    assert _case(case_db, slots["case_reference"]).immediate_risk

"""The actions, called as the action server calls them, against a real case database."""
from __future__ import annotations

import asyncio

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.report import (
    ActionGoBack,
    ActionListAnswers,
    ActionResetAnswer,
    ActionShowSummary,
    ActionStartReport,
    ActionStopReport,
    ActionSubmitReport,
    ValidateReportForm,
)
from bot.db import session_factory
from bot.models import Case
from bot.settings import ROOT
from tests.test_cases import FULL

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())


def tracker(slots=None, text="", intent="inform", value=None, active_loop=None, fresh=True, channel="rest"):
    entities = [{"entity": "value", "value": value}] if value else []
    message = {"text": text, "intent": {"name": intent, "confidence": 0.97}, "entities": entities}
    events = [{"event": "user", "text": text, "parse_data": message, "input_channel": channel}]
    if not fresh:
        events.append({"event": "action", "name": "utter_about_service"})
    events.append({"event": "action", "name": "report_form"})
    return Tracker("conv-1", dict(slots or {}), message, events, False, None,
                   {"name": active_loop} if active_loop else {}, "report_form")


def run(action, trk):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, trk, DOMAIN))
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}, events


def test_start_report_gives_it_an_id_and_keeps_an_opening_account():
    text = "my neighbour keeps shouting racist abuse at me when I go out"
    _, slots, _ = run(ActionStartReport(), tracker(text=text, intent="report_harassment"))
    assert len(slots["report_id"]) == 32 and slots["report_status"] == "in_progress"
    assert slots["description"] == text


def test_start_report_resumes_a_report_in_progress():
    messages, slots, _ = run(ActionStartReport(), tracker(
        {"report_status": "in_progress", "report_id": "r1", "reporter_role": "victim"}, "hi", "greet"))
    assert messages[0]["response"] == "utter_resume_report"
    assert "report_id" not in slots


def test_validation_takes_the_answer_and_asks_the_next_question():
    trk = tracker({"requested_slot": "reporter_role"}, '/choose{"value":"witness"}', "choose", "witness", "report_form")
    _, slots, _ = run(ValidateReportForm(), trk)
    assert slots == {"reporter_role": "witness", "requested_slot": "description"}


def test_validation_steps_aside_for_a_command():
    trk = tracker({"requested_slot": "location"}, "stop", "stop", active_loop="report_form")
    _, _, events = run(ValidateReportForm(), trk)
    assert events == []


def test_validation_re_asks_kindly_when_unclear():
    trk = tracker({"requested_slot": "incident_when"}, "purple elephant", active_loop="report_form")
    messages, slots, _ = run(ValidateReportForm(), trk)
    assert messages[0]["response"] == "utter_unclear_date"
    assert slots == {"incident_when": None, "requested_slot": "incident_when"}


def test_validation_does_not_read_an_old_message_when_the_form_resumes():
    trk = tracker({"requested_slot": "location"}, "what is this", "ask_about_service", active_loop="report_form", fresh=False)
    _, slots, _ = run(ValidateReportForm(), trk)
    assert slots == {"requested_slot": "reporter_role"}


def test_summary_lists_the_answers():
    messages, _, _ = run(ActionShowSummary(), tracker(dict(FULL)))
    assert messages[0]["response"] == "utter_summary"
    summary = messages[0]["summary"]
    assert "Kind of incident: Racist behaviour or language, Abusive or insulting words" in summary
    assert "When: Friday 20 November 2026" in summary
    assert "Description of the person: I'd rather not say" in summary
    assert "07700 900123" in summary


def test_submit_creates_the_case_says_what_happens_next_and_clears_the_answers(case_db, monkeypatch):
    monkeypatch.setattr("actions.report.opens_later", lambda now, settings: None)  # in office hours
    slots_in = dict(FULL, report_id="rid-1", report_status="in_progress")
    messages, slots, events = run(ActionSubmitReport(), tracker(slots_in, "/affirm", "affirm"))
    reference = slots["case_reference"]
    assert [m["response"] for m in messages] == [
        "utter_submitted", "utter_next_first_contact", "utter_next_graffiti", "utter_next_emergency_repair",
        "utter_next_come_back",
        # consent to tell the police; an insecure home at the address (children affected, no consent
        # to share and no risk level yet: safeguarding is for the officer to judge)
        "utter_referral_police", "utter_referral_security_measures"]
    assert messages[0]["case_reference"] == reference
    assert " on " in next(m for m in messages if m["response"] == "utter_next_first_contact")["first_contact_due"]
    assert slots["report_status"] == "submitted" and slots["description"] is None
    # then the safety check, knowing there are contact details to ask about
    assert slots["safety_status"] == "in_progress" and slots["safety_context"] == {"has_contact": True}
    assert not any(e["event"] == "followup" for e in events)  # a rule begins the safety form
    with session_factory(case_db)() as s:
        case = s.execute(select(Case)).scalar_one()
    assert case.reference == reference and case.report_id == "rid-1" and case.conversation_id == "conv-1"
    assert case.channel == "rest"


def test_submit_when_the_database_is_down_is_an_error_the_rasa_server_answers(monkeypatch, tmp_path):
    """The action fails whole (nothing said, nothing cleared): the Rasa server tells the person their report
    waits and sends it later (bot/rasa_ext/submit_guard.py; tests/test_faults.py)."""
    from actions.report import CaseStoreUnavailable

    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://nobody@127.0.0.1:1/none")
    with pytest.raises(CaseStoreUnavailable):
        run(ActionSubmitReport(), tracker(dict(FULL, report_id="rid-2"), "/affirm", "affirm"))


def test_go_back_clears_the_previous_answer():
    trk = tracker({"reporter_role": "victim", "description": "x", "requested_slot": "incident_type"}, "back", "go_back",
                  active_loop="report_form")
    messages, slots, _ = run(ActionGoBack(), trk)
    assert slots == {"description": None, "requested_slot": None}
    assert messages[0]["response"] == "utter_gone_back"


def test_list_answers_offers_each_answer_as_a_button_and_reset_clears_the_one_chosen():
    messages, _, _ = run(ActionListAnswers(), tracker({"reporter_role": "victim", "location": "home"}))
    titles = [b["title"] for b in messages[0]["buttons"]]
    assert titles == ["Who is reporting", "Where", "Never mind"]
    _, slots, _ = run(ActionResetAnswer(), tracker({"location": "home"}, '/choose{"value":"location"}', "choose", "location"))
    assert slots == {"location": None, "requested_slot": None}
    messages, slots, _ = run(ActionResetAnswer(), tracker({}, '/choose{"value":"case_reference"}', "choose", "case_reference"))
    assert messages[0]["response"] == "utter_change_kept" and "case_reference" not in slots


def test_stop_forgets_an_unsent_report_but_not_a_sent_one():
    messages, slots, _ = run(ActionStopReport(), tracker({"report_status": "in_progress", "description": "x"}, "stop", "stop"))
    assert messages[0]["response"] == "utter_stopped"
    assert slots["description"] is None and slots["report_status"] is None
    _, slots, _ = run(ActionStopReport(), tracker({"report_status": "submitted", "case_reference": "K7Q-M4X-RT9"}, "/stop", "stop"))
    assert "report_status" not in slots and "case_reference" not in slots


def test_a_misread_stop_at_the_summary_keeps_the_report():
    answers = dict(FULL, report_status="in_progress", report_id="r")
    messages, slots, events = run(ActionStopReport(), tracker(answers, "leave it as it is", "stop"))
    assert messages[0]["response"] == "utter_not_stopped"
    assert slots == {} and events == [{"event": "followup", "timestamp": None, "name": "action_show_summary"}]


def test_a_second_yes_after_sending_makes_no_second_case(case_db):
    slots_in = {"report_status": "submitted", "case_reference": "K7Q-M4X-RT9"}
    messages, slots, _ = run(ActionSubmitReport(), tracker(slots_in, "yes", "affirm"))
    assert messages[0]["response"] == "utter_already_sent" and slots == {}
    with session_factory(case_db)() as s:
        assert s.execute(select(Case)).first() is None


def test_nothing_to_change_carries_on_with_the_report():
    messages, _, events = run(ActionListAnswers(), tracker({"report_status": "in_progress"}))
    assert messages[0]["response"] == "utter_nothing_to_change"
    assert events == [{"event": "followup", "timestamp": None, "name": "report_form"}]


def test_out_of_hours_the_submit_says_when_the_office_opens(case_db, monkeypatch):
    from datetime import datetime, timezone

    monday = datetime(2030, 1, 7, 9, 0, tzinfo=timezone.utc)  # long after the 24 hours
    monkeypatch.setattr("actions.report.opens_later", lambda now, settings: monday)
    messages, _, _ = run(ActionSubmitReport(), tracker(dict(FULL, report_id="rid-9"), "/affirm", "affirm"))
    said = [m["response"] for m in messages]
    assert said[1] == "utter_next_out_of_hours" and "utter_next_first_contact" not in said
    assert "7 January" in messages[1]["office_opens"]

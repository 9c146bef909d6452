"""Which questions are asked, in what order, and what "back" and "change" do."""
from datetime import date

from bot.report.flow import opening_account, take_reply
from bot.report.questions import REPORT
from bot.report.questions import SKIPPED, next_slot, previous_slot, required_slots
from bot.report.reading import Reply

TODAY = date(2026, 11, 21)


def test_anonymous_reports_ask_no_contact_details_or_address():
    slots = required_slots({"reporter_role": "anonymous"})
    assert not {"address", "contact_name", "contact"} & set(slots)
    assert {"address", "contact_name", "contact"} <= set(required_slots({"reporter_role": "victim"}))


def test_branches():
    assert "perpetrator_status" not in required_slots({"perpetrator_known": "unknown"})
    assert "perpetrator_status" in required_slots({"perpetrator_known": "known"})
    assert "graffiti" not in required_slots({"location": "online"})
    assert "graffiti_location" in required_slots({"graffiti": "yes"})
    assert "graffiti_location" not in required_slots({"graffiti": "no"})


def test_the_first_question_is_who_is_reporting_and_consent_comes_last():
    slots = required_slots({})
    assert slots[0] == "reporter_role"
    assert slots[-2:] == ["consent_police", "consent_agencies"]


def test_skipped_counts_as_answered():
    assert next_slot({"reporter_role": SKIPPED}) == "description"


def test_previous_slot_for_go_back():
    answers = {"reporter_role": "victim", "description": "x", "incident_type": ["racist"]}
    assert previous_slot(answers, "motivation") == "incident_type"
    assert previous_slot(answers, None) == "incident_type"
    assert previous_slot({}, "reporter_role") is None


def step(answers, requested, text, intent="inform", value=None):
    return take_reply(answers, requested, Reply(text, intent, 0.95, value), today=TODAY,
                      now_iso="2026-11-21T10:00:00+00:00", language="en")


def test_choosing_anonymous_explains_what_it_means_and_drops_contact_details_given_before():
    answers = {"reporter_role": "victim", "contact_name": "Sam", "contact": {"phone": "+447700900123"}}
    result = step(answers, "reporter_role", '/choose{"value":"anonymous"}', "choose", "anonymous")
    assert result.changes["reporter_role"] == "anonymous"
    assert "utter_anonymous_explained" in result.responses
    assert result.changes["contact_name"] is None and result.changes["contact"] is None


def test_consent_is_recorded_with_time_and_wording_version():
    result = step({}, "consent_police", '/choose{"value":"yes"}', "choose", "yes")
    record = result.changes["consent_log"]["consent_police"]
    assert record["answer"] == "yes"
    assert record["version"] == "police-v1"
    assert record["at"] == "2026-11-21T10:00:00+00:00"
    assert len(record["sha256"]) == 64


def test_an_unclear_reply_asks_the_same_question_again():
    result = step({"reporter_role": "victim"}, "location", "banana")
    assert result.responses == ["utter_unclear_choice"]
    assert result.next_slot == "location"


def test_a_command_leaves_everything_as_it_is():
    result = step({"reporter_role": "victim"}, "location", "stop", "stop")
    assert result.command and not result.changes


def test_resuming_without_a_reply_asks_the_next_question():
    result = take_reply({"reporter_role": "victim"}, "description", None, today=TODAY, now_iso="", language="en")
    assert result.next_slot == "description" and not result.changes


def test_moot_answers():
    assert REPORT.moot_answers({"graffiti": "no", "graffiti_location": "door"}) == ["graffiti_location"]


def test_an_opening_message_that_tells_what_happened_is_kept_as_the_account():
    text = "my neighbour keeps shouting racist abuse at me when I go out"
    assert opening_account(Reply(text, "report_harassment", 0.9)) == text
    assert opening_account(Reply("I want to report", "report_harassment", 0.9)) is None
    assert opening_account(Reply("I want to report racist abuse", "report_harassment", 0.9)) is None
    assert opening_account(Reply("Hi I would like to report harassment please", "report_harassment", 0.9)) is None
    assert opening_account(Reply("I want to report my neighbour who shouts racist abuse at me every day",
                                 "report_harassment", 0.9)) is not None
    assert opening_account(Reply("hello there how are you today", "greet", 0.9)) is None


def test_danger_in_an_answer_keeps_it_sends_999_and_flags_immediate_risk():
    result = step({"reporter_role": "victim"}, "description", "he's outside my door now with a knife, he smashed the window", "danger")
    assert result.responses[0] == "utter_danger_999"
    assert result.changes["immediate_risk"] is True
    assert result.changes["description"].startswith("he's outside")


def test_after_the_999_advice_a_danger_message_is_kept_or_the_question_asked_again_without_repeating_it():
    kept = take_reply({"reporter_role": "victim"}, "description",
                      Reply("he's outside my door now with a knife, he smashed the window", "danger", 0.95),
                      today=TODAY, now_iso="", language="en", already_warned=True)
    assert "utter_danger_999" not in kept.responses and kept.changes["description"].startswith("he's outside")
    again = take_reply({"reporter_role": "victim"}, "location", Reply("help he's here", "danger", 1.0),
                       today=TODAY, now_iso="", language="en", already_warned=True)
    assert not again.command and again.next_slot == "location" and not again.responses

"""How replies to the report's questions are read: buttons, own words, skips and commands."""
from datetime import date

import pytest

from bot.report.questions import BY_SLOT, SKIPPED
from bot.report.reading import Reply, read_reply

TODAY = date(2026, 11, 21)


def read(slot, text, intent=None, confidence=0.95, value=None):
    return read_reply(BY_SLOT[slot], Reply(text, intent, confidence, value), TODAY)


def test_a_button_payload_sets_its_value():
    out = read("reporter_role", '/choose{"value":"witness"}', "choose", 1.0, "witness")
    assert (out.kind, out.value) == ("answer", "witness")


def test_a_forged_payload_with_a_value_the_question_does_not_have_is_not_accepted():
    out = read("reporter_role", '/choose{"value":"admin"}', "choose", 1.0, "admin")
    assert out.kind == "unclear"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("he keeps calling me racist names", ["racist", "abuse"]),
        ("they sprayed graffiti on my door", ["graffiti"]),
        ("threatened to kill me", ["violence"]),
        ("nasty posts about me on facebook", ["online"]),
        ("Racist behaviour or language", ["racist"]),
    ],
)
def test_own_words_pick_the_kinds_of_incident(text, expected):
    out = read("incident_type", text, "inform")
    assert out.kind == "answer"
    assert out.value == expected


@pytest.mark.parametrize(
    "text, expected",
    [("because I'm black", ["race"]), ("I wear a hijab", ["religion"]), ("I'm gay", ["sexual_orientation"]),
     ("because of my wheelchair", ["disability"])],
)
def test_own_words_pick_why_they_were_targeted(text, expected):
    assert read("motivation", text, "inform").value == expected


def test_not_knowing_why_is_an_answer_and_no_proof_is_asked():
    assert read("motivation", "I don't know", "dont_know").value == ["none_known"]


@pytest.mark.parametrize("text", ["I'd rather not say", "skip", "prefer not to say", "Pass"])
def test_every_question_can_be_skipped(text):
    for slot in BY_SLOT:
        out = read(slot, text, "skip")
        assert out.kind == "skip", slot
        assert out.slot_value == SKIPPED


def test_skip_button():
    assert read("incident_when", "/skip", "skip", 1.0).kind == "skip"


def test_a_short_stop_is_a_command_but_a_story_mentioning_stop_is_an_answer():
    assert read("description", "stop", "stop", 0.99).kind == "command"
    long_text = "he won't stop banging on my door and shouting at my children every night"
    out = read("description", long_text, "stop", 0.9)
    assert (out.kind, out.value) == ("answer", long_text)


@pytest.mark.parametrize(
    "intent, text",
    [("go_back", "go back"), ("change_answer", "change my answer"), ("ask_about_service", "who sees this"),
     ("danger", "help he's here"), ("stop", "stop")],
)
def test_commands_interrupt_choice_questions(intent, text):
    assert read("location", text, intent, 0.9).kind == "command"


def test_an_unsure_classifier_does_not_turn_an_answer_into_a_command():
    assert read("location", "outside my flat", "stop", 0.3).value == "home"


@pytest.mark.parametrize(
    "text, expected",
    [("today", "2026-11-21"), ("yesterday", "2026-11-20"), ("last night", "2026-11-20"), ("3 days ago", "2026-11-18"),
     ("14 November", "2026-11-14"), ("14/11/2026", "2026-11-14"), ("ages ago", "longer")],
)
def test_when_accepts_dates_and_how_long_ago(text, expected):
    out = read("incident_when", text, "inform")
    assert (out.kind, out.value) == ("answer", expected)


def test_a_date_in_the_future_is_questioned_kindly():
    out = read("incident_when", "25 December 2026", "inform")
    assert (out.kind, out.problem) == ("unclear", "future_date")


def test_gibberish_for_a_date_is_unclear():
    assert read("incident_when", "purple elephant", "inform").problem == "date"


def test_yes_no_by_intent_and_by_word():
    assert read("graffiti", "yeah", "affirm").value == "yes"
    assert read("graffiti", "nope", "deny").value == "no"
    assert read("home_insecure", "the back door lock is broken", "inform").kind == "unclear"
    assert read("perpetrator_known", "yes", "affirm").value == "known"


def test_contact_accepts_uk_phone_numbers_and_email():
    assert read("contact", "07700 900123", "inform").value == {"phone": "+447700900123"}
    assert read("contact", "0113 496 0000", "inform").value == {"phone": "+441134960000"}
    assert read("contact", "Sam@Example.com", "inform").value == {"email": "sam@example.com"}
    assert read("contact", "12", "inform").problem == "contact"
    assert read("contact", "no", "deny").kind == "skip"


def test_free_text_keeps_the_words_and_no_means_nothing_to_add():
    assert read("address", "Flat 4, Oak Court", "inform").value == "Flat 4, Oak Court"
    assert read("perpetrator_description", "no", "deny").kind == "skip"
    assert read("description", "   ", "inform").kind == "unclear"


def test_a_bare_number_is_not_an_option_where_options_are_not_numbered():
    assert read("witnesses", "2", "inform").kind == "unclear"  # two people saw it, not "No"
    assert read("consent_police", "1", "inform").kind == "unclear"
    assert read("incident_when", "2", "inform").kind == "unclear"


@pytest.mark.parametrize(
    "slot, text, intent, expected",
    [
        ("consent_police", "not sure", "dont_know", "skip"),
        ("consent_police", "I'm not sure", "inform", "unclear"),
        ("consent_police", "of course not", "deny", "no"),
        ("consent_police", "of course not", "inform", "unclear"),
        ("consent_police", "I don't know", "dont_know", "skip"),
        ("consent_police", "yes of course", "affirm", "yes"),
        ("consent_police", "no", "deny", "no"),
        ("home_insecure", "not sure", "dont_know", "skip"),
        ("evidence", "no photos", "deny", ["none"]),
        ("evidence", "no video", "inform", "unclear"),
        ("vulnerable", "no kids live here", "deny", ["none"]),
        ("evidence", "nothing yet but I can take photos", "inform", "unclear"),
        ("incident_type", "it wasn't violent, just shouting", "inform", ["abuse"]),
        ("ongoing", "it hasn't stopped", "inform", "unclear"),
        ("frequency", "not just once", "inform", "unclear"),
        ("incident_when", "not sure", "dont_know", "skip"),
        ("incident_when", "I can't remember", "dont_know", "skip"),
    ],
)
def test_negation_and_doubt_are_never_read_as_the_opposite(slot, text, intent, expected):
    out = read(slot, text, intent, 0.95)
    got = out.kind if out.kind in ("skip", "unclear") else out.value
    assert got == expected


@pytest.mark.parametrize(
    "slot, text, intent",
    [
        ("description", "please make it stop", "stop"),
        ("description", "it has to end", "stop"),
        ("description", "they told me to stop", "stop"),
        ("address", "back of Oak Court", "go_back"),
        ("graffiti_location", "back gate", "go_back"),
        ("perpetrator_description", "I've seen him before", "go_back"),
        ("perpetrator_description", "No, but he is tall and has a beard", "deny"),
    ],
)
def test_short_free_text_answers_are_answers_not_commands(slot, text, intent):
    out = read(slot, text, intent, 0.99)
    assert (out.kind, out.value) == ("answer", text)


def test_a_refusal_is_a_skip_not_an_answer():
    assert read("contact_name", "don't want to give my name", "ask_about_service", 0.79).kind == "skip"
    assert read("address", "I don't want to give my address", "inform").kind == "skip"


def test_a_contact_with_a_no_in_it_is_still_read():
    assert read("contact", "no mobile, use 07700 900123", "deny").value == {"phone": "+447700900123"}


def test_danger_in_a_free_text_answer_keeps_the_answer_and_flags_it():
    out = read("description", "someone broke my window and he's still outside", "danger", 0.97)
    assert (out.kind, out.danger) == ("answer", True)
    assert out.value.startswith("someone broke my window")


def test_text_that_merely_starts_with_a_slash_is_not_a_button():
    assert read("description", "/ he won't stop", "stop", 0.99).kind == "answer"


def test_an_answer_that_matches_an_option_is_never_taken_for_stop():
    assert read("frequency", "more than once", "stop", 0.97).value == "repeated"


def test_stop_needs_a_stop_word_when_typed():
    assert read("ongoing", "banana", "stop", 0.97).kind == "unclear"
    assert read("ongoing", "cancel this", "stop", 0.97).kind == "command"
    assert read("ongoing", "/stop", "stop", 1.0).kind == "command"


def test_danger_always_interrupts():
    assert read("location", "he's outside my door with a knife", "danger", 0.9).kind == "command"


@pytest.mark.parametrize("intent", ["go_back", "change_answer"])
def test_back_and_change_need_their_words_when_typed(intent):
    assert read("location", "<script>alert(1)</script>", intent, 0.9).kind == "unclear"


def test_an_email_longer_than_the_standard_allows_is_questioned():
    assert read("contact", "a" * 250 + "@example.com", "inform").problem == "contact"

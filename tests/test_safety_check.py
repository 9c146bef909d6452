"""The safety check's questions and its score: bands, hard escalators, reasons, branches."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.questionnaire import SKIPPED
from bot.safety import check
from bot.safety.check import SAFETY, assess, facts, with_facts

REPORT = {"frequency": "once", "ongoing": "no", "motivation": ["none_known"], "incident_type": ["abuse"],
          "vulnerable": ["none"], "home_insecure": "no", "location": "estate"}


def scored(answers, report=REPORT, immediate_risk=False, has_contact=True):
    return assess(with_facts(answers, facts(report, has_contact=has_contact, immediate_risk=immediate_risk)))


def test_nothing_of_concern_is_standard_with_no_reasons():
    result = scored({"safe_to_talk": "yes", "risk_afraid_of": ["not_afraid"], "risk_injured": "no",
                     "risk_safe_tonight": "yes", "risk_health_effect": ["not_really"]})
    assert (result.level, result.score, result.reasons, result.escalators) == ("standard", 0, (), ())
    assert result.answered == 4


def test_the_bands_follow_the_total():
    matrix = check.load()
    assert [matrix.band(n) for n in (0, 8, 9, 17, 18, 40)] == ["standard", "standard", "medium", "medium", "high", "high"]


def test_repeated_hate_harassment_that_frightens_them_is_medium_with_its_reasons():
    report = {**REPORT, "frequency": "repeated", "ongoing": "yes", "motivation": ["race"]}
    result = scored({"risk_afraid_of": ["injury"], "risk_knows_address": "yes", "risk_health_effect": "a_lot"}, report)
    assert result.level == "medium" and result.score == 12
    reasons = dict(result.reasons)
    assert reasons["Targeted because of who they are (hate motivation)"] == 2
    assert reasons["It has happened more than once"] == 2
    assert reasons["Afraid of being hurt"] == 3
    assert not result.escalators


def test_a_high_total_is_high_without_any_escalator():
    report = {**REPORT, "frequency": "repeated", "ongoing": "yes", "motivation": ["religion"]}
    answers = {"risk_afraid_of": ["injury", "family"], "risk_injured": "yes", "risk_escalating": ["more_often"],
               "risk_knows_address": "yes", "risk_health_effect": "a_lot", "risk_vulnerability": ["isolated"]}
    result = scored(answers, report)
    assert result.score >= 18 and result.level == "high" and not result.escalators


@pytest.mark.parametrize(
    "answers, immediate, reason",
    [
        ({"risk_threat_to_kill": "yes"}, False, "Threat to kill, believed"),
        ({"risk_strangulation": "yes"}, False, "Strangulation, choking or smothering"),
        ({"risk_weapon": "yes"}, False, "A weapon used or threatened"),
        ({"risk_targets": ["children"]}, False, "A child at risk"),
        ({"risk_safe_tonight": "no"}, False, "Does not feel safe at home tonight"),
        ({}, True, "Said they were in danger now"),
        ({"risk_stalking": "yes", "risk_escalating": ["worse"]}, False, "Stalking that is getting worse"),
    ],
)
def test_each_hard_escalator_makes_it_high_whatever_the_total(answers, immediate, reason):
    result = scored(answers, immediate_risk=immediate)
    assert result.level == "high" and reason in result.escalators
    assert result.score < 18
    assert reason in result.explain()


def test_stalking_alone_is_not_an_escalator():
    assert not scored({"risk_stalking": "yes", "risk_escalating": ["neither"]}).escalators


def test_skipped_answers_count_for_nothing():
    result = scored({q: SKIPPED for q in check.RISK_SLOTS})
    assert result.score == 0 and result.answered == 0 and "judge on the call" in result.explain()


def test_not_safe_to_talk_asks_nothing_more():
    assert SAFETY.required_slots(with_facts({"safe_to_talk": "no"}, {"has_contact": True})) == ["safe_to_talk"]


def test_contact_questions_follow_what_is_safe():
    with_contact = SAFETY.required_slots(with_facts({"safe_to_talk": "yes"}, {"has_contact": True}))
    assert with_contact[:5] == ["safe_to_talk", "safe_contact", "safe_times", "voicemail_ok", "code_word"]
    unsafe = {"safe_to_talk": "yes", "safe_contact": "no"}
    assert SAFETY.required_slots(with_facts(unsafe, {"has_contact": True}))[2] == "safe_contact_other"
    # no safe way to reach them: no times, voicemail or code word to ask about
    none_safe = SAFETY.required_slots(with_facts({**unsafe, "safe_contact_other": SKIPPED}, {"has_contact": True}))
    assert "safe_times" not in none_safe and "voicemail_ok" not in none_safe
    other = SAFETY.required_slots(with_facts({**unsafe, "safe_contact_other": {"phone": "+447700900123"}}, {"has_contact": True}))
    assert "safe_times" in other
    anonymous = SAFETY.required_slots(with_facts({"safe_to_talk": "yes"}, {"has_contact": False}))
    assert anonymous[1] == "risk_afraid_of"


def test_the_matrix_file_is_checked_when_loaded(tmp_path: Path):
    data = yaml.safe_load(check.MATRIX_FILE.read_text())
    data["bands"] = [{"level": "high", "min": 10}, {"level": "standard", "min": 1}]
    bad = tmp_path / "matrix.yml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError):
        check.load(bad)


def test_every_rule_names_a_question_or_a_known_fact():
    matrix = check.load()
    from bot.report.questions import SLOTS as REPORT_SLOTS

    known = set(check.SLOTS) | set(REPORT_SLOTS) | {"hate_motivated", "immediate_risk", "has_contact", "can_contact"}
    for rule in (*matrix.scores, *matrix.escalators):
        assert rule.when.slots <= known, rule.reason
    for question in SAFETY.questions:
        for slot, values in getattr(question.ask_if, "wanted", ()):
            assert slot in known
    # every option a rule names exists on its question
    for rule in (*matrix.scores, *matrix.escalators):
        for slot, values in rule.when.wanted:
            question = SAFETY.by_slot.get(slot)
            if question is not None:
                assert values <= {o.value for o in question.options}, (slot, values)

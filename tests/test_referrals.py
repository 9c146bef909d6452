"""Referral rules (table-driven), and what the case service does with them on real databases."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.cases import flag_immediate_risk, override_risk, record_safety_check, submit_report
from bot.models import Case, CaseEvent, OutboxMessage, Referral
from bot.referrals import PREVENT_HARM_TO_OTHERS, PROTECT_VICTIM, Decision, Facts, decide

from tests.test_cases import FULL

NOW = datetime(2026, 11, 21, 22, 30, tzinfo=timezone.utc)


def facts(level=None, immediate=False, police=False, agencies=False, **answers):
    return Facts(immediate_risk=immediate, level=level, answers=answers, consent_police=police, consent_agencies=agencies)


@pytest.mark.parametrize(
    "given, expected",
    [
        # Police: with consent, always (Karbon 3.6.1)...
        (facts(level="standard", police=True), {"police": Decision("consent", "reported_with_consent")}),
        # ...without it, only under a duty to disclose, with the reason.
        (facts(level="standard"), {}),
        (facts(level="medium"), {}),
        (facts(level="high"), {"police": Decision("duty_to_disclose", PROTECT_VICTIM)}),
        (facts(level="medium", risk_targets=["children"]),
         {"police": Decision("duty_to_disclose", PREVENT_HARM_TO_OTHERS),
          "safeguarding": Decision("duty_to_disclose", PREVENT_HARM_TO_OTHERS)}),
    ],
)
def test_police_and_consent(given, expected):
    found = decide(given)
    assert {k: v for k, v in found.items() if k in ("police", "safeguarding")} == expected


def test_immediate_risk_alerts_on_call_and_discloses_to_protect_the_victim():
    found = decide(facts(immediate=True, location="home"))
    assert found["on_call_alert"] == Decision("policy", "immediate_risk")
    assert found["police"] == Decision("duty_to_disclose", PROTECT_VICTIM)
    assert found["local_authority_housing"] == Decision("duty_to_disclose", PROTECT_VICTIM)
    assert found["management_transfer"] == Decision("policy", "life_endangering")
    assert found["security_measures"].basis == "policy"


@pytest.mark.parametrize(
    "given, kind, expected",
    [
        (facts(level="high", location="home", agencies=True), "local_authority_housing", Decision("consent", "immediate_risk_at_home")),
        (facts(level="high", location="online"), "local_authority_housing", None),  # not at home
        (facts(level="medium", location="home"), "local_authority_housing", None),  # not immediate or high
        (facts(level="high", risk_safe_tonight="no"), "local_authority_housing", Decision("duty_to_disclose", PROTECT_VICTIM)),
        (facts(vulnerable=["children"], agencies=True), "safeguarding", Decision("consent", "child_at_risk")),
        (facts(vulnerable=["vulnerable_adult"], level="medium"), "safeguarding", Decision("duty_to_disclose", PROTECT_VICTIM)),
        (facts(vulnerable=["children"], level="high"), "safeguarding", Decision("duty_to_disclose", PREVENT_HARM_TO_OTHERS)),
        # below medium and without consent, the officer judges with the person
        (facts(vulnerable=["children"], level="standard"), "safeguarding", None),
        (facts(vulnerable=["none"]), "safeguarding", None),
        (facts(risk_injured="yes"), "management_transfer", Decision("policy", "physical_assault")),
        (facts(risk_weapon="yes"), "management_transfer", Decision("policy", "life_endangering")),
        (facts(risk_safe_tonight="no"), "management_transfer", Decision("policy", "cannot_stay_at_home")),
        (facts(incident_type=["abuse"]), "management_transfer", None),
        (facts(location="home", home_insecure="yes"), "security_measures", Decision("policy", "home_insecure")),
        (facts(level="medium", risk_knows_address="yes"), "security_measures", Decision("policy", "risk_medium_at_home")),
        (facts(location="home", risk_targets=["property"]), "security_measures", Decision("policy", "home_targeted")),
        (facts(level="standard", location="estate"), "security_measures", None),
        (facts(level="standard"), "on_call_alert", None),
    ],
)
def test_each_rule(given, kind, expected):
    assert decide(given).get(kind) == expected


def _case(session, reference):
    return session.execute(select(Case).where(Case.reference == reference)).scalar_one()


def test_a_danger_message_flags_an_unfinished_report_and_alerts_on_call_once(factory, settings):
    first = flag_immediate_risk(factory, settings, conversation_id="c1", channel="rest", language="en", report_id="r1",
                                answers={"reporter_role": "victim", "description": "he is outside my door with a knife"},
                                signs=("perpetrator_here", "weapon_here"), now=NOW)
    again = flag_immediate_risk(factory, settings, conversation_id="c1", channel="rest", language="en", report_id="r1",
                                answers={}, case_reference=first.reference, now=NOW + timedelta(minutes=1))
    later = flag_immediate_risk(factory, settings, conversation_id="c1", channel="rest", language="en", report_id="r1",
                                answers={}, case_reference=first.reference, now=NOW + timedelta(minutes=20))
    assert first.created and first.alerted and again.reference == first.reference
    assert not again.created and not again.alerted  # a second message a minute later: no second page
    assert later.alerted  # twenty minutes on, they are alerted again
    with factory() as s:
        case = _case(s, first.reference)
        assert case.status == "incomplete" and case.immediate_risk and case.immediate_risk_at == NOW
        assert case.description == "he is outside my door with a knife"
        kinds = {r.kind: r for r in case.referrals}
        assert kinds["on_call_alert"].due_at == NOW
        messages = s.execute(select(OutboxMessage).where(OutboxMessage.topic == "on_call_alert")).scalars().all()
        assert len(messages) == 2 and all(first.reference in m.body for m in messages)
        assert all("knife" not in m.body for m in s.execute(select(OutboxMessage)).scalars())
        signs = [e.details for e in case.events if e.action == "immediate_risk"]
        assert signs[0] == {"signs": ["perpetrator_here", "weapon_here"]}


def test_the_finished_report_completes_the_flagged_case(factory, settings):
    flagged = flag_immediate_risk(factory, settings, conversation_id="c1", channel="rest", language="en",
                                  report_id="r1", answers={"reporter_role": "victim"}, now=NOW)
    sub = submit_report(factory, settings, report_id="r1", conversation_id="c1", channel="rest", language="en",
                        answers=FULL, now=NOW + timedelta(minutes=10))
    assert sub.created and sub.reference == flagged.reference
    # consent to the police came with the report: the referral made under a duty now rests on consent
    assert "utter_referral_police" in sub.told and "utter_referral_police_duty" not in sub.told
    assert "utter_referral_safeguarding_duty" in sub.told  # children affected, no consent to agencies
    with factory() as s:
        case = _case(s, flagged.reference)
        assert case.status == "new" and case.immediate_risk and case.address == "Flat 4, Oak Court"
        assert case.first_contact_due_at == NOW + timedelta(hours=24)  # from the danger message: sooner
        police = next(r for r in case.referrals if r.kind == "police")
        assert (police.basis, police.reason) == ("consent", "reported_with_consent")
        assert {o.kind for o in case.work_orders} == {"graffiti_removal", "emergency_repair"}
        assert s.execute(select(Case)).scalars().all() == [case]
        topics = [m.topic for m in s.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars()]
        assert topics.count("on_call_alert") == 1 and "graffiti_removal" in topics and "emergency_repair" in topics
    again = submit_report(factory, settings, report_id="r1", conversation_id="c1", channel="rest", language="en",
                          answers=FULL, now=NOW + timedelta(minutes=11))
    assert not again.created and again.told == ()


def test_the_safety_check_is_scored_stored_and_raises_referrals(factory, settings):
    answers = {**FULL, "consent_police": "no", "vulnerable": ["none"], "home_insecure": "no", "graffiti": "no"}
    sub = submit_report(factory, settings, report_id="r2", conversation_id="c2", channel="rest", language="en",
                        answers=answers, now=NOW)
    assert sub.told == ()
    result = record_safety_check(
        factory, settings, case_reference=sub.reference, conversation_id="c2", now=NOW + timedelta(minutes=5),
        answers={"safe_to_talk": "yes", "safe_contact": "no", "safe_contact_other": {"email": "safe@example.org"},
                 "safe_times": ["evening"], "voicemail_ok": "no", "code_word": "bluebell",
                 "risk_threat_to_kill": "yes", "risk_afraid_of": ["killed"], "risk_knows_address": "yes"},
    )
    assert result.assessment.level == "high" and "Threat to kill, believed" in result.assessment.escalators
    assert set(result.told) == {"utter_referral_police_duty", "utter_referral_local_authority_housing_duty",
                                "utter_referral_management_transfer", "utter_referral_security_measures"}
    with factory() as s:
        case = _case(s, sub.reference)
        assert case.risk_level == "high"
        assessment = case.assessments[-1]
        assert assessment.scored_level == "high" and assessment.score == result.assessment.score
        assert {"reason": "Afraid of being killed", "points": 4} in assessment.reasons
        assert (case.safe_to_contact, case.safe_contact_other, case.safe_times, case.voicemail_ok, case.code_word) == (
            False, "safe@example.org", ["evening"], False, "bluebell")
        police = next(r for r in case.referrals if r.kind == "police")
        assert (police.basis, police.reason, police.due_at) == ("duty_to_disclose", PROTECT_VICTIM, NOW + timedelta(minutes=5))
        assert police.told_at is not None


def test_a_check_with_nothing_answered_sets_no_level(factory, settings):
    sub = submit_report(factory, settings, report_id="r3", conversation_id="c3", channel="rest", language="en",
                        answers={**FULL, "vulnerable": ["none"]}, now=NOW)
    result = record_safety_check(factory, settings, case_reference=sub.reference, conversation_id="c3",
                                 answers={"safe_to_talk": "yes", "risk_injured": "skipped"}, now=NOW)
    assert result.assessment is None
    with factory() as s:
        assert _case(s, sub.reference).risk_level is None


def test_a_case_is_found_only_from_its_own_conversation(factory, settings):
    sub = submit_report(factory, settings, report_id="r4", conversation_id="c4", channel="rest", language="en", answers=FULL, now=NOW)
    with pytest.raises(LookupError):
        record_safety_check(factory, settings, case_reference=sub.reference, conversation_id="someone-else",
                            answers={"risk_injured": "yes"}, now=NOW)


def test_an_officer_overrides_the_level_with_a_reason_and_the_scored_level_stays(factory, settings):
    sub = submit_report(factory, settings, report_id="r5", conversation_id="c5", channel="rest", language="en",
                        answers={**FULL, "consent_police": "no", "vulnerable": ["none"]}, now=NOW)
    record_safety_check(factory, settings, case_reference=sub.reference, conversation_id="c5",
                        answers={"risk_injured": "no"}, now=NOW)
    with pytest.raises(ValueError):
        override_risk(factory, settings, case_reference=sub.reference, level="high", reason=" ", officer="officer:ab")
    raised = override_risk(factory, settings, case_reference=sub.reference, level="high",
                           reason="Perpetrator released from custody today", officer="officer:ab", now=NOW)
    assert "police" in raised
    with factory() as s:
        case = _case(s, sub.reference)
        latest = case.assessments[-1]
        assert case.risk_level == "high" and latest.level == "high" and latest.scored_level != "high"
        assert latest.override_reason == "Perpetrator released from custody today" and latest.override_by == "officer:ab"
        event = [e for e in case.events if e.action == "risk_override"][0]
        assert event.actor == "officer:ab" and "custody" not in str(event.details)


def test_no_consent_and_no_duty_means_the_police_are_not_told_and_the_case_says_why(factory, settings):
    sub = submit_report(factory, settings, report_id="r6", conversation_id="c6", channel="rest", language="en",
                        answers={**FULL, "consent_police": "no", "vulnerable": ["none"], "home_insecure": "no"}, now=NOW)
    with factory() as s:
        case = _case(s, sub.reference)
        assert "police" not in {r.kind for r in case.referrals}
        assert s.execute(select(CaseEvent).where(CaseEvent.action == "police_not_told")).scalars().all()
        assert not s.execute(select(Referral).where(Referral.kind == "police")).first()


def test_the_danger_flag_pages_on_call_but_discloses_to_no_agency_yet(factory, settings):
    """The words that raise the alarm are tuned for recall: police, council and safeguarding wait for
    the report, the safety check or the officer, and are told to the person when they are raised."""
    flagged = flag_immediate_risk(factory, settings, conversation_id="c1", channel="rest", language="en",
                                  report_id="r1", answers={"reporter_role": "victim", "location": "home",
                                                           "home_insecure": "yes", "vulnerable": ["children"]}, now=NOW)
    with factory() as s:
        case = _case(s, flagged.reference)
        assert {r.kind for r in case.referrals} == {"on_call_alert", "management_transfer", "security_measures"}
        topics = {m.topic for m in s.execute(select(OutboxMessage)).scalars()}
        assert "emergency_repair" in topics  # the insecure home is made safe even if the report is never finished


def test_answers_given_after_the_flag_are_kept_with_the_case(factory, settings):
    from bot.cases import save_unfinished

    flagged = flag_immediate_risk(factory, settings, conversation_id="c1", channel="rest", language="en",
                                  report_id="r1", answers={"reporter_role": "victim", "description": "he is here"}, now=NOW)
    kept = save_unfinished(factory, settings, report_id="r1", conversation_id="c1", language="en",
                           answers={"reporter_role": "victim", "description": "he is here", "vulnerable": ["children"],
                                    "address": None}, now=NOW)
    assert kept == flagged.reference
    assert save_unfinished(factory, settings, report_id="r1", conversation_id="someone-else", language="en",
                           answers={"description": "x"}, now=NOW) is None
    with factory() as s:
        case = _case(s, flagged.reference)
        assert case.vulnerable == ["children"] and case.description == "he is here" and case.status == "incomplete"


def test_a_misconfigured_contact_never_stops_a_case(factory, settings):
    from dataclasses import replace

    broken = replace(settings, on_call_contact="+447700900999")  # no "sms:" in front
    flagged = flag_immediate_risk(factory, broken, conversation_id="c1", channel="rest", language="en",
                                  report_id="r1", answers={}, now=NOW)
    with factory() as s:
        alert = s.execute(select(OutboxMessage).where(OutboxMessage.topic == "on_call_alert")).scalar_one()
    assert flagged.alerted and alert.transport == "log" and alert.recipient == "misconfigured-on_call_alert"


def test_a_new_safety_check_does_not_undo_an_officers_higher_level(factory, settings):
    sub = submit_report(factory, settings, report_id="r7", conversation_id="c7", channel="rest", language="en",
                        answers={**FULL, "vulnerable": ["none"]}, now=NOW)
    record_safety_check(factory, settings, case_reference=sub.reference, conversation_id="c7",
                        answers={"risk_injured": "no"}, now=NOW)
    override_risk(factory, settings, case_reference=sub.reference, level="high", reason="known to police", officer="officer:x")
    record_safety_check(factory, settings, case_reference=sub.reference, conversation_id="c7",
                        answers={"risk_injured": "no"}, now=NOW)
    with factory() as s:
        assert _case(s, sub.reference).risk_level == "high"


def test_the_on_call_alert_goes_to_the_officer_on_call(factory, settings):
    from bot.models import Officer

    with factory() as s:
        s.add(Officer(code="OC1", name="Sam Jones", sex="female", languages=["en"], working_pattern={},
                      on_call=True, active=True, contact="sms:+447700900001"))
        s.commit()
    flag_immediate_risk(factory, settings, conversation_id="c1", channel="rest", language="en", report_id="r1",
                        answers={}, now=NOW)
    with factory() as s:
        alert = s.execute(select(OutboxMessage).where(OutboxMessage.topic == "on_call_alert")).scalar_one()
    assert (alert.transport, alert.recipient) == ("sms", "+447700900001")

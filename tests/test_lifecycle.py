"""Referral outcomes, policy actions, closure after telling the person (with a survey through
their safe contact method) and the appeal that reopens it, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.console import lifecycle
from bot.models import AuditEntry, Case, CaseNote, OutboxMessage, Referral
from tests.test_cases import FULL, submit

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)


def _made(factory, settings, answers=FULL, report_id="r1"):
    return submit(factory, settings, answers=answers, report_id=report_id).reference


def test_a_referral_outcome_and_an_action_are_recorded_with_the_audit(factory, settings):
    ref = _made(factory, settings)
    with factory() as s:
        referral = s.execute(select(Referral)).scalars().first()
    assert referral is not None
    lifecycle.record_referral_outcome(factory, reference=ref, referral_id=referral.id, outcome="accepted",
                                      officer="asha", now=NOW)
    lifecycle.record_action(factory, reference=ref, action="warning_letter", officer="asha",
                            note="Letter sent to flat 5", now=NOW)
    with pytest.raises(lifecycle.LifecycleError):
        lifecycle.record_referral_outcome(factory, reference=ref, referral_id=referral.id, outcome="maybe", officer="a")
    with pytest.raises(lifecycle.LifecycleError):
        lifecycle.record_action(factory, reference=ref, action="eviction_by_hand", officer="asha")
    with factory() as s:
        assert s.get(Referral, referral.id).status == "accepted"
        case = s.execute(select(Case).where(Case.reference == ref)).scalar_one()
        actions = [e.action for e in case.events]
        assert "referral_outcome" in actions and "action_taken" in actions
        assert s.execute(select(CaseNote.body)).scalar() == "Letter sent to flat 5"
        audited = [e.action for e in s.execute(select(AuditEntry).where(AuditEntry.case_reference == ref)).scalars()]
    assert audited == ["referral_outcome_recorded", "action_recorded"]


def test_closing_needs_the_person_told_and_sends_the_survey_to_their_safe_contact(factory, settings):
    ref = _made(factory, settings)
    with pytest.raises(lifecycle.LifecycleError, match="told"):
        lifecycle.close_case(factory, settings, reference=ref, reason="resolved", told_by="", officer="asha")
    closed = lifecycle.close_case(factory, settings, reference=ref, reason="resolved", told_by="phone",
                                  officer="asha", now=NOW)
    assert closed.survey == "sent" and closed.appeal_until == NOW + timedelta(days=28)
    with factory() as s:
        survey = s.execute(select(OutboxMessage).where(OutboxMessage.topic == "survey")).scalar_one()
        assert s.execute(select(Case.status).where(Case.reference == ref)).scalar() == "closed"
    assert (survey.transport, survey.recipient) == ("sms", "+447700900123") and ref in survey.body
    assert "racist" not in survey.body.lower()  # nothing of the report
    with pytest.raises(lifecycle.LifecycleError, match="closed already"):
        lifecycle.close_case(factory, settings, reference=ref, reason="resolved", told_by="phone", officer="asha")
    # An appeal within 28 days reopens it; after, it is refused.
    lifecycle.appeal(factory, reference=ref, officer="asha", now=NOW + timedelta(days=27))
    with factory() as s:
        assert s.execute(select(Case.status).where(Case.reference == ref)).scalar() == "reopened"
    lifecycle.close_case(factory, settings, reference=ref, reason="no_further_action", told_by="letter",
                         officer="asha", now=NOW + timedelta(days=30))
    with pytest.raises(lifecycle.LifecycleError, match="passed"):
        lifecycle.appeal(factory, reference=ref, officer="asha", now=NOW + timedelta(days=59))


def test_no_survey_to_an_anonymous_report_or_a_number_they_said_is_not_safe(factory, settings):
    anonymous = dict(FULL, reporter_role="anonymous", anonymous="yes", contact_name=None, contact=None)
    ref = _made(factory, settings, answers=anonymous, report_id="r-anon")
    assert lifecycle.close_case(factory, settings, reference=ref, reason="resolved", told_by="phone",
                                officer="asha").survey == "no_safe_contact"
    ref2 = _made(factory, settings, report_id="r-unsafe")
    with factory() as s:
        case = s.execute(select(Case).where(Case.reference == ref2)).scalar_one()
        case.safe_to_contact, case.safe_contact_other = False, "safer@example.org"
        s.commit()
    lifecycle.close_case(factory, settings, reference=ref2, reason="resolved", told_by="in_person", officer="asha")
    with factory() as s:
        survey = s.execute(select(OutboxMessage).where(OutboxMessage.topic == "survey")).scalar_one()
    assert (survey.transport, survey.recipient) == ("email", "safer@example.org")


def test_contact_and_the_action_plan_set_the_next_update_in_the_queue(factory, settings):
    from bot.console.queue import open_deadlines

    ref = _made(factory, settings)
    with factory() as s:
        case = s.execute(select(Case).where(Case.reference == ref)).scalar_one()
        due = case.first_contact_due_at
    assert lifecycle.record_contact(factory, reference=ref, method="phone", officer="asha", now=due - timedelta(hours=1))
    with pytest.raises(lifecycle.LifecycleError):
        lifecycle.agree_plan(factory, reference=ref, method="pigeon", frequency="weekly", officer="asha")
    with pytest.raises(lifecycle.LifecycleError):
        lifecycle.agree_plan(factory, reference=ref, method="phone", frequency="hourly", officer="asha")
    agreed = due
    lifecycle.agree_plan(factory, reference=ref, method="sms", frequency="fortnightly", officer="asha", now=agreed)
    later = agreed + timedelta(days=5)
    assert not lifecycle.record_contact(factory, reference=ref, method="sms", officer="asha", now=later)
    with factory() as s:
        case = s.execute(select(Case).where(Case.reference == ref)).scalar_one()
        assert (case.plan_method, case.plan_frequency, case.plan_agreed_by) == ("sms", "fortnightly", "asha")
        assert case.first_contact_at == due - timedelta(hours=1)  # the first contact is kept; later ones add
        assert lifecycle.next_update_due(case) == later + timedelta(days=14)
        kinds = {d.kind: d.due_at for d in open_deadlines(case)}
        assert kinds["update"] == later + timedelta(days=14) and "first_contact" not in kinds
        events = [e.action for e in case.events]
        assert events.count("first_contact") == 1 and "contact_made" in events and "action_plan_agreed" in events
        audited = [e.action for e in s.execute(select(AuditEntry).where(AuditEntry.case_reference == ref)).scalars()]
        assert audited == ["first_contact_recorded", "action_plan_recorded", "contact_recorded"]
    lifecycle.agree_plan(factory, reference=ref, method="phone", frequency="on_change", officer="asha", now=later)
    with factory() as s:
        case = s.execute(select(Case).where(Case.reference == ref)).scalar_one()
        assert lifecycle.next_update_due(case) is None  # "when something changes" sets no clock


@pytest.mark.parametrize("body, score", [("4", 4), (" 5. ", 5), ("١", 1), ("৩", 3), ("੨", 2), ("0", None), ("6", None),
                                         ("45", None), ("four", None), ("", None), (None, None)])
def test_a_survey_answer_is_one_digit_from_1_to_5_in_any_script(body, score):
    assert lifecycle.survey_score(body) == score


def test_a_survey_is_awaiting_only_until_answered_or_the_dialogue_speaks_again(factory, settings):
    from bot import outbox

    answers = {**FULL, "contact": {"phone": "+447700900555"}}
    ref = _made(factory, settings, answers=answers)
    lifecycle.close_case(factory, settings, reference=ref, reason="resolved", told_by="phone", officer="asha", now=NOW)
    with factory() as s:
        survey = lifecycle.survey_awaiting(s, "+447700900555", NOW + timedelta(days=1))
        assert survey is not None and survey.topic == "survey"
        assert lifecycle.survey_awaiting(s, "+447700900999", NOW + timedelta(days=1)) is None  # another number
        assert lifecycle.survey_awaiting(s, "+447700900555", NOW + timedelta(days=31)) is None  # too late
        lifecycle.record_survey_answer(s, survey.case_id, 5, NOW + timedelta(days=1))
        s.commit()
        assert lifecycle.survey_awaiting(s, "+447700900555", NOW + timedelta(days=2)) is None  # answered
    ref2 = _made(factory, settings, answers=answers, report_id="r2")
    lifecycle.close_case(factory, settings, reference=ref2, reason="resolved", told_by="phone", officer="asha",
                         now=NOW + timedelta(days=3))
    with factory() as s:
        assert lifecycle.survey_awaiting(s, "+447700900555", NOW + timedelta(days=4)) is not None
        outbox.enqueue(s, dedupe_key="reply:x:0", topic="reply", contact=outbox.Contact("sms", "+447700900555"),
                       body="What happened?", now=NOW + timedelta(days=3, hours=1))
        s.commit()
        assert lifecycle.survey_awaiting(s, "+447700900555", NOW + timedelta(days=4)) is None  # asked since

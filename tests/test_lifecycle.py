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

"""The case service on SQLite and on PostgreSQL: every answer, consent, clocks, orders, audit."""
from __future__ import annotations

import concurrent.futures
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select

from bot.cases import submit_report
from bot.models import Case, CaseEvent, Consent, WorkOrder
from bot import references

NOW = datetime(2026, 11, 21, 22, 30, tzinfo=timezone.utc)  # a Saturday night

FULL = {
    "reporter_role": "victim",
    "description": "My neighbour shouts racist abuse at me when I leave the flat.",
    "incident_type": ["racist", "abuse"],
    "motivation": ["race"],
    "incident_when": "2026-11-20",
    "frequency": "repeated",
    "ongoing": "yes",
    "location": "home",
    "address": "Flat 4, Oak Court",
    "perpetrator_known": "known",
    "perpetrator_status": "our_tenant",
    "perpetrator_description": "skipped",
    "witnesses": "no",
    "evidence": ["recordings"],
    "graffiti": "yes",
    "graffiti_location": "front door",
    "home_insecure": "yes",
    "vulnerable": ["children"],
    "contact_name": "Sam",
    "contact": {"phone": "+447700900123"},
    "consent_police": "yes",
    "consent_agencies": "no",
}
CONSENT_LOG = {
    "consent_police": {"answer": "yes", "at": "2026-11-21T22:29:00+00:00", "version": "police-v1", "sha256": "a" * 64, "language": "en"},
}


def submit(factory, settings, answers=FULL, report_id="r1", **kw):
    return submit_report(factory, settings, report_id=report_id, conversation_id="conv-1", channel="rest",
                         language="en", answers=answers, consent_log=CONSENT_LOG, now=NOW, **kw)


def test_a_report_becomes_a_case_with_every_answer(factory, settings):
    sub = submit(factory, settings)
    assert sub.created and references.PATTERN.match(sub.reference)
    with factory() as s:
        case = s.execute(select(Case).where(Case.reference == sub.reference)).scalar_one()
        assert case.description == FULL["description"]
        assert case.incident_type == ["racist", "abuse"]
        assert case.motivation == ["race"]
        assert case.incident_date == date(2026, 11, 20) and case.incident_period is None
        assert (case.frequency, case.ongoing, case.location) == ("repeated", "yes", "home")
        assert case.address == "Flat 4, Oak Court"
        assert (case.perpetrator_known, case.perpetrator_status) == ("known", "our_tenant")
        assert case.perpetrator_description is None and case.skipped == ["perpetrator_description"]
        assert case.evidence == ["recordings"] and case.vulnerable == ["children"]
        assert case.graffiti is True and case.home_insecure is True
        assert case.contact_name == "Sam" and case.contact_phone == "+447700900123"
        assert case.anonymous is False and case.channel == "rest" and case.language == "en"


def test_service_clocks_are_stored_with_the_case(factory, settings):
    sub = submit(factory, settings)
    with factory() as s:
        case = s.execute(select(Case).where(Case.reference == sub.reference)).scalar_one()
        assert case.submitted_at == NOW
        assert case.first_contact_due_at == NOW + timedelta(hours=24)
        assert case.review_due_at == datetime(2027, 2, 21, 22, 30, tzinfo=timezone.utc)
        orders = {o.kind: o for o in case.work_orders}
        assert orders["graffiti_removal"].due_at == NOW + timedelta(hours=24)
        assert orders["graffiti_removal"].location == "front door"
        assert orders["emergency_repair"].due_at == NOW + timedelta(hours=settings.emergency_repair_hours)
        assert orders["emergency_repair"].location == "Flat 4, Oak Court"
    assert sub.next_steps == ["first_contact", "graffiti", "emergency_repair", "come_back"]


def test_consent_is_recorded_with_its_time_and_wording(factory, settings):
    submit(factory, settings)
    with factory() as s:
        rows = {c.scope: c for c in s.execute(select(Consent)).scalars()}
    assert rows["police"].granted is True and rows["police"].answered is True
    assert rows["police"].wording_version == "police-v1"
    assert rows["police"].recorded_at == datetime(2026, 11, 21, 22, 29, tzinfo=timezone.utc)
    assert rows["other_agencies"].granted is False and rows["other_agencies"].wording_version == "agencies-v1"


def test_the_audit_trail_names_fields_but_holds_no_report_text(factory, settings):
    submit(factory, settings)
    with factory() as s:
        events = s.execute(select(CaseEvent).order_by(CaseEvent.id)).scalars().all()
    event = events[0]
    assert event.action == "created" and event.actor == "reporter:rest"
    assert "description" in event.details["answered"]
    assert all("abuse at me" not in str(e.details) for e in events)


def test_a_retried_submit_finds_the_same_case(factory, settings):
    first = submit(factory, settings)
    second = submit(factory, settings)
    assert second.reference == first.reference and not second.created
    with factory() as s:
        assert s.execute(select(func.count(Case.id))).scalar_one() == 1


def test_many_simultaneous_submits_of_one_report_make_one_case(factory, settings):
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        subs = list(pool.map(lambda _: submit(factory, settings, report_id="same"), range(16)))
    assert len({s.reference for s in subs}) == 1
    assert sum(s.created for s in subs) == 1
    with factory() as s:
        assert s.execute(select(func.count(Case.id))).scalar_one() == 1


def test_anonymous_report_keeps_no_contact_details_even_if_given(factory, settings):
    answers = dict(FULL, reporter_role="anonymous")
    sub = submit(factory, settings, answers=answers, report_id="anon")
    assert sub.anonymous and sub.next_steps[0] == "anonymous"
    with factory() as s:
        case = s.execute(select(Case).where(Case.reference == sub.reference)).scalar_one()
        assert case.anonymous and case.contact_name is None and case.contact_phone is None and case.address is None


def test_skipping_everything_still_makes_a_case(factory, settings):
    answers = {k: "skipped" for k in FULL}
    sub = submit(factory, settings, answers=answers, report_id="skips")
    assert sub.next_steps == ["no_contact", "come_back"]
    with factory() as s:
        case = s.execute(select(Case).where(Case.reference == sub.reference)).scalar_one()
        assert case.description is None and "description" in case.skipped
        assert not case.work_orders
        consents = s.execute(select(Consent)).scalars().all()
        assert all(not c.granted and not c.answered for c in consents)


def test_work_orders_only_when_needed(factory, settings):
    answers = dict(FULL, graffiti="no", home_insecure="no")
    submit(factory, settings, answers=answers, report_id="plain")
    with factory() as s:
        assert s.execute(select(func.count(WorkOrder.id))).scalar_one() == 0


def test_immediate_risk_is_stored_with_the_case(factory, settings):
    sub = submit(factory, settings, report_id="risk", immediate_risk=True)
    with factory() as s:
        assert s.execute(select(Case.immediate_risk).where(Case.reference == sub.reference)).scalar_one() is True


def test_an_over_long_conversation_id_still_makes_a_case(factory, settings):
    sub = submit_report(factory, settings, report_id="long", conversation_id="x" * 500, channel="rest",
                        language="en", answers=FULL, now=NOW)
    with factory() as s:
        stored = s.execute(select(Case.conversation_id).where(Case.reference == sub.reference)).scalar_one()
    assert stored.startswith("sha256:") and len(stored) <= 128


def test_an_insecure_home_without_an_address_is_not_promised_a_visit(factory, settings):
    answers = dict(FULL, reporter_role="anonymous")
    sub = submit(factory, settings, answers=answers, report_id="anon-insecure")
    assert "emergency_repair_needs_address" in sub.next_steps and "emergency_repair" not in sub.next_steps
    with factory() as s:
        order = s.execute(select(WorkOrder).where(WorkOrder.kind == "emergency_repair")).scalar_one()
    assert order.status == "needs_location" and order.location is None

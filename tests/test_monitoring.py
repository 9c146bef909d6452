"""The monitoring figures (bot/console/monitoring.py) on SQLite and PostgreSQL: every count, every
service standard met, missed and pending, months with no cases, the local-time boundary, the
satisfaction survey, the referrals, the CSV export (formula injection neutralised), figures that do
not change when a case is anonymised; and the page and the export over HTTP, for leaders only."""
from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import threading
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select

from bot import settings as settings_module
from bot.console import auth
from bot.console.monitoring import PeriodError, csv_text, default_period, figures, parse_period, safe_cell
from bot.db import engine_for, session_factory
from bot.models import AuditEntry, Case, CaseEvent, Referral, WorkOrder

UTC = timezone.utc
TZ = "Europe/London"
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


def _case(s, ref: str, submitted_at: datetime, **fields) -> Case:
    values = dict(reference=ref, report_id=f"r-{ref}", conversation_id=f"c-{ref}", channel="webchat", language="en",
                  status="new", submitted_at=submitted_at, first_contact_due_at=submitted_at + timedelta(hours=24),
                  review_due_at=submitted_at + timedelta(days=90), skipped=[])
    case = Case(**{**values, **fields})
    s.add(case)
    return case


def _figures(factory, start=date(2026, 1, 1), end=date(2026, 6, 30), now=NOW):
    with factory() as s:
        return figures(s, start=start, end=end, tz=TZ, now=now)


def _counts(found, key: str) -> dict[str, int]:
    return {c.value: c.count for c in found.dimension(key).counts}


def _outcomes(found, key: str) -> tuple[int, int, int]:
    s = found.standard(key)
    return s.met, s.missed, s.pending


def _seed_mixed(factory) -> None:
    with factory() as s:
        _case(s, "AAA", datetime(2026, 2, 10, 9, tzinfo=UTC), incident_type=["racist", "violence"], motivation=["race"],
              area="CF10", risk_level="high", immediate_risk=True, status="closed")
        _case(s, "BBB", datetime(2026, 2, 20, 9, tzinfo=UTC), incident_type=["racist"], motivation=None, area=None,
              channel="sms", language="cy")
        _case(s, "CCC", datetime(2026, 4, 5, 9, tzinfo=UTC), incident_type=[], motivation=["race", "religion"],
              area="CF10", channel="whatsapp", language="pl", risk_level="standard", status="reopened")
        _case(s, "OLD", datetime(2025, 12, 31, 23, 59, tzinfo=UTC), incident_type=["abuse"])  # 31 Dec in London
        _case(s, "LAT", datetime(2026, 6, 30, 23, 30, tzinfo=UTC), incident_type=["abuse"])  # 1 July in London
        s.commit()


def test_every_dimension_is_counted_over_the_period_only(factory):
    _seed_mixed(factory)
    found = _figures(factory)
    assert found.cases == 3
    incident = _counts(found, "incident_type")
    assert (incident["racist"], incident["violence"], incident["abuse"], incident["not said"]) == (2, 1, 0, 1)
    assert list(incident)[:2] == ["racist", "hate_other"]  # the question's own options, in its order
    assert found.dimension("incident_type").counts[0].label == "Racist behaviour or language"
    motivation = _counts(found, "motivation")
    assert (motivation["race"], motivation["religion"], motivation["age"], motivation["not said"]) == (2, 1, 0, 1)
    assert _counts(found, "area") == {"CF10": 2, "not given": 1}
    assert _counts(found, "channel") == {"webchat": 1, "sms": 1, "whatsapp": 1}
    assert _counts(found, "language") == {"cy": 1, "en": 1, "pl": 1}
    assert _counts(found, "risk_level") == {"high": 1, "medium": 0, "standard": 1, "not assessed": 1}
    assert _counts(found, "immediate_risk") == {"yes": 1, "no": 2}
    assert _counts(found, "status") == {"open": 2, "closed": 1}


def test_every_month_of_the_period_is_listed_even_with_no_cases(factory):
    _seed_mixed(factory)
    months = _counts(_figures(factory), "month")
    assert months == {"2026-01": 0, "2026-02": 2, "2026-03": 0, "2026-04": 1, "2026-05": 0, "2026-06": 0}
    assert _figures(factory).dimension("month").counts[1].label == "February 2026"
    assert _counts(_figures(factory, date(2025, 11, 15), date(2026, 1, 31)), "month") == {
        "2025-11": 0, "2025-12": 1, "2026-01": 0}


def test_a_case_counts_on_its_local_date_in_summer_time(factory):
    with factory() as s:
        _case(s, "APR", datetime(2026, 3, 31, 23, 30, tzinfo=UTC))  # 00:30 on 1 April, British Summer Time
        _case(s, "MAR", datetime(2026, 3, 31, 22, 59, tzinfo=UTC))  # 23:59 on 31 March
        _case(s, "JAN", datetime(2026, 1, 31, 23, 30, tzinfo=UTC))  # Greenwich Mean Time: still 31 January
        s.commit()
    april = _figures(factory, date(2026, 4, 1), date(2026, 4, 30))
    assert april.cases == 1 and _counts(april, "month") == {"2026-04": 1}
    march = _figures(factory, date(2026, 3, 1), date(2026, 3, 31))
    assert march.cases == 1 and _counts(march, "month") == {"2026-03": 1}
    assert _counts(_figures(factory, date(2026, 1, 1), date(2026, 3, 31)), "month") == {
        "2026-01": 1, "2026-02": 0, "2026-03": 1}
    assert _figures(factory, date(2026, 4, 1), date(2026, 4, 1)).cases == 1  # a one-day period


def test_first_contact_met_missed_and_pending(factory):
    day = datetime(2026, 6, 14, 12, tzinfo=UTC)
    due = day + timedelta(hours=24)  # 15 June 12:00, which is NOW
    with factory() as s:
        _case(s, "EARLY", day, first_contact_due_at=due, first_contact_at=due - timedelta(hours=3))
        _case(s, "ONTIME", day, first_contact_due_at=due, first_contact_at=due)
        _case(s, "LATE", day, first_contact_due_at=due, first_contact_at=due + timedelta(minutes=1))
        _case(s, "NEVER", day, first_contact_due_at=due - timedelta(minutes=1))
        _case(s, "WAITING", day, first_contact_due_at=due + timedelta(hours=1))
        _case(s, "ATNOW", day, first_contact_due_at=due)  # due at this very moment: not yet missed
        s.commit()
    found = _figures(factory)
    assert _outcomes(found, "first_contact") == (2, 2, 2)
    assert found.standard("first_contact").percent_met == 50


def test_graffiti_removal_and_emergency_repair_from_the_work_orders(factory):
    day = datetime(2026, 6, 14, 12, tzinfo=UTC)
    with factory() as s:
        case = _case(s, "WORK", day)
        other = _case(s, "MORE", day)
        for owner, kind, due, done, status in (
                (case, "graffiti_removal", NOW - timedelta(hours=2), NOW - timedelta(hours=3), "done"),  # met
                (other, "graffiti_removal", NOW - timedelta(hours=2), NOW - timedelta(hours=1), "done"),  # late
                (case, "emergency_repair", NOW - timedelta(hours=1), None, "open"),  # overdue
                (other, "emergency_repair", NOW + timedelta(hours=3), None, "open"),  # pending
                (case, "emergency_repair", NOW - timedelta(hours=9), NOW - timedelta(hours=9), "done"),  # met
                (other, "emergency_repair", NOW - timedelta(hours=9), None, "cancelled"),  # not counted
                (other, "gas_check", NOW - timedelta(hours=9), None, "open")):  # not a standard
            owner.work_orders.append(WorkOrder(kind=kind, due_at=due, completed_at=done, status=status, created_at=day))
        s.commit()
    found = _figures(factory)
    assert _outcomes(found, "graffiti_removal") == (1, 1, 0)
    assert _outcomes(found, "emergency_repair") == (1, 1, 1)
    assert found.standard("graffiti_removal").percent_met == 50


def test_review_at_three_months(factory):
    day = datetime(2026, 3, 1, 12, tzinfo=UTC)
    with factory() as s:
        _case(s, "OVERDUE", day, review_due_at=NOW - timedelta(days=1), status="new")
        _case(s, "COMING", day, review_due_at=NOW + timedelta(days=1), status="reopened")
        in_time = _case(s, "INTIME", day, review_due_at=NOW - timedelta(days=10), status="closed")
        in_time.events.append(CaseEvent(at=NOW - timedelta(days=20), actor="kim", action="closed", details={}))
        late = _case(s, "LATEONE", day, review_due_at=NOW - timedelta(days=10), status="closed")
        late.events.append(CaseEvent(at=NOW - timedelta(days=5), actor="kim", action="closed", details={}))
        _case(s, "NORECORD", day, review_due_at=NOW + timedelta(days=10), status="closed")
        again = _case(s, "AGAIN", day, review_due_at=NOW + timedelta(days=5), status="closed")  # appealed, closed again
        again.events.append(CaseEvent(at=NOW - timedelta(days=30), actor="kim", action="closed", details={}))
        again.events.append(CaseEvent(at=NOW - timedelta(days=1), actor="kim", action="closed", details={}))
        s.commit()
    found = _figures(factory)
    assert _outcomes(found, "review") == (2, 3, 1)
    assert [s.key for s in found.standards] == ["first_contact", "graffiti_removal", "emergency_repair", "review"]


def test_no_decided_standard_has_no_percentage(factory):
    found = _figures(factory)
    assert found.cases == 0 and _outcomes(found, "graffiti_removal") == (0, 0, 0)
    assert found.standard("graffiti_removal").percent_met is None
    assert found.satisfaction.average is None and found.satisfaction.answers == 0


def test_satisfaction_scores_average_and_surveys_sent(factory):
    day = datetime(2026, 5, 1, 12, tzinfo=UTC)
    with factory() as s:
        a, b = _case(s, "SURV1", day, status="closed"), _case(s, "SURV2", day, status="closed")
        outside = _case(s, "SURV3", datetime(2025, 5, 1, tzinfo=UTC), status="closed")
        for case, details in ((a, {"score": 5}), (a, {"score": 4}), (b, {"score": 4}), (b, {"score": 1}),
                              (b, {"score": 0}), (b, {"score": 6}), (b, {"score": "x"}), (b, {"score": True}),
                              (b, {}), (outside, {"score": 1})):
            case.events.append(CaseEvent(at=day, actor="system", action="survey_answer", details=details))
        for case, status in ((a, "sent"), (b, "sent"), (b, "no_safe_contact"), (outside, "sent")):
            case.events.append(CaseEvent(at=day, actor="system", action="survey", details={"status": status}))
        s.commit()
    sat = _figures(factory).satisfaction
    assert {c.value: c.count for c in sat.scores} == {"1": 1, "2": 0, "3": 0, "4": 2, "5": 1}
    assert (sat.answers, sat.average, sat.surveys_sent) == (4, 3.5, 2)


def test_referrals_by_kind_and_status(factory):
    day = datetime(2026, 5, 1, 12, tzinfo=UTC)
    with factory() as s:
        a, b = _case(s, "REF1", day), _case(s, "REF2", day)
        outside = _case(s, "REF3", datetime(2025, 5, 1, tzinfo=UTC))
        for case, kind, status in ((a, "police", "open"), (b, "police", "made"), (a, "safeguarding", "open"),
                                   (outside, "police", "open")):
            case.referrals.append(Referral(kind=kind, basis="consent", reason="consent_given", status=status,
                                           due_at=day, created_at=day, updated_at=day))
        s.commit()
    found = _figures(factory)
    assert _counts(found, "referral") == {"police": 2, "safeguarding": 1}
    assert found.dimension("referral").counts[0].label == "Police referral"
    assert _counts(found, "referral_status") == {"open": 2, "made": 1}


def test_anonymised_cases_give_the_same_figures_and_no_free_text_is_read(factory):
    _seed_mixed(factory)
    with factory() as s:
        closed = s.execute(select(Case).where(Case.reference == "AAA")).scalar_one()
        closed.events.append(CaseEvent(at=NOW, actor="kim", action="closed", details={}))
        s.commit()
    before = _figures(factory)
    statements: list[str] = []
    with factory() as s:
        engine = s.get_bind()

        def seen(conn, cursor, statement, *args):
            statements.append(statement.lower())

        event.listen(engine, "before_cursor_execute", seen)
        try:
            figures(s, start=date(2026, 1, 1), end=date(2026, 6, 30), tz=TZ, now=NOW)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        for case in s.execute(select(Case)).scalars():
            case.description = case.address = case.contact_name = case.contact_phone = case.contact_email = None
            case.perpetrator_description = case.graffiti_location = case.safe_contact_other = case.code_word = None
            case.anonymised_at = NOW
        s.commit()
    assert statements and not any(re.search(r"\b(description|address|contact_\w+|code_word|outcome|body)\b", sql)
                                  for sql in statements)
    assert _figures(factory) == before


def test_the_csv_reads_back_with_every_section(factory):
    _seed_mixed(factory)
    rows = list(csv.reader(io.StringIO(csv_text(_figures(factory)))))
    assert rows[0] == ["section", "value", "count"]
    assert all(len(row) == 3 for row in rows)
    got = {(section, value): count for section, value, count in rows[1:]}
    assert got[("period", "from")] == "2026-01-01" and got[("period", "to")] == "2026-06-30"
    assert got[("cases", "total")] == "3"
    assert got[("incident_type", "racist")] == "2" and got[("incident_type", "not said")] == "1"
    assert got[("motivation", "race")] == "2" and got[("area", "CF10")] == "2"
    assert got[("month", "2026-03")] == "0" and got[("month", "2026-02")] == "2"
    assert got[("channel", "sms")] == "1" and got[("language", "pl")] == "1"
    assert got[("risk_level", "not assessed")] == "1" and got[("immediate_risk", "yes")] == "1"
    assert got[("status", "closed")] == "1"
    assert {k: v for k, v in got.items() if k[0] == "first_contact"} == {
        ("first_contact", "met"): "0", ("first_contact", "missed"): "3", ("first_contact", "pending"): "0"}
    assert got[("review", "missed")] == "2" and got[("review", "pending")] == "1"
    assert got[("satisfaction", "5")] == "0" and got[("satisfaction", "average")] == ""
    assert got[("satisfaction", "surveys_sent")] == "0"
    assert csv_text(_figures(factory)).endswith("\r\n")


def test_the_csv_quotes_and_neutralises_formulas(factory):
    hostile = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2", "@SUM(A1)", "\tTAB", "\rCR", 'a,"b"\nc']
    with factory() as s:
        _case(s, "EVIL", datetime(2026, 3, 1, tzinfo=UTC), incident_type=hostile, area="=1+2", channel="@cmd",
              language="-1")
        s.commit()
    text = csv_text(_figures(factory))
    rows = list(csv.reader(io.StringIO(text)))
    cells = [cell for row in rows for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    values = {row[1] for row in rows if row[0] == "incident_type"}
    assert {"'" + h for h in hostile[:-1]} <= values and 'a,"b"\nc' in values  # quoted, and read back whole
    assert ["area", "'=1+2", "1"] in rows and ["channel", "'@cmd", "1"] in rows and ["language", "'-1", "1"] in rows
    assert safe_cell(-3) == "'-3" and safe_cell(3) == "3" and safe_cell(None) == ""


def test_the_period_from_the_query():
    today = date(2026, 6, 15)
    assert default_period(today) == (date(2025, 7, 1), today)
    assert default_period(date(2026, 12, 31)) == (date(2026, 1, 1), date(2026, 12, 31))
    assert parse_period(None, "", today) == default_period(today)
    assert parse_period("2024-02-29", "2024-03-01", today) == (date(2024, 2, 29), date(2024, 3, 1))
    for start, end, message in (("2026-13-01", None, "start date must be a real date"),
                                ("2026-1-1", None, "YYYY-MM-DD"), (None, "tomorrow", "end date"),
                                ("2023-02-29", None, "real date"), ("2026-05-02", "2026-05-01", "on or before"),
                                ("2001-01-01", "2026-01-01", "at most 5 years"),
                                ("9999-12-30", "9999-12-31", "from 1 January 2000"), ("0001-01-01", None, "2099")):
        with pytest.raises(PeriodError, match=message):
            parse_period(start, end, today)


# --- Over HTTP ------------------------------------------------------------------------------------

def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def _sign_in(client, username: str) -> None:
    r = await client.get("/console/login")
    r = await client.post("/console/login", allow_redirects=False,
                          data={"csrf": _csrf(await r.text()), "username": username, "password": PASSWORD})
    assert r.status == 303


def _seed_http(factory) -> None:
    auth.add_staff(factory, username="asha", name="Asha Patel", role="officer", password=PASSWORD)
    auth.add_staff(factory, username="kim", name="Kim Lee", role="team_leader", password=PASSWORD)
    now = datetime.now(UTC)
    with factory() as s:
        _case(s, "HTTP1", now - timedelta(days=3), incident_type=["racist"], motivation=["race"], area="CF10",
              description="<script>alert(1)</script> something private", contact_name="Private Person")
        s.commit()


def _client(settings):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.web.app import make_app

    return TestClient(TestServer(make_app(replace(settings, rasa_public_url="http://127.0.0.1:5005"))))


def test_an_officer_is_refused_both_the_page_and_the_export(factory, settings):
    _seed_http(factory)

    async def run():
        async with _client(settings) as client:
            await _sign_in(client, "asha")
            for path in ("/console/monitoring", "/console/monitoring.csv"):
                r = await client.get(path)
                assert r.status == 403 and "not for your role" in await r.text()
                assert "Content-Disposition" not in r.headers

    asyncio.run(run())
    with factory() as s:
        entries = [(e.actor, e.action) for e in s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
    assert entries.count(("asha", "access_refused")) == 2
    assert not any(action.startswith("monitoring_") for _, action in entries)


def test_a_team_leader_sees_the_page_and_downloads_the_csv_each_audited(factory, settings):
    _seed_http(factory)

    async def run():
        async with _client(settings) as client:
            assert (await client.get("/console/monitoring", allow_redirects=False)).status == 303  # not signed in
            await _sign_in(client, "kim")
            r = await client.get("/console/monitoring")
            html = await r.text()
            assert r.status == 200 and "default-src 'none'" in r.headers["Content-Security-Policy"]
            assert html.count("<svg") >= 10 and 'role="img"' in html and 'aria-labelledby="chart-incident_type"' in html
            assert html.count("<table") >= 12 and html.count("<caption>") == html.count("<table")
            assert not re.search(r"\sstyle\s*=", html, re.I) and "<style" not in html and "<script" not in html
            assert "something private" not in html and "Private Person" not in html
            assert "Racist behaviour or language" in html and "CF10" in html and "First contact within 24 hours" in html
            assert re.search(r'<label for="period-from">', html) and 'id="period-from"' in html
            assert "/console/monitoring.csv?from=" in html

            r = await client.get("/console/monitoring", params={"from": "2026-01-01", "to": "2026-03-31"})
            html = await r.text()
            assert r.status == 200 and 'value="2026-01-01"' in html and "March 2026" in html

            r = await client.get("/console/monitoring.csv", params={"from": "2026-01-01", "to": "2026-03-31"})
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
            assert r.headers["Content-Disposition"] == 'attachment; filename="monitoring-2026-01-01-2026-03-31.csv"'
            rows = list(csv.reader(io.StringIO(await r.text())))
            assert rows[0] == ["section", "value", "count"] and ["month", "2026-02", "0"] in rows

            r = await client.get("/console/monitoring.csv")
            assert r.status == 200 and ["cases", "total", "1"] in list(csv.reader(io.StringIO(await r.text())))

    asyncio.run(run())
    with factory() as s:
        entries = [(e.actor, e.action, e.details)
                   for e in s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
    shown = [d for actor, action, d in entries if actor == "kim" and action == "monitoring_viewed"]
    exported = [d for actor, action, d in entries if actor == "kim" and action == "monitoring_exported"]
    assert len(shown) == 2 and shown[1] == {"from": "2026-01-01", "to": "2026-03-31"}
    assert len(exported) == 2 and exported[0] == {"from": "2026-01-01", "to": "2026-03-31"}
    assert set(shown[0]) == {"from", "to"}


def test_a_bad_period_is_a_clear_400_never_a_500(factory, settings):
    _seed_http(factory)

    async def run():
        async with _client(settings) as client:
            await _sign_in(client, "kim")
            for path in ("/console/monitoring", "/console/monitoring.csv"):
                for params, message in (({"from": "2026-02-30"}, "The start date must be a real date"),
                                        ({"to": "<script>"}, "The end date must be a real date"),
                                        ({"from": "2026-05-02", "to": "2026-05-01"}, "on or before the end date"),
                                        ({"from": "9999-12-30", "to": "9999-12-31"}, "from 1 January 2000")):
                    r = await client.get(path, params=params)
                    html = await r.text()
                    assert r.status == 400 and message in html and 'role="alert"' in html, (path, params)
                    assert "<script>" not in html and "Content-Disposition" not in r.headers

    asyncio.run(run())
    with factory() as s:
        actions = [a for a in s.execute(select(AuditEntry.action)).scalars()]
    assert not any(a.startswith("monitoring_") for a in actions)


# --- In the browser: axe-core finds nothing on the page (WCAG 2.2 AA) -------------------------------

@contextmanager
def _serving(settings):
    """The real app on a loopback port, in a thread of its own (Playwright's sync API wants this one)."""
    from aiohttp import web

    from bot.processes import free_port
    from bot.web.app import make_app

    port, loop, ready = free_port(), asyncio.new_event_loop(), threading.Event()
    runner = web.AppRunner(make_app(replace(settings, rasa_public_url="http://127.0.0.1:5005")))

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


@pytest.mark.browser
def test_the_page_has_no_accessibility_violations(case_db):
    from tests.test_web import CHROMIUM, axe_source, axe_violations

    source = axe_source()
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    settings = replace(settings_module.load(), database_url=case_db)
    factory = session_factory(case_db)
    _seed_http(factory)
    with factory() as s:
        closed = _case(s, "HTTP2", datetime.now(UTC) - timedelta(days=40), status="closed", channel="sms",
                       incident_type=["graffiti", "abuse"], motivation=["sexual_orientation"])
        closed.events.append(CaseEvent(at=datetime.now(UTC), actor="kim", action="survey_answer", details={"score": 4}))
        closed.referrals.append(Referral(kind="police", basis="consent", reason="consent_given", status="open",
                                         due_at=datetime.now(UTC)))
        s.commit()
    with _serving(settings) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{base}/console/login")
            page.fill("#username", "kim")
            page.fill("#password", PASSWORD)
            page.locator("form button[type=submit]").click()
            page.wait_for_url(f"{base}/console/")
            page.goto(f"{base}/console/monitoring")
            assert page.locator("svg[role=img]").count() >= 10
            assert axe_violations(page, source) == []
            page.goto(f"{base}/console/monitoring?from=2026-02-30")
            assert axe_violations(page, source) == []
            page.set_viewport_size({"width": 360, "height": 740})  # a phone: the charts shrink to fit
            page.goto(f"{base}/console/monitoring")
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            assert axe_violations(page, source) == []
        finally:
            browser.close()
    engine_for(case_db).dispose()

"""The console's pages over HTTP (aiohttp's test server, the real app), on SQLite and PostgreSQL:
sign-in, CSRF, the queue, a hostile report shown harmless, first contact recorded, and each step
in the audit log."""
from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from bot.console import auth
from bot.models import AuditEntry, Case, CaseNote

PASSWORD = "correct horse battery"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)><a href="javascript:alert(2)">click</a>'


def _seed(factory):
    auth.add_staff(factory, username="asha", name="Asha Patel", role="officer", password=PASSWORD)
    now = datetime.now(timezone.utc)
    with factory() as s:
        for ref, risk, danger, due in (("AAA-AAA-AAA", "standard", False, 20), ("CCC-CCC-CCC", "high", False, 10),
                                       ("DDD-DDD-DDD", None, True, 23)):
            s.add(Case(reference=ref, report_id=f"r-{ref}", conversation_id=f"c-{ref}", channel="webchat", language="en",
                       status="new", submitted_at=now, risk_level=risk, immediate_risk=danger,
                       first_contact_due_at=now + timedelta(hours=due), review_due_at=now + timedelta(days=90),
                       description=HOSTILE, skipped=[]))
        s.commit()


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_sign_in_queue_case_first_contact_and_the_audit_log(factory, settings):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.web.app import make_app

    _seed(factory)
    app_settings = replace(settings, rasa_public_url="http://127.0.0.1:5005")

    async def run():
        async with TestClient(TestServer(make_app(app_settings))) as client:
            r = await client.get("/console/", allow_redirects=False)
            assert r.status == 303 and r.headers["Location"] == "/console/login"
            r = await client.get("/console/login")
            html = await r.text()
            assert "default-src 'none'" in r.headers["Content-Security-Policy"]  # no script can run at all
            login_csrf = _csrf(html)
            r = await client.post("/console/login", data={"csrf": "forged", "username": "asha", "password": PASSWORD})
            assert r.status == 403
            r = await client.get("/console/login")
            login_csrf = _csrf(await r.text())
            r = await client.post("/console/login", data={"csrf": login_csrf, "username": "asha", "password": "nope nope nope"})
            assert r.status == 401 and "did not work" in await r.text()
            r = await client.get("/console/login")
            r = await client.post("/console/login", allow_redirects=False,
                                  data={"csrf": _csrf(await r.text()), "username": "asha", "password": PASSWORD})
            assert r.status == 303
            cookie = r.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie

            r = await client.get("/console/")
            html = await r.text()
            assert r.status == 200
            assert re.findall(r"[A-Z]{3}-[A-Z]{3}-[A-Z]{3}(?=</a>)", html) == ["DDD-DDD-DDD", "CCC-CCC-CCC", "AAA-AAA-AAA"]

            r = await client.get("/console/cases/AAA-AAA-AAA")
            html = await r.text()
            assert r.status == 200 and "default-src 'none'" in r.headers["Content-Security-Policy"]
            assert "<script>alert" not in html and "<img src=x" not in html and 'href="javascript:' not in html
            assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
            csrf = _csrf(html)

            r = await client.post("/console/cases/AAA-AAA-AAA/contact", data={"how": "phone"})
            assert r.status == 403  # no CSRF token
            r = await client.post("/console/cases/AAA-AAA-AAA/contact", data={"how": "phone", "csrf": csrf})
            assert r.status == 200 and "First contact recorded." in await r.text()
            r = await client.post("/console/cases/AAA-AAA-AAA/notes", data={"body": HOSTILE, "csrf": csrf})
            assert "<script>alert" not in await r.text()
            assert (await client.get("/console/cases/NOT-A-REF")).status == 404

            r = await client.post("/console/logout", data={"csrf": csrf}, allow_redirects=False)
            assert r.status == 303
            r = await client.get("/console/", allow_redirects=False)
            assert r.status == 303  # signed out: the old cookie no longer works

    asyncio.run(run())
    with factory() as s:
        case = s.execute(select(Case).where(Case.reference == "AAA-AAA-AAA")).scalar_one()
        assert case.first_contact_at is not None
        assert [e.action for e in case.events] == ["first_contact"]
        assert s.execute(select(CaseNote.body)).scalar() == HOSTILE  # kept as written, shown escaped
        entries = [(e.actor, e.action, e.case_reference) for e in s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
    actions = [a for _, a, _ in entries]
    assert actions[:1] == ["staff_added"] and "sign_in_failed" in actions and "signed_in" in actions
    assert ("asha", "case_viewed", "AAA-AAA-AAA") in entries
    assert ("asha", "first_contact_recorded", "AAA-AAA-AAA") in entries
    assert ("asha", "note_added", "AAA-AAA-AAA") in entries and actions[-1] == "signed_out"


def test_the_command_line_adds_an_account_with_the_password_from_the_environment(case_db, monkeypatch, capsys):
    from bot.__main__ import main
    from bot.db import session_factory
    from bot.models import Staff

    monkeypatch.setenv("STAFF_PASSWORD", PASSWORD)
    assert main(["staff", "add", "Kim", "--name", "Kim Lee", "--role", "team_leader"]) == 0
    monkeypatch.setenv("STAFF_PASSWORD", "short")
    assert main(["staff", "add", "lee", "--name", "Lee", "--role", "officer"]) == 1
    assert "at least 12 characters" in capsys.readouterr().err
    with session_factory(case_db)() as s:
        assert [(x.username, x.role) for x in s.execute(select(Staff)).scalars()] == [("kim", "team_leader")]
    assert auth.sign_in(session_factory(case_db), "kim", PASSWORD) is not None


def test_demo_data_fills_an_empty_database_once_in_the_queues_order(factory, settings):
    from bot.console.demo import DEMO_CASES, DEMO_PASSWORD, ensure_demo
    from bot.console.queue import queue

    assert ensure_demo(factory, settings) == (True, True)
    assert ensure_demo(factory, settings) == (False, False)
    assert auth.sign_in(factory, "demo.officer", DEMO_PASSWORD) is not None
    with factory() as s:
        rows = queue(s)
    assert len(rows) == len(DEMO_CASES)
    assert rows[0].case.immediate_risk and rows[1].case.risk_level == "high"
    assert any("first_contact" in r.breached for r in rows)  # one is past its 24 hours


def test_the_conversation_is_opened_only_for_a_reason_and_each_opening_is_audited(sqlite_stack):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.db import session_factory
    from bot.web.app import make_app
    from tests.test_integration import Chat

    chat = Chat(sqlite_stack)
    chat.say("hello")
    chat.say("I want to report something")
    chat.say("<b>My neighbour</b> left a threatening note on my door")
    chat.say("he's outside my door with a knife")  # danger now: the case exists at once
    reference = chat.slot("case_reference")
    assert reference
    factory = session_factory(sqlite_stack.settings.database_url)
    username = "reader" + reference.replace("-", "").lower()
    auth.add_staff(factory, username=username, name="Reader", role="officer", password=PASSWORD)

    async def run():
        async with TestClient(TestServer(make_app(sqlite_stack.settings))) as client:
            r = await client.get("/console/login")
            await client.post("/console/login", data={"csrf": _csrf(await r.text()), "username": username,
                                                     "password": PASSWORD})
            html = await (await client.get(f"/console/cases/{reference}")).text()
            csrf = _csrf(html)
            r = await client.post(f"/console/cases/{reference}/transcript", data={"csrf": csrf})
            assert r.status == 400  # no reason given
            r = await client.post(f"/console/cases/{reference}/transcript", data={"csrf": csrf, "reason": "risk_review"})
            return r.status, await r.text()

    status, html = asyncio.run(run())
    assert status == 200
    assert "&lt;b&gt;My neighbour&lt;/b&gt; left a threatening note" in html and "<b>My neighbour" not in html
    assert "outside my door with a knife" in html and "call 999" in html
    with factory() as s:
        opened = [e for e in s.execute(select(AuditEntry).where(AuditEntry.case_reference == reference)).scalars()
                  if e.action == "transcript_viewed"]
    assert [(e.actor, e.details) for e in opened] == [(username, {"reason": "risk_review"})]


def test_an_officer_records_a_referral_outcome_and_closes_the_case_with_the_survey_sent(factory, settings):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.models import OutboxMessage, Referral
    from bot.web.app import make_app
    from tests.test_cases import submit

    auth.add_staff(factory, username="asha", name="Asha Patel", role="officer", password=PASSWORD)
    reference = submit(factory, settings, report_id="web-close").reference
    with factory() as s:
        referral_id = s.execute(select(Referral.id)).scalars().first()

    async def run():
        async with TestClient(TestServer(make_app(settings))) as client:
            r = await client.get("/console/login")
            await client.post("/console/login", data={"csrf": _csrf(await r.text()), "username": "asha",
                                                     "password": PASSWORD})
            csrf = _csrf(await (await client.get(f"/console/cases/{reference}")).text())
            steps = [("risk", {"level": "high", "reason": ""}, None),  # a reason is needed: refused
                     ("risk", {"level": "high", "reason": "Threats to the children since the check"},
                      "Risk level changed"),
                     ("referral", {"referral": str(referral_id), "outcome": "accepted"}, "Outcome recorded."),
                     ("action", {"action": "mediation", "note": ""}, "Action recorded."),
                     ("close", {"reason": "resolved", "told_by": ""}, None),  # not told: refused
                     ("close", {"reason": "resolved", "told_by": "phone"}, "Case closed"),
                     ("appeal", {}, "Case reopened on appeal.")]
            seen = []
            for path, data, expected in steps:
                r = await client.post(f"/console/cases/{reference}/{path}", data={**data, "csrf": csrf})
                text = await r.text()
                seen.append(r.status if expected is None else (r.status, expected in text))
            return seen

    assert asyncio.run(run()) == [400, (200, True), (200, True), (200, True), 400, (200, True), (200, True)]
    with factory() as s:
        assert s.get(Referral, referral_id).status == "accepted"
        assert s.execute(select(OutboxMessage.topic).where(OutboxMessage.topic == "survey")).scalar() == "survey"
        trail = [e.action for e in s.execute(select(AuditEntry).where(AuditEntry.case_reference == reference)
                                             .order_by(AuditEntry.id)).scalars()]
    assert [a for a in trail if a != "case_viewed"] == ["risk_overridden", "referral_outcome_recorded", "action_recorded",
                                                        "case_closed", "case_reopened_on_appeal"]


def test_the_review_list_shows_reviews_due_soon_or_overdue_soonest_first(factory, settings):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.web.app import make_app

    auth.add_staff(factory, username="asha", name="Asha Patel", role="officer", password=PASSWORD)
    now = datetime.now(timezone.utc)
    with factory() as s:
        for ref, days, status in (("LAT-ERR-EVW", 60, "new"), ("SOO-NRE-VEW", 5, "new"), ("OVE-RDU-EEE", -2, "new"),
                                  ("CLO-SED-AAA", -5, "closed")):
            s.add(Case(reference=ref, report_id=f"r-{ref}", conversation_id=f"c-{ref}", channel="sms", language="en",
                       status=status, submitted_at=now - timedelta(days=90), first_contact_due_at=now,
                       first_contact_at=now, review_due_at=now + timedelta(days=days), skipped=[]))
        s.commit()

    async def run():
        async with TestClient(TestServer(make_app(settings))) as client:
            r = await client.get("/console/login")
            await client.post("/console/login", data={"csrf": _csrf(await r.text()), "username": "asha",
                                                     "password": PASSWORD})
            return await (await client.get("/console/reviews")).text()

    html = asyncio.run(run())
    assert re.findall(r"[A-Z]{3}-[A-Z]{3}-[A-Z]{3}(?=</a>)", html) == ["OVE-RDU-EEE", "SOO-NRE-VEW"]
    assert html.count("overdue</span>") == 1
    with factory() as s:
        assert s.execute(select(AuditEntry.action).order_by(AuditEntry.id.desc())).scalars().first() == "reviews_viewed"


async def sign_in(client, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form (its CSRF cookie and token); the queue page's HTML."""
    r = await client.get("/console/login")
    r = await client.post("/console/login", data={"csrf": _csrf(await r.text()), "username": username,
                                                 "password": password})
    assert r.status == 200 and "/console/login" not in str(r.url), await r.text()
    return await r.text()


def test_roles_the_staff_page_and_the_audit_log(factory, settings):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.models import Staff
    from bot.web.app import make_app

    _seed(factory)
    auth.add_staff(factory, username="lee", name="Lee Admin", role="admin", password=PASSWORD)
    auth.add_staff(factory, username="tam", name="Tam Leader", role="team_leader", password=PASSWORD)

    async def run():
        async with TestClient(TestServer(make_app(settings))) as officer, \
                TestClient(TestServer(make_app(settings))) as admin, \
                TestClient(TestServer(make_app(settings))) as leader:
            html = await sign_in(officer, "asha")
            assert "/console/staff" not in html and "/console/monitoring" not in html  # not offered
            for path in ("/console/staff", "/console/audit", "/console/subject-access", "/console/monitoring"):
                r = await officer.get(path)
                assert r.status == 403 and "not for your role" in (await r.text()).lower()
            html = await sign_in(leader, "tam")
            assert "/console/audit" in html and "/console/staff" not in html
            assert (await leader.get("/console/staff")).status == 403
            html = await (await leader.get("/console/audit?actor=asha")).text()
            assert "access refused" in html and "Lee Admin" not in html

            html = await sign_in(admin, "lee")
            html = await (await admin.get("/console/staff")).text()
            csrf = _csrf(html)
            r = await admin.post("/console/staff", data={"csrf": csrf, "username": "Nia", "name": "Nia Jones",
                                                         "role": "officer", "password": "short"})
            assert r.status == 400 and "at least 12 characters" in await r.text()
            r = await admin.post("/console/staff", data={"csrf": csrf, "username": "Nia", "name": "Nia Jones",
                                                         "role": "officer", "password": "a long enough secret"})
            assert r.status == 200 and "Account added." in await r.text()
            r = await admin.post("/console/staff", data={"csrf": "forged", "username": "eve", "name": "Eve",
                                                         "role": "admin", "password": "a long enough secret"})
            assert r.status == 403
            with factory() as s:
                asha = s.execute(select(Staff).where(Staff.username == "asha")).scalar_one()
                lee = s.execute(select(Staff).where(Staff.username == "lee")).scalar_one()
                assert s.execute(select(Staff.role).where(Staff.username == "nia")).scalar_one() == "officer"
            r = await admin.post(f"/console/staff/{lee.id}/active", data={"csrf": csrf, "active": "no"})
            assert r.status == 400 and "your own account" in await r.text()
            r = await admin.post(f"/console/staff/{asha.id}/active", data={"csrf": csrf, "active": "no"})
            assert r.status == 200
            r = await officer.get("/console/", allow_redirects=False)
            assert r.status == 303  # deactivated: her session ended at once
            r = await admin.post(f"/console/staff/{asha.id}/active", data={"csrf": csrf, "active": "yes"})
            r = await admin.post(f"/console/staff/{asha.id}/role", data={"csrf": csrf, "role": "team_leader"})
            assert r.status == 200
            await sign_in(officer, "asha")
            assert (await officer.get("/console/audit")).status == 200  # the new role from her next sign-in
            html = await (await admin.get("/console/audit")).text()
            for step in ("staff added", "staff deactivated", "staff activated", "staff role changed", "access refused"):
                assert step in html, step
            assert "a long enough secret" not in html

    asyncio.run(run())
    with factory() as s:
        details = " ".join(str(e.details) for e in s.execute(select(AuditEntry)).scalars())
        assert "secret" not in details and "password" not in details.replace("staff_password_set", "")


def test_the_action_plan_and_contacts_through_the_case_page(factory, settings):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.web.app import make_app

    _seed(factory)

    async def run():
        async with TestClient(TestServer(make_app(settings))) as client:
            await sign_in(client, "asha")
            csrf = _csrf(await (await client.get("/console/cases/AAA-AAA-AAA")).text())
            r = await client.post("/console/cases/AAA-AAA-AAA/plan", data={"csrf": csrf, "method": "owl",
                                                                          "frequency": "weekly"})
            assert r.status == 400 and "Not recorded: Choose how you will keep in touch." in await r.text()
            r = await client.post("/console/cases/AAA-AAA-AAA/plan", data={"csrf": csrf, "method": "sms",
                                                                          "frequency": "weekly"})
            html = await r.text()
            assert "Action plan recorded." in html and "Text message, every week" in html
            assert "next update due" in html
            r = await client.post("/console/cases/AAA-AAA-AAA/contact", data={"csrf": csrf, "how": "phone"})
            assert "Record contact" in await r.text()  # after the first, later contacts are recorded too
            r = await client.post("/console/cases/AAA-AAA-AAA/contact", data={"csrf": csrf, "how": "sms"})
            assert r.status == 200

    asyncio.run(run())
    with factory() as s:
        case = s.execute(select(Case).where(Case.reference == "AAA-AAA-AAA")).scalar_one()
        assert [e.action for e in case.events] == ["action_plan_agreed", "first_contact", "contact_made"]

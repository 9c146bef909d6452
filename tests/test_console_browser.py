"""The officers' console (/console/) in a real browser: Debian's Chromium driven by Playwright
(headless) against the real web app served on a loopback port, on a real database.

- The journey of the issue's "done when", on SQLite and on PostgreSQL: the demo data loaded, an
  administrator adds a new officer on the Staff page; the officer signs in through the form, sees
  the demo cases in the queue's order, opens one, records first contact and a referral outcome and
  closes it (the survey queued to their safe contact); the audit log has each step, in order, in
  the database and on the audit page; the officer is refused the leaders' and administrators' pages.
- axe-core (WCAG 2.0, 2.1 and 2.2, A and AA) on every console page.
- In the browser: a hostile report stays text and runs nothing; the pages forbid script; after
  signing out, Back and reload show nothing of a case; the sign-in form works from the keyboard.

Screenshots go to tests/artifacts/ (not kept in git).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import Expect
from sqlalchemy import select, text
from sqlalchemy.orm import sessionmaker

from bot import migrate, settings as settings_module
from bot.console.demo import DEMO_PASSWORD, ensure_demo
from bot.console.lifecycle import survey_contact
from bot.console.queue import queue
from bot.db import engine_for, session_factory
from bot.models import AuditEntry, Case, OutboxMessage
from bot.settings import Settings
from tests.test_monitoring import _serving
from tests.test_privacy import EVENTS, add_events
from tests.test_web import axe_source, axe_violations, browser, shot  # noqa: F401 (browser: the module's Chromium)

pytestmark = pytest.mark.browser

NEW_OFFICER, NEW_NAME, NEW_PASSWORD = "sam.officer", "Sam New-Officer", "a long first password 42"
HOSTILE = "<img src=x onerror=window.__pwned=1><script>window.__pwned=1</script>"
expect = Expect()  # this module's own: it waits as long as its pages do (the machine may be busy)
expect.set_options(timeout=60_000)
STEPS = ["case_viewed", "first_contact_recorded", "referral_outcome_recorded", "case_closed"]


# ---------------------------------------------------------------------------------------------
# Pages, and signing in and out the way a person does (labels, buttons)
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def new_page(browser):
    """new_page(**context options): a page in a fresh browser context (no cookies, no cache)."""
    contexts = []

    def make(**options):
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        return page

    yield make
    for context in contexts:
        context.close()


def sign_in(page, base: str, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{base}/console/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/console/")


def sign_out(page, base: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/console/login")


def queue_references(page) -> list[str]:
    return page.get_by_test_id("case-row").locator("td:first-child a").all_inner_texts()


def demo_case(factory: sessionmaker, report_id: str) -> Case:
    with factory() as session:
        return session.execute(select(Case).where(Case.report_id == report_id)).scalar_one()


def steps_of(factory: sessionmaker, reference: str, actor: str) -> list[str]:
    with factory() as session:
        return list(session.execute(
            select(AuditEntry.action).where(AuditEntry.case_reference == reference, AuditEntry.actor == actor)
            .order_by(AuditEntry.id)).scalars())


def key_steps(actions: list[str]) -> list[str]:
    """The first view of the case, then what was done to it (the later views left out)."""
    return [a for i, a in enumerate(actions) if a != "case_viewed" or i == 0]


# ---------------------------------------------------------------------------------------------
# The journey, on SQLite and on PostgreSQL
# ---------------------------------------------------------------------------------------------

def test_a_new_officer_works_a_demo_case_from_the_queue_to_closed(new_page, settings, factory, database_url):
    kind = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    assert ensure_demo(factory, settings) == (True, True)
    with factory() as session:
        expected = [row.case.reference for row in queue(session)]
        danger = [row.case.reference for row in queue(session) if row.case.immediate_risk]
    chosen = demo_case(factory, "demo-3")  # high risk, a police referral, an email they gave to reach them
    assert chosen.reference in expected and survey_contact(chosen) is not None

    with _serving(settings) as base:
        # An administrator adds the new officer on the Staff page, then signs out.
        admin = new_page()
        sign_in(admin, base, "demo.admin")
        admin.get_by_role("link", name="Staff").click()
        admin.wait_for_url(f"{base}/console/staff")
        admin.get_by_label("Username").fill(NEW_OFFICER)
        admin.get_by_label("Full name").fill(NEW_NAME)
        admin.get_by_label("Role", exact=True).select_option("officer")
        admin.get_by_label("First password").fill(NEW_PASSWORD)
        admin.get_by_role("button", name="Add the account").click()
        admin.wait_for_url(f"{base}/console/staff?done=added")
        expect(admin.get_by_role("status")).to_have_text("Account added.")
        added = admin.get_by_test_id("accounts").get_by_role("row").filter(has_text=NEW_OFFICER)
        expect(added).to_contain_text(NEW_NAME)
        expect(added.locator("td").nth(2)).to_have_text("officer")
        expect(added.locator("td").nth(3)).to_have_text("active")
        sign_out(admin, base)

        # The new officer signs in through the form and sees the queue: danger first, then risk, then deadline.
        officer = new_page()
        sign_in(officer, base, NEW_OFFICER, NEW_PASSWORD)
        expect(officer.get_by_role("heading", level=1)).to_have_text("Cases")
        expect(officer.get_by_text(f"{NEW_NAME} (officer)")).to_be_visible()
        assert queue_references(officer) == expected and len(expected) == 4
        assert danger and expected[0] == danger[0]
        expect(officer.get_by_test_id("case-row").first).to_contain_text("Danger now")
        risks = officer.get_by_test_id("case-row").locator("td:nth-child(2)").all_inner_texts()
        assert risks == ["Danger now", "high", "standard", "not assessed"]
        # The staff and monitoring links are not offered to an officer.
        expect(officer.get_by_role("navigation").get_by_role("link", name="Staff")).to_have_count(0)
        expect(officer.get_by_role("navigation").get_by_role("link", name="Monitoring")).to_have_count(0)
        shot(officer, f"console-queue-{kind}")

        # Opens the case, records first contact and a referral outcome, closes it.
        officer.get_by_role("link", name=chosen.reference).click()
        officer.wait_for_url(f"{base}/console/cases/{chosen.reference}")
        expect(officer.get_by_role("heading", level=1)).to_have_text(f"Case {chosen.reference}")
        shot(officer, f"console-case-{kind}")

        officer.get_by_label("First contact made by").select_option("phone")
        officer.get_by_role("button", name="Record first contact").click()
        officer.wait_for_url(re.compile(r"\?done=first_contact$"))
        expect(officer.get_by_role("status")).to_have_text("First contact recorded.")
        expect(officer.get_by_role("button", name="Record first contact")).to_have_count(0)  # later ones are "contact"

        officer.get_by_label("Referral", exact=True).select_option(label="police (open)")
        officer.get_by_label("Outcome").select_option("accepted")
        officer.get_by_role("button", name="Record the outcome").click()
        officer.wait_for_url(re.compile(r"\?done=referral$"))
        expect(officer.get_by_role("status")).to_have_text("Outcome recorded.")
        expect(officer.get_by_text("police: accepted")).to_be_visible()

        officer.get_by_label("Close the case because").select_option("resolved")
        officer.get_by_label("The person was told, by").select_option("phone")
        officer.get_by_role("button", name="Close the case").click()
        officer.wait_for_url(re.compile(r"\?done=close$"))
        expect(officer.get_by_role("status")).to_have_text("Case closed; the survey goes to their safe contact.")
        expect(officer.get_by_test_id("facts").locator("dd").first).to_have_text("closed")

        # In the database: the survey queued for the case, and the audit log has each step, in order.
        with factory() as session:
            surveys = list(session.execute(select(OutboxMessage).where(
                OutboxMessage.case_id == chosen.id, OutboxMessage.topic == "survey")).scalars())
        assert [(m.transport, m.recipient) for m in surveys] == [("email", "demo.c@example.org")]
        actions = steps_of(factory, chosen.reference, NEW_OFFICER)
        assert key_steps(actions) == STEPS
        assert actions == ["case_viewed", "first_contact_recorded", "case_viewed", "referral_outcome_recorded",
                           "case_viewed", "case_closed", "case_viewed"]  # each step back on the case page

        # The officer is refused the administrators' and team leaders' pages.
        for path in ("/console/staff", "/console/monitoring", "/console/audit", "/console/subject-access"):
            response = officer.goto(f"{base}{path}")
            assert response.status == 403, path
            expect(officer.get_by_role("heading", level=1)).to_have_text("This page is not for your role")
        sign_out(officer, base)

        # A leader (here the administrator) sees each step in the audit log page for the case.
        sign_in(admin, base, "demo.admin")
        admin.goto(f"{base}/console/audit?case={chosen.reference}")
        expect(admin.get_by_role("heading", level=1)).to_have_text("Audit log")
        rows = admin.get_by_test_id("audit").locator("tbody tr")
        whats = rows.locator("td:nth-child(3)").all_inner_texts()
        whos = set(rows.locator("td:nth-child(2)").all_inner_texts())
        shown = [w.replace(" ", "_") for w in reversed(whats)]  # the page is newest first
        assert shown == actions and whos == {NEW_OFFICER}
        assert key_steps(shown) == STEPS
        expect(rows.filter(has_text="case closed")).to_contain_text("reason: resolved; survey: sent")


# ---------------------------------------------------------------------------------------------
# One console for the rest of the module, on SQLite: the demo data, a conversation kept for one
# case, a hostile report and a case whose review is overdue
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Console:
    base: str
    settings: Settings
    factory: sessionmaker
    case: str  # a demo case with a conversation kept
    hostile: str  # a case whose description is HOSTILE


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{tmp / 'cases.db'}"
    migrate.upgrade(url)
    settings = replace(settings_module.load(), database_url=url, tracker_database_url=f"sqlite:///{tmp / 'tracker.db'}")
    with engine_for(settings.tracker_database_url).begin() as conn:
        conn.execute(text(EVENTS))
    factory = session_factory(url)
    ensure_demo(factory, settings)
    case = demo_case(factory, "demo-2")
    now = datetime.now(timezone.utc)
    add_events(settings, case.conversation_id, [("user", now - timedelta(hours=30), "Someone sprayed my door."),
                                                ("bot", now - timedelta(hours=30), "I'm sorry. What did it say?")])
    with factory() as session:
        session.add(Case(reference="HOS-TIL-E00", report_id="hostile", conversation_id="hostile", channel="webchat",
                         language="en", status="new", submitted_at=now - timedelta(days=85), risk_level="medium",
                         first_contact_due_at=now - timedelta(days=84), review_due_at=now + timedelta(days=5),
                         description=HOSTILE, contact_name=HOSTILE, skipped=[]))
        session.commit()
    with _serving(settings) as base:
        yield Console(base, settings, factory, case.reference, "HOS-TIL-E00")
    engine_for(url).dispose()
    engine_for(settings.tracker_database_url).dispose()


@pytest.fixture(scope="module")
def admin_state(browser, console) -> dict:
    """An administrator's signed-in browser state (administrators may open every page)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        sign_in(page, console.base, "demo.admin")
        return context.storage_state()
    finally:
        context.close()


# ---------------------------------------------------------------------------------------------
# Accessibility: axe-core on every page
# ---------------------------------------------------------------------------------------------

def _open_transcript(page, console: Console) -> None:
    page.goto(f"{console.base}/console/cases/{console.case}")
    page.get_by_label("Why are you opening it?").select_option("risk_review")
    page.get_by_role("button", name="Open the conversation").click()
    expect(page.get_by_test_id("transcript").locator("li")).to_have_count(2)


def _search_subject_access(page, console: Console) -> None:
    page.goto(f"{console.base}/console/subject-access")
    page.get_by_label("Case reference").fill(console.case)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("sar-case")).to_have_count(1)


PAGES = {
    "queue": "/console/",
    "case": "/console/cases/{case}",
    "hostile case": "/console/cases/{hostile}",
    "transcript": _open_transcript,
    "reviews": "/console/reviews",
    "staff": "/console/staff",
    "audit": "/console/audit",
    "audit of a case": "/console/audit?case={case}",
    "monitoring": "/console/monitoring",
    "subject access": "/console/subject-access",
    "subject access found": _search_subject_access,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_no_accessibility_violations(new_page, console, admin_state, name):
    source = axe_source()
    page = new_page(storage_state=admin_state)
    how = PAGES[name]
    if callable(how):
        how(page, console)
    else:
        response = page.goto(console.base + how.format(case=console.case, hostile=console.hostile))
        assert response.status == 200
    assert page.url.startswith(console.base) and "/login" not in page.url
    assert axe_violations(page, source) == []


def test_no_accessibility_violations_signing_in(new_page, console):
    source = axe_source()
    page = new_page()
    page.goto(f"{console.base}/console/login")
    assert axe_violations(page, source) == []
    page.get_by_label("Username").fill("demo.officer")
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("did not work")
    assert axe_violations(page, source) == []  # with the error shown


def test_no_accessibility_violations_when_refused(new_page, console):
    page = new_page()
    sign_in(page, console.base, "demo.officer")
    assert page.goto(f"{console.base}/console/monitoring").status == 403
    assert axe_violations(page, axe_source()) == []


# ---------------------------------------------------------------------------------------------
# Security in the browser
# ---------------------------------------------------------------------------------------------

def test_a_hostile_report_is_shown_as_text_and_runs_nothing(new_page, console):
    page = new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, console.base, "demo.officer")
    page.get_by_role("link", name=console.hostile).click()
    page.wait_for_url(f"{console.base}/console/cases/{console.hostile}")
    expect(page.get_by_test_id("description")).to_have_text(HOSTILE)  # as text, every character of it
    expect(page.get_by_text(HOSTILE).last).to_be_visible()  # the contact name too
    assert page.locator("main img, main script").count() == 0
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    page.reload()
    assert page.evaluate("() => typeof window.__pwned") == "undefined" and errors == []


@pytest.mark.parametrize("path", ["/console/login", "/console/", "/console/cases/{case}"])
def test_every_page_forbids_script_and_is_never_stored(new_page, console, path):
    page = new_page()
    if path != "/console/login":
        sign_in(page, console.base, "demo.officer")
    response = page.goto(console.base + path.format(case=console.case))
    assert response.status == 200 and response.url == console.base + path.format(case=console.case)
    headers = response.headers
    policy = {d.split()[0]: d.split()[1:] for d in headers["content-security-policy"].split(";") if d.strip()}
    assert policy["default-src"] == ["'none'"] and policy.get("script-src", ["'none'"]) == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'"]
    assert headers["cache-control"] == "no-store"
    assert page.locator("script").count() == 0
    # Chromium enforces it: a script put into the page is refused, and says so.
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text) as refused:
        page.evaluate("""() => { const s = document.createElement('script');
                                 s.textContent = 'window.__pwned = 1'; document.body.append(s); }""")
    assert "script" in refused.value.text
    assert page.evaluate("() => typeof window.__pwned") == "undefined"


def test_after_signing_out_back_and_reload_show_nothing_of_the_case(new_page, console):
    page = new_page()
    sign_in(page, console.base, "demo.officer")
    case_url = f"{console.base}/console/cases/{console.case}"
    page.goto(case_url)
    expect(page.get_by_test_id("description")).to_contain_text("racist slogan")
    sign_out(page, console.base)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

    page.go_back()
    page.wait_for_url(f"{console.base}/console/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert "racist slogan" not in page.content() and console.case not in page.content()

    page.goto(case_url)
    page.wait_for_url(f"{console.base}/console/login")
    page.reload()
    page.wait_for_url(f"{console.base}/console/login")
    assert "racist slogan" not in page.content()
    assert not [c for c in page.context.cookies() if c["name"] == "hcbot_console"]


def test_a_keyboard_only_user_signs_in_with_tab_and_enter(new_page, console):
    page = new_page()
    page.goto(f"{console.base}/console/login")
    focused = []
    for _ in range(10):  # from the top of the page: the brand link, then the form
        page.keyboard.press("Tab")
        focused.append(page.evaluate("() => document.activeElement.id || document.activeElement.textContent.trim()"))
        if focused[-1] == "username":
            break
    assert focused[-1] == "username", focused
    page.keyboard.type("demo.officer")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "password"
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Sign in"
    # The focused control shows it (the outline WCAG 2.4.7 asks for).
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # Enter in a field submits the form
    page.wait_for_url(f"{console.base}/console/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Cases")

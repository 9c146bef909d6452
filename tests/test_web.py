"""The chat page in a real browser (Debian's Chromium driven by Playwright) against the real servers."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync", "--disable-quic"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, sqlite_stack):
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.route("https://www.bbc.co.uk/**", lambda route: route.fulfill(status=200, body="<h1>Weather</h1>", content_type="text/html"))
    page.goto(f"http://127.0.0.1:{sqlite_stack.settings.web_port}/")
    yield page
    context.close()


def last_bot(page) -> str:
    return page.locator("[data-testid=bot-message]").last.inner_text()


def click(page, title: str) -> None:
    page.locator("[data-testid=quick-reply]:not([disabled])", has_text=title).first.click()


def type_message(page, text: str) -> None:
    page.fill("[data-testid=message-input]", text)
    page.click("[data-testid=send]")


def wait_for_bot(page, text: str, timeout=30_000) -> None:
    page.locator("[data-testid=bot-message]", has_text=text).last.wait_for(timeout=timeout)


def test_a_whole_report_in_the_browser_ends_with_a_reference(page, sqlite_stack):
    ARTIFACTS.mkdir(exist_ok=True)
    wait_for_bot(page, "who is reporting")
    assert "confidential" in page.locator("[data-testid=transcript]").inner_text()
    click(page, "It's happening to me")
    wait_for_bot(page, "what happened")
    type_message(page, "The people upstairs leave racist notes on my car")
    wait_for_bot(page, "best describes it")
    click(page, "Racist behaviour or language")
    wait_for_bot(page, "because of who you are")
    # Only the newest question's buttons can be pressed: an old one would answer the wrong question.
    enabled = page.locator("[data-testid=quick-reply]:not([disabled])").count()
    assert enabled == page.locator(".quick-replies").last.locator("button").count()
    page.screenshot(path=str(ARTIFACTS / "chat-question.png"), full_page=True)
    # Skip the rest with the button every question has.
    for _ in range(40):
        if "Shall I send your report" in last_bot(page):
            break
        count = page.locator("[data-testid=bot-message]").count()
        click(page, "I'd rather not say")
        page.wait_for_function(
            "n => document.querySelectorAll('[data-testid=bot-message]').length > n", arg=count, timeout=30_000)
        page.wait_for_timeout(150)
    wait_for_bot(page, "Shall I send your report")
    click(page, "Send my report")
    wait_for_bot(page, "Your reference is")
    wait_for_bot(page, "safe for you to answer")  # the safety check follows
    page.screenshot(path=str(ARTIFACTS / "chat-submitted.png"), full_page=True)
    # Nothing of the conversation is kept in the browser.
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert page.context.cookies() == []


def test_danger_gets_999_at_once_then_asks_if_they_are_safe(page, sqlite_stack):
    ARTIFACTS.mkdir(exist_ok=True)
    wait_for_bot(page, "who is reporting")
    type_message(page, "he's outside my door with a knife")
    wait_for_bot(page, "call 999 straight away")
    assert "Are you somewhere safe right now?" in page.locator("[data-testid=transcript]").inner_text()
    page.screenshot(path=str(ARTIFACTS / "chat-danger.png"), full_page=True)
    click(page, "I'm safe for now")
    wait_for_bot(page, "carry on talking")
    click(page, "Carry on now")
    page.wait_for_function(  # the question it had asked, asked again
        "() => [...document.querySelectorAll('[data-testid=bot-message]')]"
        ".filter(m => m.innerText.includes('who is reporting')).length === 2", timeout=30_000)


def test_quick_exit_leaves_at_once_and_back_does_not_return(page):
    wait_for_bot(page, "who is reporting")
    page.click("[data-testid=exit]")
    page.wait_for_url("https://www.bbc.co.uk/weather**")
    page.go_back()
    assert "bbc.co.uk" in page.url or page.url == "about:blank"


def test_quick_exit_by_pressing_shift_three_times(page):
    wait_for_bot(page, "who is reporting")
    for _ in range(3):
        page.keyboard.press("Shift")
    page.wait_for_url("https://www.bbc.co.uk/weather**")


def test_the_page_loads_nothing_from_elsewhere(browser, sqlite_stack):
    context = browser.new_context()
    page = context.new_page()
    hosts = set()
    page.on("request", lambda r: hosts.add(r.url.split("/")[2]))
    page.goto(f"http://127.0.0.1:{sqlite_stack.settings.web_port}/")
    wait_for_bot(page, "who is reporting")
    context.close()
    assert hosts <= {f"127.0.0.1:{sqlite_stack.settings.web_port}", f"127.0.0.1:{sqlite_stack.settings.rasa_port}"}

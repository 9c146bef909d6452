"""The chat widget and the demo landlord page in a real browser (Debian's Chromium driven by
Playwright) against the real servers; and the web server's headers and the widget's words.

Screenshots go to tests/artifacts/ (not kept in git).
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
import requests

from bot.web.ui_text import UI_TEXT

STATIC = Path(__file__).resolve().parent.parent / "bot" / "web" / "static"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
EXIT_URL = "https://www.bbc.co.uk/weather"
ROOT = "document.getElementById('hate-crime-chat').shadowRoot"
SOCKET = re.compile(r"/socket\.io/")

# Words the widget needs that bot/web/ui_text.py does not have yet (asked for): the Shift-press
# progress announcements and the line shown when an old conversation could not be resumed.
PROPOSED_UI_KEYS: set = set()  # words the widget has that bot/web/ui_text.py has not (none now)

browser_test = pytest.mark.browser


# ---------------------------------------------------------------------------------------------
# Without a browser: the widget's words, the web server's headers
# ---------------------------------------------------------------------------------------------

def widget_ui_text() -> dict:
    source = (STATIC / "widget.js").read_text(encoding="utf-8")
    block = re.search(r"var UI_TEXT = (\{.*?\n  \});", source, re.S)
    assert block, "widget.js must define its English words as `var UI_TEXT = {...};` (a JSON object)"
    return json.loads(block.group(1))


def test_widget_words_are_the_keys_and_english_of_ui_text():
    widget = widget_ui_text()
    assert set(UI_TEXT) <= set(widget), f"missing in widget.js: {sorted(set(UI_TEXT) - set(widget))}"
    extra = set(widget) - set(UI_TEXT)
    assert extra <= PROPOSED_UI_KEYS, f"in widget.js but not in bot/web/ui_text.py: {sorted(extra - PROPOSED_UI_KEYS)}"
    for key, english in UI_TEXT.items():
        assert widget[key] == english, f"{key}: widget.js says {widget[key]!r}, ui_text.py says {english!r}"
    # Every word the code asks for is one of them.
    source = (STATIC / "widget.js").read_text(encoding="utf-8")
    used = set(re.findall(r"\bt\('([a-z_]+)'\)", source)) | set(re.findall(r"label\([^;]*?'([a-z_]+)'(?:, '[a-z-]+')?\)", source))
    used |= set(re.findall(r"setStatus\('([a-z_]+)'", source)) | set(re.findall(r"markNotSent\(item, '([a-z_]+)'\)", source))
    used |= {"exit_two_more", "exit_one_more"}  # chosen by a conditional expression
    assert used - {""} <= set(widget), sorted(used - set(widget))


def test_widget_puts_bot_text_in_as_text_only_and_keeps_nothing_in_the_browser():
    source = (STATIC / "widget.js").read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", source, flags=re.S)  # comments may name what the code avoids
    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                      "localStorage", "sessionStorage", "indexedDB", "document.cookie", "caches."):
        assert forbidden not in code, forbidden


def _get(app_settings, path, headers=None):
    from aiohttp.test_utils import TestClient, TestServer
    from multidict import CIMultiDict

    from bot.web.app import make_app

    async def run():
        async with TestClient(TestServer(make_app(app_settings))) as client:
            response = await client.get(path, headers=headers or {})
            return response.status, CIMultiDict(response.headers), await response.read()

    return asyncio.run(run())


@pytest.fixture
def web_settings():
    from dataclasses import replace

    from bot import settings as settings_module

    return replace(settings_module.load(), rasa_public_url="https://chat.example.org")


def test_the_demo_page_is_never_cached_and_has_a_strict_policy(web_settings):
    status, headers, body = _get(web_settings, "/")
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "connect-src 'self' https://chat.example.org wss://chat.example.org;" in csp
    assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    html = body.decode("utf-8")
    # The widget is embedded with its settings and exactly one script tag, and no inline script.
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/config.js">', '<script src="/widget.js" defer>']
    assert "<style" not in html and " style=" not in html and not re.search(r"\son[a-z]+=", html)
    assert 'href="https://www.bbc.co.uk/weather"' in html and 'rel="nofollow noreferrer"' in html

    status, headers, body = _get(web_settings, "/config.js")
    assert headers["Cache-Control"] == "no-store"
    config = json.loads(body.decode().split("=", 1)[1].strip().rstrip(";"))
    assert config == {"socketUrl": "https://chat.example.org", "socketPath": "/socket.io/",
                      "exitUrl": EXIT_URL, "language": None}


@pytest.mark.parametrize("path", ["/widget.js", "/widget.css", "/vendor/socket.io.min.js"])
def test_widget_files_are_cached_sensibly_and_embeddable(web_settings, path):
    status, headers, body = _get(web_settings, path, {"Accept-Encoding": "gzip"})
    assert status == 200 and body
    assert headers["Cache-Control"].startswith("public, max-age=")
    assert "charset=utf-8" in headers["Content-Type"]
    assert headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert headers["Access-Control-Allow-Origin"] == "*"  # may be pinned with integrity= and crossorigin
    assert headers.get("Content-Encoding") == "gzip"
    status, again, _ = _get(web_settings, path, {"If-None-Match": headers["ETag"]})
    assert status == 304 and again["ETag"] == headers["ETag"]


def test_only_the_files_meant_to_be_served_are(web_settings):
    for path in ("/vendor/README.md", "/static/chat.html", "/demo/index.html", "/widget.js/../app.py"):
        assert _get(web_settings, path)[0] == 404, path


# ---------------------------------------------------------------------------------------------
# In the browser
# ---------------------------------------------------------------------------------------------

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
def site(sqlite_stack) -> str:
    return f"http://127.0.0.1:{sqlite_stack.settings.web_port}/"


@pytest.fixture
def new_page(browser, site):
    """new_page(**context options): a page in a fresh browser context (no cookies, no storage, no
    cache), with the neutral exit site answered locally."""
    contexts = []

    def make(goto: bool = True, **options):
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        exits = []

        def neutral_site(route):
            exits.append(route.request.headers)
            route.fulfill(status=200, body="<!DOCTYPE html><title>Weather</title><h1>Weather</h1>",
                          content_type="text/html")

        page.route("https://www.bbc.co.uk/**", neutral_site)
        page.exits = exits
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.js_errors = errors
        if goto:
            page.goto(site)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def open_chat(page) -> None:
    page.locator("[data-testid=launcher]").click()
    page.locator("[data-testid=chat-panel]").wait_for(state="visible")


def bot_messages(page):
    return page.locator("[data-testid=bot-message]")


def last_bot(page) -> str:
    return bot_messages(page).last.inner_text()


def wait_for_bot(page, text: str, timeout=30_000) -> None:
    bot_messages(page).filter(has_text=text).last.wait_for(timeout=timeout)


def wait_for_more_bot_messages(page, count: int, timeout=30_000) -> None:
    bot_messages(page).nth(count).wait_for(timeout=timeout)


def click(page, title: str) -> None:
    page.locator("[data-testid=quick-reply]:not([disabled])", has_text=title).first.click()


def type_message(page, text: str) -> None:
    page.locator("[data-testid=message-input]").fill(text)
    page.locator("[data-testid=send]").click()


def start(page) -> None:
    open_chat(page)
    wait_for_bot(page, "who is reporting")


def still_here(page) -> bool:
    """True until a quick exit has begun (it takes the widget out of the page at once)."""
    return page.evaluate("() => !!document.getElementById('hate-crime-chat')")


def traces(page) -> dict:
    return page.evaluate("""async () => ({
        storage: localStorage.length + sessionStorage.length,
        cookie: document.cookie,
        databases: indexedDB.databases ? (await indexedDB.databases()).length : 0,
        caches: (await caches.keys()).length,
    })""")


def assert_no_traces(page) -> None:
    assert traces(page) == {"storage": 0, "cookie": "", "databases": 0, "caches": 0}
    assert page.context.cookies() == []


def active_in_widget(page) -> str:
    """data-testid (or tag) of the focused element inside the widget, '' if focus is elsewhere."""
    return page.evaluate(f"""() => {{
        const host = document.getElementById('hate-crime-chat');
        if (document.activeElement !== host) return '';
        const a = {ROOT}.activeElement;
        return a ? (a.dataset.testid || a.tagName.toLowerCase()) : '';
    }}""")


@browser_test
def test_the_page_connects_nothing_and_keeps_nothing_until_the_chat_is_opened(new_page, sqlite_stack, site):
    web = f"127.0.0.1:{sqlite_stack.settings.web_port}"
    rasa = f"127.0.0.1:{sqlite_stack.settings.rasa_port}"
    page = new_page(goto=False)
    hosts, sockets = [], []
    page.on("request", lambda r: hosts.append(r.url.split("/")[2]))
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(site)
    page.wait_for_load_state("networkidle")
    # The socket.io client is fetched from the widget's own origin once the page has loaded...
    page.wait_for_function("() => performance.getEntriesByType('resource').some(e => e.name.endsWith('/vendor/socket.io.min.js'))")
    # ...but nothing talks to the chat server, and nothing is stored, until the chat is opened.
    assert sockets == [] and rasa not in hosts
    assert_no_traces(page)
    assert page.locator("[data-testid=chat-panel]").is_hidden()
    shot(page, "page")
    with page.expect_websocket() as ws:
        open_chat(page)
    assert SOCKET.search(ws.value.url) and rasa in ws.value.url
    wait_for_bot(page, "who is reporting")
    assert_no_traces(page)
    # Nothing from any other host, ever (no CDN, no fonts, no analytics).
    assert set(hosts) <= {web, rasa}, set(hosts)
    assert page.js_errors == []


@browser_test
def test_a_whole_report_in_the_widget_ends_with_a_reference(page):
    start(page)
    assert "confidential" in page.locator("[data-testid=confidential]").inner_text()
    assert "shared phone or computer" in page.locator("[data-testid=shared-device]").inner_text()
    # What a screen reader finds: a named dialog, a named log that is read out as it grows,
    # labelled controls.
    assert page.get_by_role("dialog", name="Report hate crime or harassment").is_visible()
    assert page.get_by_role("log", name="Conversation").get_attribute("aria-live") == "polite"
    assert page.get_by_role("textbox", name="Your message").get_attribute("maxlength") == "2000"
    assert page.get_by_role("button", name="Close the chat").is_visible()
    assert page.get_by_role("button", name="Send").is_visible()
    assert page.get_by_role("status").count() >= 1
    click(page, "It's happening to me")
    wait_for_bot(page, "what happened")
    type_message(page, "The people upstairs leave racist notes on my car")
    wait_for_bot(page, "best describes it")
    click(page, "Racist behaviour or language")
    wait_for_bot(page, "because of who you are")
    # Only the newest question's buttons can be pressed: an old one would answer the wrong question.
    enabled = page.locator("[data-testid=quick-reply]:not([disabled])")
    assert enabled.count() == page.locator(".hcc-replies").last.locator("button").count() > 0
    # Screen readers hear who said what.
    assert page.evaluate(f"() => [...{ROOT}.querySelectorAll('.hcc-msg--user .hcc-visually-hidden')].map(e => e.textContent.trim())")[0] == "You said:"
    assert page.evaluate(f"() => {ROOT}.querySelector('.hcc-msg--bot .hcc-visually-hidden').textContent.trim()") == "Assistant said:"
    shot(page, "widget-question")
    for _ in range(40):  # skip the rest with the button every question has
        if "Shall I send your report" in last_bot(page):
            break
        count = bot_messages(page).count()
        click(page, "I'd rather not say")
        wait_for_more_bot_messages(page, count)
        page.locator("[data-testid=typing]").wait_for(state="hidden")
    wait_for_bot(page, "Shall I send your report")
    click(page, "Send my report")
    wait_for_bot(page, "Your reference is")
    wait_for_bot(page, "safe for you to answer")  # the safety check follows
    shot(page, "widget-submitted")
    assert_no_traces(page)
    assert page.js_errors == []


@browser_test
def test_danger_gets_999_at_once_then_asks_if_they_are_safe(page):
    start(page)
    type_message(page, "he's outside my door with a knife")
    wait_for_bot(page, "call 999 straight away")
    assert "Are you somewhere safe right now?" in page.locator("[data-testid=transcript]").inner_text()
    # On a phone, a tap on 999 dials it.
    assert bot_messages(page).filter(has_text="call 999 straight away").locator("a[href='tel:999']").count() >= 1
    shot(page, "widget-danger")
    click(page, "I'm safe for now")
    wait_for_bot(page, "carry on talking")
    click(page, "Carry on now")
    bot_messages(page).filter(has_text="who is reporting").nth(1).wait_for()  # the question asked again


def assert_left_for_good(page) -> None:
    page.wait_for_url(EXIT_URL + "**")
    assert page.exits and "referer" not in page.exits[0]  # the neutral site is not told where they came from
    page.go_back()
    assert "bbc.co.uk" in page.url or page.url == "about:blank", page.url


@browser_test
def test_quick_exit_by_the_widgets_button_and_back_does_not_return(page):
    start(page)
    exit_link = page.locator("[data-testid=exit]")
    # A real link, so it works even without the script.
    assert exit_link.evaluate("a => [a.tagName, a.getAttribute('href'), a.rel]") == ["A", EXIT_URL, "nofollow noreferrer"]
    assert exit_link.is_visible() and exit_link.inner_text().strip() == "Exit this page"
    exit_link.click()
    assert_left_for_good(page)


@browser_test
def test_quick_exit_by_the_pages_own_button(page):
    start(page)
    page.locator("[data-testid=close]").click()
    page.locator("[data-testid=page-exit]").click()
    assert_left_for_good(page)


@browser_test
def test_quick_exit_by_pressing_shift_three_times_and_only_shift_counts(page):
    start(page)
    announcer = page.locator("[data-testid=exit-announcer]")
    page.locator("[data-testid=message-input]").focus()
    page.keyboard.press("Shift")
    page.wait_for_function(f"() => {ROOT}.querySelector('[data-testid=exit-announcer]').textContent.includes('press 2 more times')")
    assert announcer.get_attribute("aria-live") == "polite"
    page.keyboard.press("Shift+KeyA")  # a capital letter: Shift with another key does not count, and starts again
    page.keyboard.press("Shift")
    page.keyboard.press("Shift")
    assert still_here(page)
    page.wait_for_function(f"() => {ROOT}.querySelector('[data-testid=exit-announcer]').textContent.includes('1 more time')")
    page.keyboard.press("KeyB")  # any other key starts the count again
    # Shift held down (the key repeating) is one press; left and right Shift both count.
    page.keyboard.down("Shift")
    page.keyboard.down("Shift")
    page.keyboard.down("Shift")
    page.keyboard.up("Shift")
    page.keyboard.press("ShiftRight")
    assert still_here(page)
    assert page.locator("[data-testid=message-input]").input_value() == "Ab"
    page.keyboard.press("ShiftLeft")
    assert_left_for_good(page)


@browser_test
def test_quick_exit_by_shift_works_with_the_chat_closed(page):
    page.locator("[data-testid=launcher]").wait_for()
    for _ in range(3):
        page.keyboard.press("Shift")
    assert_left_for_good(page)


@browser_test
def test_quick_exit_by_a_tap_on_a_touch_screen(new_page):
    page = new_page(viewport={"width": 375, "height": 667}, has_touch=True, is_mobile=True)
    page.locator("[data-testid=launcher]").tap()
    wait_for_bot(page, "who is reporting")
    # Opened by a tap, focus goes to the panel, not the message box: no keyboard covers the chat.
    assert active_in_widget(page) == "chat-panel"
    shot(page, "widget-touch")
    page.locator("[data-testid=exit]").tap()
    assert_left_for_good(page)
    page = new_page(viewport={"width": 375, "height": 667}, has_touch=True, is_mobile=True)
    page.locator("[data-testid=page-exit]").tap()
    assert_left_for_good(page)


@browser_test
def test_a_reload_leaves_no_trace(page):
    start(page)
    click(page, "It's happening to me")
    wait_for_bot(page, "what happened")
    page.reload()
    page.locator("[data-testid=launcher]").wait_for()
    assert page.locator("[data-testid=chat-panel]").is_hidden()
    assert bot_messages(page).count() == 0 and page.locator("[data-testid=user-message]").count() == 0
    assert_no_traces(page)
    start(page)  # a new conversation, from its greeting
    assert page.locator("[data-testid=user-message]").count() == 0
    assert bot_messages(page).filter(has_text="what happened").count() == 0


@browser_test
def test_keyboard_only(page):
    page.locator("[data-testid=launcher]").wait_for()
    for _ in range(80):  # Tab through the page to the launcher
        page.keyboard.press("Tab")
        if active_in_widget(page) == "launcher":
            break
    assert active_in_widget(page) == "launcher"
    outline = page.evaluate(f"() => getComputedStyle({ROOT}.activeElement).outlineColor")
    assert outline == "rgb(255, 221, 0)"  # visible focus
    page.keyboard.press("Enter")
    assert active_in_widget(page) == "message-input"  # focus moved into the panel
    wait_for_bot(page, "who is reporting")
    page.keyboard.type("It's happening to me")
    page.keyboard.press("Enter")
    wait_for_bot(page, "what happened")
    assert page.locator("[data-testid=user-message]").last.inner_text() == "It's happening to me"
    # The newest reply button is within reach of the keyboard, and answers with Enter.
    page.keyboard.press("Shift+Tab")
    assert active_in_widget(page) == "quick-reply"
    count = bot_messages(page).count()
    page.keyboard.press("Enter")
    wait_for_more_bot_messages(page, count)
    assert active_in_widget(page) == "message-input"
    page.keyboard.press("Escape")  # closes the chat (it is not the quick exit)
    assert page.locator("[data-testid=chat-panel]").is_hidden()
    assert active_in_widget(page) == "launcher"
    assert still_here(page) and page.url.startswith("http://127.0.0.1")
    page.keyboard.press("Enter")  # reopened: the conversation is still there
    assert page.locator("[data-testid=user-message]").count() == 2
    page.keyboard.press("Escape")
    # The page's own "Start the chat" button (data-hate-crime-chat-open) opens it too, and gets
    # the focus back when it closes.
    start_button = page.get_by_role("button", name="Start the chat")
    start_button.focus()
    page.keyboard.press("Enter")
    assert active_in_widget(page) == "message-input"
    page.keyboard.press("Escape")
    assert start_button.evaluate("b => document.activeElement === b")


@browser_test
def test_at_320_pixels_wide_nothing_scrolls_sideways(new_page):
    page = new_page(viewport={"width": 320, "height": 568})
    page.locator("[data-testid=launcher]").wait_for()
    width = "() => document.documentElement.scrollWidth"
    assert page.evaluate(width) <= 320
    box = page.locator("[data-testid=launcher]").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 320
    shot(page, "page-320")
    start(page)
    assert page.locator("[data-testid=chat-panel]").bounding_box() == {"x": 0, "y": 0, "width": 320, "height": 568}
    assert page.locator("[data-testid=chat-panel]").get_attribute("aria-modal") == "true"
    assert page.evaluate(width) <= 320
    assert page.evaluate(f"() => {{ const b = {ROOT}.querySelector('[data-testid=chat-body]'); return b.scrollWidth <= b.clientWidth; }}")
    for name in ("exit", "close", "send", "message-input"):
        box = page.locator(f"[data-testid={name}]").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 320, name
        assert box["height"] >= 24 and box["width"] >= 24, name  # WCAG 2.2 target size
    # Filling the screen it keeps focus inside: Tab from the last control goes to the first.
    page.locator("[data-testid=send]").focus()
    page.keyboard.press("Tab")
    assert active_in_widget(page) == "exit"
    shot(page, "widget-320")


def choose_arabic(page) -> None:
    button = page.locator("[data-testid=quick-reply]:not([disabled])", has_text="العربية")
    if button.count():
        button.first.click()
    else:
        type_message(page, "العربية")
    page.wait_for_function(f"() => {ROOT}.querySelector('[data-testid=chat-panel]').getAttribute('dir') === 'rtl'")


@browser_test
def test_arabic_turns_the_widget_right_to_left(page):
    start(page)
    choose_arabic(page)
    panel = page.locator("[data-testid=chat-panel]")
    assert panel.get_attribute("lang") == "ar"
    bot_messages(page).filter(has_text=re.compile("[\u0600-\u06ff]")).last.wait_for()
    arabic = bot_messages(page).last
    assert arabic.get_attribute("dir") == "auto" and arabic.get_attribute("lang") == "ar"
    assert re.search("[\u0600-\u06ff]", arabic.inner_text())
    # The widget's own words follow the conversation's language.
    assert page.locator("[data-testid=send]").inner_text() != "Send"
    # Right to left: the bot's messages start at the right, the exit button too.
    panel_box = panel.bounding_box()
    bubble = arabic.bounding_box()
    assert bubble["x"] + bubble["width"] > panel_box["x"] + panel_box["width"] - 40
    exit_box = page.locator("[data-testid=exit]").bounding_box()
    assert exit_box["x"] + exit_box["width"] > panel_box["x"] + panel_box["width"] - 40
    shot(page, "widget-arabic")
    assert page.js_errors == []


class SocketSwitch:
    """Routes the page's WebSockets through Playwright so a test can cut the network and bring it
    back, and reads the session token the server gives (it names the conversation)."""

    def __init__(self, page) -> None:
        self.offline = False
        self.forge = False  # send a token the server never issued when the session is asked for again
        self.live = []
        self.tokens = []
        page.route_web_socket(SOCKET, self._route)
        page.route(SOCKET, lambda route: route.abort() if self.offline else route.continue_())

    def _route(self, ws) -> None:
        if self.offline:
            ws.close()
            return
        server = ws.connect_to_server()

        def from_server(message):
            if isinstance(message, str) and '"session_confirm"' in message:
                self.tokens.append(json.loads(message[message.index("["):])[1]["token"])
            ws.send(message)

        def from_page(message):
            if self.forge and isinstance(message, str) and '"session_request"' in message:
                event, data = json.loads(message[message.index("["):])
                data["token"] = "v1.web-" + "0" * 32 + ".1700000000.forged"
                message = message[:message.index("[")] + json.dumps([event, data])
            server.send(message)

        server.on_message(from_server)
        ws.on_message(from_page)
        self.live.append(ws)

    def cut(self) -> None:
        self.offline = True
        live, self.live = self.live, []
        for ws in live:
            ws.close()

    def restore(self) -> None:
        self.offline = False


def user_texts_in_tracker(stack, token: str) -> list:
    sender = token.split(".")[1]
    r = requests.get(f"{stack.rasa_url}/conversations/{sender}/tracker",
                     params={"token": stack.settings.rasa_auth_token}, timeout=10)
    r.raise_for_status()
    return [e.get("text") for e in r.json()["events"] if e.get("event") == "user"]


@browser_test
def test_a_dropped_connection_loses_nothing_and_repeats_nothing(new_page, sqlite_stack):
    page = new_page(goto=False)
    switch = SocketSwitch(page)
    page.goto(f"http://127.0.0.1:{sqlite_stack.settings.web_port}/")
    start(page)
    status = page.locator("[data-testid=status]")

    # Offline: a message waits, marked as not sent yet.
    switch.cut()
    status.filter(has_text="Reconnecting").wait_for()
    shown_before = bot_messages(page).count()
    click(page, "It's happening to me")
    note = page.locator("[data-testid=not-sent]")
    note.wait_for()
    assert "Not sent yet" in note.inner_text()
    shot(page, "widget-offline")
    assert bot_messages(page).count() == shown_before

    # Back online: the same conversation goes on, the message is sent once, its note goes.
    switch.restore()
    status.filter(has_text="Connected again").wait_for()
    wait_for_bot(page, "what happened")
    note.wait_for(state="detached")

    # Cut just after sending, before the reply: the reply comes after the reconnect, once; the
    # message, resent with its id, is handled once.
    type_message(page, "Someone keeps writing slurs on my front door")
    switch.cut()
    page.wait_for_timeout(300)
    switch.restore()
    wait_for_bot(page, "best describes it")
    note.wait_for(state="detached")
    page.locator("[data-testid=typing]").wait_for(state="hidden")

    texts = [m.inner_text() for m in bot_messages(page).all()]
    assert len(texts) == len(set(texts)), texts  # no bot message shown twice
    users = [m.inner_text() for m in page.locator("[data-testid=user-message]").all()]
    assert users == ["It's happening to me", "Someone keeps writing slurs on my front door"]
    assert len(set(switch.tokens)) == 1  # one conversation throughout
    said = user_texts_in_tracker(sqlite_stack, switch.tokens[0])
    assert said.count("Someone keeps writing slurs on my front door") == 1
    assert len([t for t in said if t and t.startswith('/choose{"value":"victim"}')]) == 1


LANDLORD_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Another landlord</title>
<style>div, p, h2, a, form, input, button { display: block; margin: 2em; padding: 2em; border: 5px dotted red;
  color: red; background: yellow; font: italic 40px serif; line-height: 3; position: static; }</style>
<script>window.HateCrimeChat = {socketUrl: "%(rasa)s", socketPath: "/socket.io/",
  exitUrl: "https://www.bbc.co.uk/weather", language: null};</script>
<script src="%(web)s/widget.js" defer></script>
</head><body><h1>Another landlord</h1><div>Their own page, their own styles.</div></body></html>"""


@pytest.fixture
def landlord_site(sqlite_stack):
    """Another site's page embedding the widget: its own origin (another port), its own hostile
    styles, no referrer policy, its settings in an inline script."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = (LANDLORD_PAGE % {"web": f"http://127.0.0.1:{sqlite_stack.settings.web_port}",
                             "rasa": sqlite_stack.rasa_url}).encode("utf-8")

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/report" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body if self.path == "/report" else b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/report"
    server.shutdown()
    server.server_close()


@browser_test
def test_embedded_in_another_sites_page(new_page, sqlite_stack, landlord_site):
    """From another origin, with its own hostile styles and no referrer policy: the widget's files
    come from the widget's origin, the page's styles do not reach into it, and the quick exit still
    leaves without telling the neutral site where from."""
    web = f"http://127.0.0.1:{sqlite_stack.settings.web_port}"
    page = new_page(goto=False)
    page.goto(landlord_site)
    launcher = page.locator("[data-testid=launcher]")
    launcher.wait_for()
    page.wait_for_function("() => performance.getEntriesByType('resource').some(e => e.name === '%s/widget.css')" % web)
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(29, 79, 145)"
    assert launcher.evaluate("b => getComputedStyle(b).position") == "fixed"
    launcher.click()
    assert page.locator("[data-testid=chat-panel]").is_visible()
    assert page.locator("[data-testid=send]").evaluate("b => getComputedStyle(b).fontSize") == "16px"
    shot(page, "widget-elsewhere")
    for _ in range(3):
        page.keyboard.press("Shift")
    assert_left_for_good(page)
    assert page.js_errors == []


@browser_test
def test_when_the_chat_cannot_load_it_says_so_and_points_to_999(new_page, site):
    page = new_page(goto=False)
    page.route(re.compile(r"/vendor/socket\.io\.min\.js"), lambda route: route.abort())
    page.goto(site)
    open_chat(page)
    status = page.locator("[data-testid=status]")
    status.filter(has_text="could not load").wait_for()
    assert "call 999" in status.inner_text()
    assert page.get_by_role("status").filter(has_text="could not load").count() == 1


@browser_test
def test_the_pages_own_socket_io_is_left_alone(new_page, site):
    page = new_page(goto=False)
    page.add_init_script("window.io = 'the page\\'s own'")
    page.goto(site)
    start(page)
    assert page.evaluate("() => window.io") == "the page's own"


@browser_test
def test_a_conversation_that_cannot_be_resumed_says_so_and_starts_afresh(new_page, site):
    page = new_page(goto=False)
    switch = SocketSwitch(page)
    page.goto(site)
    start(page)
    click(page, "It's happening to me")
    wait_for_bot(page, "what happened")
    switch.forge = True  # as if the token had expired, or the server's secret had changed
    switch.cut()
    page.locator("[data-testid=status]").filter(has_text="Reconnecting").wait_for()
    switch.restore()
    page.locator("[data-testid=status]").filter(has_text="new one has started").wait_for()
    bot_messages(page).filter(has_text="who is reporting").nth(1).wait_for()  # the server greets anew
    assert page.locator("[data-testid=user-message]").count() == 1  # what was said stays on screen
    assert len(set(switch.tokens)) == 2


@browser_test
def test_leaving_for_the_back_forward_cache_wipes_the_conversation(new_page, site):
    page = new_page(goto=False)
    closed = []
    page.on("websocket", lambda ws: ws.on("close", lambda _: closed.append(ws.url)))
    page.goto(site)
    start(page)
    # What the browser does when it keeps the page in its back/forward cache...
    page.evaluate("() => window.dispatchEvent(new PageTransitionEvent('pagehide', {persisted: true}))")
    assert page.locator("[data-testid=chat-panel]").is_hidden()
    assert bot_messages(page).count() == 0
    for _ in range(100):
        if closed:
            break
        page.wait_for_timeout(50)
    assert closed, "the socket was left open"
    # ...and when it brings it back: a fresh load.
    with page.expect_navigation():
        page.evaluate("() => window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))")
    page.locator("[data-testid=launcher]").wait_for()
    assert bot_messages(page).count() == 0


@browser_test
def test_shift_presses_more_than_5_seconds_apart_do_not_add_up(new_page, site):
    page = new_page(goto=False)
    page.clock.install()
    page.goto(site)
    page.locator("[data-testid=launcher]").wait_for()
    page.keyboard.press("Shift")
    page.keyboard.press("Shift")
    page.clock.run_for(5100)
    page.wait_for_function(f"() => {ROOT}.querySelector('[data-testid=exit-announcer]').textContent.includes('expired')")
    page.keyboard.press("Shift")
    assert still_here(page)
    page.keyboard.press("Shift")
    page.keyboard.press("Shift")
    assert_left_for_good(page)


def axe_source() -> str:
    try:
        import axe_playwright_python
    except ImportError:
        pytest.skip("axe-playwright-python is not installed yet (it ships axe.min.js)")
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


def axe_violations(page, source: str) -> list:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(source)  # through the DevTools protocol: the page's CSP allows no inline script
    result = page.evaluate("""() => axe.run(document, {
        runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']},
        resultTypes: ['violations'],
    })""")
    assert result["testEngine"]["name"] == "axe-core" and result["passes"], "axe did not run"
    return [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]]} for v in result["violations"]]


@browser_test
def test_no_accessibility_violations_with_the_widget_open(page):
    source = axe_source()
    assert axe_violations(page, source) == []  # the page, chat closed
    start(page)
    click(page, "It's happening to me")  # a used (disabled) button group, a user message
    wait_for_bot(page, "what happened")
    page.locator("[data-testid=typing]").wait_for(state="hidden")
    assert axe_violations(page, source) == []
    choose_arabic(page)
    bot_messages(page).filter(has_text=re.compile("[\u0600-\u06ff]")).last.wait_for()
    page.locator("[data-testid=typing]").wait_for(state="hidden")
    assert axe_violations(page, source) == []

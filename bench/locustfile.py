"""The Locust user of the load test: whole report journeys through the REST channel.

Each user loops: a new sender id, then every message of ``REPORT_JOURNEY`` (bench/journeys.py) in
turn, each waiting for its reply. A reply that is not HTTP 200 with a well-formed, non-empty list of
bot messages for that sender is a failure, and ends that journey (the conversation is broken). A
journey counts as completed when every message succeeded and the last reply gave the case reference.
A reply refused by a rate limit (bot/ratelimit.py: 200 with a kind message and ``Retry-After``) is a
failure too. Each journey comes from an address of its own (``X-Forwarded-For``, from the
benchmarking range 198.18.0.0/15, which the servers trust from nginx and loopback): one person each,
as in life, not everyone from one address.

Importing this module imports Locust, which monkey-patches the standard library with gevent: it is
only ever imported in a process of its own. bench/load.py runs it as a child process
(``python -m bench.locustfile --host URL --users N --seconds S --out result.json``), which runs
Locust as a library and writes every message and journey to a JSON file. It can also be used
with Locust's own command line or web UI: ``locust -f bench/locustfile.py --host http://...``.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
import uuid

import gevent
from locust import FastHttpUser, constant, events, task
from locust.env import Environment

from bench.journeys import REPORT_JOURNEY

MESSAGE = "message"  # the name of every REST message in Locust's statistics
JOURNEY = "journey"  # the name of every whole journey (request type JOURNEY)
REFERENCE = re.compile(r"Your reference is ([A-Z0-9-]+)")


def reply_problem(status: int, body, sender: str, retry_after: str | None = None) -> str | None:
    """Why a reply is not a well-formed, non-empty list of bot messages for ``sender`` (None: it is)."""
    if status != 200:
        return f"HTTP {status}"
    if retry_after:
        return "refused by a rate limit"
    if not isinstance(body, list) or not body:
        return f"not a non-empty list: {str(body)[:80]!r}"
    for message in body:
        if not isinstance(message, dict) or message.get("recipient_id") != sender:
            return f"not a message for this sender: {str(message)[:80]!r}"
        if not any(message.get(k) for k in ("text", "buttons", "image", "custom", "attachment")):
            return f"an empty message: {str(message)[:80]!r}"
    return None


class ReportJourney(FastHttpUser):
    """A person filing a whole report, one message at a time, then another person, and so on."""

    wait_time = constant(0)
    network_timeout = 180.0  # nginx gives a Rasa server 120 s
    connection_timeout = 30.0

    def say(self, sender: str, address: str, text: str) -> str | None:
        """One message; its reply's text, or None when it failed (recorded as a failure)."""
        with self.client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text}, name=MESSAGE,
                              headers={"X-Forwarded-For": address}, catch_response=True) as response:
            try:
                body = response.json()
            except Exception:  # noqa: BLE001 - an unreadable body is a failure like any other
                body = None
            retry_after = (response.headers or {}).get("Retry-After")
            problem = reply_problem(response.status_code, body, sender, retry_after)
            if problem:
                response.failure(problem)
                return None
            response.success()
            return " ".join(m.get("text") or "" for m in body)

    @task
    def journey(self) -> None:
        sender, start, last = f"load-{uuid.uuid4().hex[:16]}", time.perf_counter(), None
        address = f"198.{18 + random.getrandbits(1)}.{random.getrandbits(8)}.{random.randrange(1, 255)}"
        for text in REPORT_JOURNEY:
            last = self.say(sender, address, text)
            if last is None:
                break
        found = REFERENCE.search(last or "")
        events.request.fire(request_type="JOURNEY", name=JOURNEY, response_time=(time.perf_counter() - start) * 1000,
                            response_length=0, response=None, context={"sender": sender},
                            exception=None if found else RuntimeError("no case reference at the end"),
                            reference=found.group(1) if found else None)


class Recorder:
    """Every message and journey as it ends: (end time, ms, ok, HTTP status or sender, reference)."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, float, bool, int]] = []
        self.journeys: list[tuple[float, float, bool, str, str | None]] = []
        self.errors: dict[str, int] = {}

    def on_request(self, request_type: str, name: str, response_time: float, exception=None, response=None,
                   context=None, reference: str | None = None, **_) -> None:
        now = time.time()
        if exception is not None:
            key = f"{name}: {exception}"[:160]
            self.errors[key] = self.errors.get(key, 0) + 1
        if name == JOURNEY:
            self.journeys.append((now, response_time, exception is None, (context or {}).get("sender"), reference))
        else:
            status = getattr(response, "status_code", 0) or 0
            self.messages.append((now, response_time, exception is None, int(status)))


def run(host: str, users: int, spawn_rate: float, seconds: float, stop_timeout: float) -> dict:
    """Locust as a library: ``users`` users for ``seconds`` (ramp-up included), then a graceful stop
    (each user finishes its journey, for at most ``stop_timeout`` seconds)."""
    recorder = Recorder()
    events.request.add_listener(recorder.on_request)
    env = Environment(user_classes=[ReportJourney], host=host, events=events, stop_timeout=stop_timeout)
    runner = env.create_local_runner()
    spawned: dict[str, float] = {}
    events.spawning_complete.add_listener(lambda user_count: spawned.setdefault("at", time.time()))
    started = time.time()
    runner.start(users, spawn_rate=spawn_rate)
    gevent.sleep(seconds)
    stopping = time.time()
    runner.stop()
    stopped = time.time()
    runner.quit()
    return {"host": host, "users": users, "spawn_rate": spawn_rate, "seconds": seconds, "started": started,
            "spawned": spawned.get("at", stopping), "stopping": stopping, "stopped": stopped,
            "messages": recorder.messages, "journeys": recorder.journeys, "errors": recorder.errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--stop-timeout", type=float, default=300.0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    result = run(args.host, args.users, args.spawn_rate, args.seconds, args.stop_timeout)
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

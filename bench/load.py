"""Load test (Locust): many people filing whole reports at once, one instance against two behind nginx.

Two configurations, one after the other in the same run on the same machine, each on a fresh
PostgreSQL schema (cases and trackers) and Redis (the lock store):

- **one**: one Rasa server and one action server (bot.processes.Stack, instances=1), the baseline;
- **two**: the production profile (bot/production.py): two Rasa servers and two action servers
  behind nginx, which is where the users connect (Stack, instances=2).

Each is warmed up with one journey per instance, then Locust (bench/locustfile.py, in a process
of its own) runs USERS users for SECONDS seconds (ramp-up included): each loops whole report
journeys through the REST channel with a new sender id per journey. Then each user finishes its
journey (a graceful stop), so every journey that started either completes or fails. Every stack
process's RSS (with its children) and Locust's is sampled every 0.5 s; the report gives the
peak, and the CPU time each used during the run. Throughput counts the messages and journeys
that ended between the last user's start and the stop, over that time. The aim (issue 8): two
instances give at least 1.6x the throughput of one, with no errors.

Run alone with `python -m bench.load [--users 50] [--seconds 120]` (or LOAD_USERS, LOAD_SECONDS),
written to bench/results/load-YYYY-MM-DD.md, or as a section of `make bench`. LOAD_KEEP_LOGS=DIR
keeps a copy of each stack's logs (the report gives each Traceback's exception line).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import psutil
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.journeys import REPORT_JOURNEY
from bot import migrate, settings as settings_module
from bot.model import ensure_model
from bot.processes import Stack, free_port
from bot.settings import ROOT

USERS = int(os.environ.get("LOAD_USERS", "50"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "120"))
AIM = 1.6  # throughput of two instances over one
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
SAMPLE_SECONDS = 0.5
QUIET_CORES = 0.25  # more CPU than this taken by anything else than the stack, Locust, PostgreSQL and Redis: not quiet


def new_schema() -> tuple[str, callable]:
    """A PostgreSQL schema of its own, migrated, and how to drop it (as tests/conftest.py does)."""
    schema = f"load_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, future=True)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    migrate.upgrade(url)

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return url, drop


def cases(database_url: str) -> dict[str, str]:
    """Every case in the database: reference -> conversation id (plain SQL: no model needed)."""
    engine = create_engine(database_url, future=True)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT reference, conversation_id FROM cases")).all())
    finally:
        engine.dispose()


class Sampler(threading.Thread):
    """Peak RSS (with children) and CPU seconds of named processes, every SAMPLE_SECONDS until stopped."""

    def __init__(self, pids) -> None:  # pids: callable returning {label: pid}
        super().__init__(daemon=True)
        self.pids, self.halt = pids, threading.Event()
        self.peak_mb: dict[str, float] = {}
        self.cpu_first: dict[str, float] = {}
        self.cpu_last: dict[str, float] = {}

    @staticmethod
    def measure(pid: int) -> tuple[float, float]:
        proc = psutil.Process(pid)
        family = [proc, *proc.children(recursive=True)]
        rss = sum(p.memory_info().rss for p in family)
        cpu = sum(sum(p.cpu_times()[:2]) for p in family)
        return rss / 2**20, cpu

    def sample(self) -> None:
        for label, pid in dict(self.pids()).items():
            try:
                mb, cpu = self.measure(pid)
            except psutil.Error:
                continue
            self.peak_mb[label] = max(self.peak_mb.get(label, 0.0), mb)
            self.cpu_first.setdefault(label, cpu)
            self.cpu_last[label] = cpu

    def run(self) -> None:
        self.started = time.monotonic()
        self.sample()
        while not self.halt.wait(SAMPLE_SECONDS):
            self.sample()

    def stop(self) -> tuple[dict[str, dict[str, float]], float]:
        """Each process's peak MB and CPU seconds, and the seconds sampled."""
        self.halt.set()
        self.join()
        self.sample()
        return ({label: {"peak_mb": mb, "cpu_s": self.cpu_last[label] - self.cpu_first[label]}
                 for label, mb in self.peak_mb.items()}, time.monotonic() - self.started)


def servers() -> dict[str, int]:
    """The PostgreSQL and Redis servers' main processes (their whole CPU and memory, whoever uses them)."""
    found = {}
    for proc in psutil.process_iter(["name", "ppid"]):
        name = proc.info["name"] or ""
        if name == "postgres" and not _named(proc.info["ppid"], "postgres"):
            found["PostgreSQL (whole server)"] = proc.pid
        elif name.startswith("redis-server"):
            found["Redis (whole server)"] = proc.pid
    return found


def _named(pid: int, name: str) -> bool:
    try:
        return psutil.Process(pid).name() == name
    except psutil.Error:
        return False


def run_locust(host: str, users: int, seconds: float, out_dir: Path, spawn_rate: float | None = None,
               on_start=None) -> dict:
    """bench/locustfile.py in a child process against ``host``; its JSON result. ``on_start`` is
    called with the child's pid once it runs (for the memory sampler)."""
    out = out_dir / f"locust-{uuid.uuid4().hex[:8]}.json"
    spawn_rate = spawn_rate or max(1.0, users / 5)
    argv = [sys.executable, "-m", "bench.locustfile", "--host", host, "--users", str(users),
            "--spawn-rate", str(spawn_rate), "--seconds", str(seconds), "--out", str(out)]
    with open(out_dir / "locust.log", "ab") as log:
        child = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                 env=dict(os.environ, PYTHONPATH=str(ROOT)))
        if on_start:
            on_start(child.pid)
        try:
            code = child.wait(timeout=seconds + 420)
        finally:
            if child.poll() is None:
                child.kill()
    if code != 0:
        raise RuntimeError(f"Locust exited with {code} (log: {out_dir / 'locust.log'})")
    return json.loads(out.read_text())


def percentile(values: list[float], p: float) -> float:
    """Nearest rank; 0 for no values."""
    if not values:
        return 0.0
    values = sorted(values)
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)]


def summarise(result: dict, made: dict[str, str]) -> dict:
    """Counts, latencies and throughput of one Locust run; ``made``: the cases it made (reference: sender)."""
    messages, journeys = result["messages"], result["journeys"]
    window = (result["spawned"], result["stopping"])
    steady = max(window[1] - window[0], 1e-9)
    latencies = [ms for _, ms, _, _ in messages]
    done = [j for j in journeys if j[2]]
    return {
        "users": result["users"], "seconds": result["seconds"], "steady_s": steady,
        "requests": len(messages), "failures": sum(not ok for _, _, ok, _ in messages),
        "http_5xx": sum(status >= 500 for *_, status in messages),
        "p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "p99": percentile(latencies, 99),
        "max": max(latencies, default=0.0),
        "msgs_per_s": sum(window[0] <= t <= window[1] for t, *_ in messages) / steady,
        "journeys_per_min": sum(window[0] <= j[0] <= window[1] for j in done) * 60 / steady,
        "journeys": len(journeys), "completed": len(done), "journey_p50_s": percentile([j[1] for j in done], 50) / 1000,
        "cases": len(made), "cases_of_completed": sum(made.get(j[4]) == j[3] for j in done),
        "errors": result["errors"], "drain_s": result["stopped"] - result["stopping"],
    }


def tracebacks(log_dir: Path) -> list[str]:
    """Each Traceback in the stack's logs, as "log: the exception's line" (the first unindented line after it)."""
    found = []
    for log in sorted(log_dir.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        for n, line in enumerate(lines):
            if line.startswith("Traceback"):
                last = next((x for x in lines[n + 1:] if x and not x.startswith((" ", "\t"))), "?")
                found.append(f"{log.stem}: {last.strip()[:200]}")
    return found


def keep_logs(log_dir: Path) -> None:
    """A copy of the stack's logs in LOAD_KEEP_LOGS, when set (the temporary folder goes at the end)."""
    if os.environ.get("LOAD_KEEP_LOGS"):
        shutil.copytree(log_dir, Path(os.environ["LOAD_KEEP_LOGS"]) / log_dir.name, dirs_exist_ok=True)


def settings_for(database_url: str):
    action_port, rasa_port = free_port(), free_port()
    return replace(settings_module.load(), database_url=database_url, tracker_database_url=database_url,
                   redis_url=REDIS_URL, rasa_port=rasa_port, action_port=action_port, web_port=free_port(),
                   rasa_public_url=f"http://127.0.0.1:{rasa_port}",
                   action_server_url=f"http://127.0.0.1:{action_port}/webhook", log_level="INFO",
                   rate_per_sender=0, rate_per_address=0)  # 50 people typing fast, measured, not limited


def warm_up(base: str, journeys: int) -> None:
    """Whole journeys at once (one per instance), not measured: each server loads what it loads lazily."""
    def one(_: int) -> None:
        sender = f"warm-{uuid.uuid4().hex[:12]}"
        with requests.Session() as session:
            for message in REPORT_JOURNEY:
                session.post(f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": message},
                             timeout=120).raise_for_status()

    with ThreadPoolExecutor(max_workers=journeys) as pool:
        list(pool.map(one, range(journeys)))


def run_config(tmp: Path, instances: int, users: int, seconds: float) -> dict:
    """One configuration: a fresh schema and stack, warm-up, Locust, figures; everything stopped after."""
    url, drop = new_schema()
    log_dir = tmp / f"load-{instances}"
    stack = Stack(settings_for(url), ensure_model(), log_dir, instances=instances)
    locust_pid: dict[str, int] = {}
    try:
        stack.start()
        warm_up(stack.rasa_url, instances)
        before = cases(url)
        shared = servers()
        sampler = Sampler(lambda: {**stack.pids(), **locust_pid, **shared})
        sampler.start()
        psutil.cpu_percent()  # from here, for the machine's CPU use during the run
        load_avg = os.getloadavg()
        try:
            result = run_locust(stack.rasa_url, users, seconds, log_dir,
                                on_start=lambda pid: locust_pid.update(locust=pid))
        finally:
            processes, sampled = sampler.stop()
        out = summarise(result, {ref: conv for ref, conv in cases(url).items() if ref not in before})
        logged = tracebacks(log_dir)
        ours = {k: p for k, p in processes.items() if k not in shared}
        out.update(instances=instances, processes=processes, load_avg=load_avg, machine_cpu=psutil.cpu_percent(),
                   cores_used=sum(p["cpu_s"] for p in ours.values()) / sampled, tracebacks=len(logged),
                   servers_cores=sum(p["cpu_s"] for k, p in processes.items() if k in shared) / sampled,
                   msgs_per_cpu_s=out["requests"] / max(sum(p["cpu_s"] for p in ours.values()), 1e-9))
        for line in logged:
            out["errors"][f"Traceback in {line}"] = out["errors"].get(f"Traceback in {line}", 0) + 1
        return out
    finally:
        stack.stop()
        keep_logs(log_dir)
        drop()


def unavailable() -> str | None:
    """Why the load test cannot run here (PostgreSQL or Redis not reachable), or None."""
    import redis

    try:
        engine = create_engine(POSTGRES_URL, future=True)
        with engine.connect():
            pass
        engine.dispose()
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001 - any reason is reported as it is
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def figures(tmp: Path, users: int = USERS, seconds: float = SECONDS) -> dict:
    """Both configurations, one then two, in the same run (or why it could not run)."""
    reason = unavailable()
    if reason:
        where = make_url(POSTGRES_URL).render_as_string(hide_password=True)
        return {"skipped": f"PostgreSQL ({where}) or Redis not reachable: {reason}"}
    return {"cores": os.cpu_count(), "users": users, "seconds": seconds,
            "one": run_config(tmp, 1, users, seconds), "two": run_config(tmp, 2, users, seconds)}


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def _rows(one: dict, two: dict) -> list[str]:
    figure = lambda key, fmt: (fmt.format(one[key]), fmt.format(two[key]), _ratio(two[key], one[key]))  # noqa: E731
    pair = lambda a, b: (f"{one[a]} / {one[b]}", f"{two[a]} / {two[b]}", "")  # noqa: E731
    rows = [
        ("messages sent", figure("requests", "{:.0f}")), ("failures", figure("failures", "{:.0f}")),
        ("HTTP 5xx", figure("http_5xx", "{:.0f}")), ("p50 latency per message (ms)", figure("p50", "{:.0f}")),
        ("p95 latency per message (ms)", figure("p95", "{:.0f}")),
        ("p99 latency per message (ms)", figure("p99", "{:.0f}")), ("max latency (ms)", figure("max", "{:.0f}")),
        ("throughput (messages/s)", figure("msgs_per_s", "{:.1f}")),
        ("throughput (journeys/min)", figure("journeys_per_min", "{:.1f}")),
        ("messages per CPU second of the stack and Locust", figure("msgs_per_cpu_s", "{:.1f}")),
        ("journeys started / completed", pair("journeys", "completed")),
        ("p50 journey (s)", figure("journey_p50_s", "{:.1f}")),
        ("cases created / of completed journeys", pair("cases", "cases_of_completed")),
        ("Tracebacks in the stack's logs", figure("tracebacks", "{:.0f}")),
    ]
    return [f"| {label} | {a} | {b} | {r} |" for label, (a, b, r) in rows]


def _memory(one: dict, two: dict) -> list[str]:
    out = ["| process | peak RSS MB | CPU s during the run |", "|---|---:|---:|"]
    for name, f in (("one", one), ("two", two)):
        for label, p in sorted(f["processes"].items()):
            out.append(f"| {name}: {label} | {p['peak_mb']:.0f} | {p['cpu_s']:.0f} |")
    return out


def _verdict(f: dict) -> list[str]:
    one, two = f["one"], f["two"]
    ratio = two["msgs_per_s"] / one["msgs_per_s"] if one["msgs_per_s"] else 0.0
    failed = sum(f[k]["failures"] for k in ("one", "two"))
    broken = sum(f[k]["journeys"] - f[k]["completed"] for k in ("one", "two"))
    logged = one["tracebacks"] + two["tracebacks"]
    met = ratio >= AIM and failed == broken == logged == 0
    lines = [f"- Throughput two / one: **{ratio:.2f}x** (messages/s; journeys/min "
             f"{_ratio(two['journeys_per_min'], one['journeys_per_min'])}). Aim {AIM}x with no errors: "
             f"{'**met**' if met else '**not met**'} (failed messages {failed}, journeys not completed {broken}, "
             f"Tracebacks logged {logged})."]
    other = {k: max(0.0, f[k]["machine_cpu"] / 100 * f["cores"] - f[k]["cores_used"] - f[k]["servers_cores"])
             for k in ("one", "two")}
    lines.append(
        f"- CPU: the stack's processes and Locust used {one['cores_used']:.2f} cores on average with one instance "
        f"and {two['cores_used']:.2f} with two, of the machine's {f['cores']}; PostgreSQL and Redis "
        f"{one['servers_cores']:.2f} and {two['servers_cores']:.2f}; everything else on the machine "
        f"{other['one']:.2f} and {other['two']:.2f}. Per CPU second of the stack and Locust, two instances handled "
        f"{_ratio(two['msgs_per_cpu_s'], one['msgs_per_cpu_s'])} the messages of one: "
        "what running two costs in CPU (nginx, a second Rasa server and action server), whatever the machine's load.")
    if max(other.values()) > QUIET_CORES:
        lines.append(
            f"- The machine was not quiet: other work took {other['one']:.2f} and {other['two']:.2f} cores while the "
            f"stack and Locust got {one['cores_used']:.2f} and {two['cores_used']:.2f}. How much CPU each "
            "configuration happened to get moves the throughput ratio as much as the second instance does: read it "
            "with the messages per CPU second, and compare runs only on a quiet machine.")
    if f["cores"] <= 2:
        lines.append(
            f"- On {f['cores']} cores the two instances share the same CPUs with each other, PostgreSQL, Redis, nginx "
            "and Locust itself: a second instance adds throughput only as far as there is a free core to run it on. "
            f"The {AIM}x aim is for instances with cores (or machines) of their own; "
            f"{'it is met here' if met else 'it is not met here'}, which says little either way.")
    return lines


def _errors(f: dict) -> list[str]:
    found = [f"- {name}: {what} ({n}x)" for name in ("one", "two") for what, n in sorted(f[name]["errors"].items())]
    return ["", "Failures:", "", *found] if found else []


def markdown(f: dict) -> list[str]:
    title = "## Load: one instance against two behind nginx (Locust, same run)"
    if "skipped" in f:
        return [title, "", f"Not run: {f['skipped']} (TEST_POSTGRES_URL and TEST_REDIS_URL name them)."]
    one, two = f["one"], f["two"]
    return [
        title, "",
        f"{f['users']} users for {f['seconds']:.0f} s each (ramp-up included; {one['steady_s']:.0f} s and "
        f"{two['steady_s']:.0f} s with every user running), each looping whole report journeys "
        f"({len(REPORT_JOURNEY)} messages, no pause; each journey a new sender from an address of its own, "
        "X-Forwarded-For, as different people would be) through the REST channel; then each user "
        f"finished its journey (graceful stop: {one['drain_s']:.0f} s and {two['drain_s']:.0f} s). "
        "PostgreSQL (a fresh schema each) and Redis for both. One: a Rasa server and an action server, "
        "the users connecting to Rasa. Two: two of each behind nginx, the users connecting to nginx. "
        f"Machine: {f['cores']} cores; load average at the start {' / '.join(f'{x:.2f}' for x in one['load_avg'])} "
        f"(one) and {' / '.join(f'{x:.2f}' for x in two['load_avg'])} (two).", "",
        "Throughput counts what ended while every user was running, over that time. A journey took "
        f"{one['journey_p50_s']:.0f} s and {two['journey_p50_s']:.0f} s (median), so journeys/min moves in steps of "
        "whole journeys: messages/s is the figure to compare.", "",
        "| | one instance | two instances | two / one |", "|---|---:|---:|---:|",
        *_rows(one, two), "",
        *_verdict(f), "",
        "Peak memory (RSS with children, sampled every 0.5 s during the run) and CPU time of each process "
        "(PostgreSQL and Redis: the whole server, whoever else uses it; PostgreSQL's RSS sums its processes, "
        "so its shared memory is counted once per process):", "",
        *_memory(one, two),
        *_errors(f),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load test: one instance against two behind nginx.")
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    args = parser.parse_args(argv)
    started = datetime.datetime.now()
    with tempfile.TemporaryDirectory(prefix="hcbot-bench-load-") as tmp:
        try:
            text_ = "\n".join(markdown(figures(Path(tmp), args.users, args.seconds))) + "\n"
        except Exception:
            for log in sorted(Path(tmp).rglob("*.log")):
                print(f"--- {log} (tail)\n" + log.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
    out = ROOT / "bench" / "results" / f"load-{started:%Y-%m-%d}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"# Load test — {started:%Y-%m-%d %H:%M}\n\n" + text_)
    print(text_)
    return 0


if __name__ == "__main__":
    sys.exit(main())

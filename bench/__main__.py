"""`python -m bench`: the report journey on the project bot against the bare `rasa init` bot.

Trains both from scratch (timed), serves each in turn on free loopback ports, drives the same
number of turns through the REST channel at concurrency 1 and 10, samples memory, times the
first free officer slots with 200 officers and a month of bookings (bench/booking.py), runs the
load test (bench/load.py: Locust, one instance against two behind nginx), and writes markdown
to bench/results/report-journey-YYYY-MM-DD.md and bench/results/latest.md.
See bench/README.md.
"""
from __future__ import annotations

import datetime
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import psutil
import requests

from bench import booking, channels, languages
from bench import load as load_test
from bench.journeys import BASELINE_JOURNEY, REPORT_JOURNEY
from bot import migrate, settings as settings_module
from bot.model import ensure_model, model_path
from bot.processes import Stack, free_port, stop_process as stop, wait_until_up
from bot.settings import ROOT

RESULTS = ROOT / "bench" / "results"
LEVELS = [(1, 5), (10, 30)]  # (concurrency, conversations)
DONE_MARK = "Your reference is"
AIM = 2.0  # p50 of the project within AIM x the baseline's


def rasa_env(tmp: Path) -> dict[str, str]:
    (tmp / "tmp").mkdir(exist_ok=True)  # Rasa leaves temporary folders behind: keep them inside ours
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore",
               SQLALCHEMY_SILENCE_UBER_WARNING="1", RASA_CACHE_DIRECTORY=str(tmp / "rasa-cache"), TMPDIR=str(tmp / "tmp"))
    env.pop("REDIS_URL", None)  # in-memory lock store for both bots
    return env


def timed_run(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    start = time.monotonic()
    with open(log, "wb") as out:
        subprocess.run(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=True, timeout=900)
    return time.monotonic() - start


class LoopbackStack(Stack):
    """The project's Stack, with the Rasa server bound to 127.0.0.1 only."""

    def definitions(self):
        return [replace(p, argv=p.argv + ["--interface", "127.0.0.1"]) if p.name == "rasa" else p
                for p in super().definitions()]


class MemorySampler(threading.Thread):
    """Peak RSS (with child processes) of named pids, every 0.2 s until stopped."""

    def __init__(self, pids) -> None:  # pids: callable returning {label: pid}
        super().__init__(daemon=True)
        self.pids, self.peak, self.halt = pids, {}, threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.2):
            try:
                pids = dict(self.pids())
            except RuntimeError:  # the dict of processes changed while being read
                continue
            for label, pid in pids.items():
                try:
                    proc = psutil.Process(pid)
                    rss = sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
                except psutil.Error:
                    continue
                self.peak[label] = max(self.peak.get(label, 0), rss / 2**20)

    def stop(self) -> dict[str, float]:
        self.halt.set()
        self.join()
        return self.peak


def conversation(session: requests.Session, base: str, journey: list[str]) -> tuple[list[float], int, str]:
    """One conversation, a turn at a time: (latencies in ms, errors, text of the last reply)."""
    sender, latencies, errors, last = f"bench-{uuid.uuid4().hex[:12]}", [], 0, ""
    for text in journey:
        start = time.perf_counter()
        try:
            response = session.post(f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60)
            ok = response.status_code == 200
            last = " ".join(m.get("text", "") for m in response.json()) if ok else ""
        except (requests.RequestException, ValueError):
            ok, last = False, ""
        latencies.append((time.perf_counter() - start) * 1000)
        errors += not ok
    return latencies, errors, last


def load(base: str, journey: list[str], concurrency: int, conversations: int) -> dict:
    local = threading.local()

    def one(_: int):
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return conversation(local.session, base, journey)

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(conversations)))
    wall = time.monotonic() - start
    latencies = sorted(ms for lat, _, _ in results for ms in lat)
    pct = lambda p: latencies[max(0, math.ceil(p / 100 * len(latencies)) - 1)]  # noqa: E731 (nearest rank)
    return {"conversations": conversations, "turns": len(latencies), "p50": pct(50), "p95": pct(95),
            "max": latencies[-1], "tps": len(latencies) / wall, "errors": sum(e for _, e, _ in results),
            "done": sum(DONE_MARK in last for _, _, last in results)}


def drive(base: str, journey: list[str]) -> tuple[dict, str]:
    """Warm-up conversation (its last reply returned), then each concurrency level."""
    _, _, warm_last = conversation(requests.Session(), base, journey)
    return {c: load(base, journey, c, n) for c, n in LEVELS}, warm_last


def run_baseline(tmp: Path) -> dict:
    bot_dir, env = tmp / "moodbot", rasa_env(tmp)
    bot_dir.mkdir()
    train = timed_run([sys.executable, "-m", "rasa", "init", "--no-prompt"], bot_dir, env, tmp / "baseline-init.log")
    port = free_port()
    with open(tmp / "baseline-run.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "rasa", "run", "--enable-api", "--interface", "127.0.0.1",
                                 "--port", str(port)], cwd=bot_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    sampler = MemorySampler(lambda: {"baseline Rasa server": proc.pid})
    sampler.start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/", time.monotonic() + 240, proc, name="baseline Rasa server")
        levels, _ = drive(base, BASELINE_JOURNEY)
    finally:
        stop(proc)
        memory = sampler.stop()
    return {"train": train, "levels": levels, "memory": memory}


def run_project(tmp: Path) -> dict:
    out, cached = tmp / "project-model", model_path()
    train = timed_run([sys.executable, "-m", "rasa", "train", "--config", "config.yml", "--domain", "domain.yml",
                       "--data", "data", "--out", str(out), "--fixed-model-name", "bench"],
                      ROOT, dict(rasa_env(tmp), PYTHONPATH=str(ROOT)), tmp / "project-train.log")
    if not cached.exists() and model_path() == cached:  # inputs unchanged: spare ensure_model() a second training
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f"tmp-bench-{os.getpid()}.tar.gz")
        shutil.copy(out / "bench.tar.gz", partial)
        os.replace(partial, cached)
    database_url = f"sqlite:///{tmp}/cases.db"
    migrate.upgrade(database_url)
    action_port, rasa_port = free_port(), free_port()
    settings = replace(settings_module.load(), database_url=database_url, tracker_database_url=f"sqlite:///{tmp}/tracker.db",
                       redis_url="", rasa_port=rasa_port, action_port=action_port,
                       rasa_public_url=f"http://127.0.0.1:{rasa_port}",
                       action_server_url=f"http://127.0.0.1:{action_port}/webhook")
    stack = LoopbackStack(settings, ensure_model(), tmp / "logs")
    stack.env.pop("REDIS_URL", None)
    stack.env["TMPDIR"] = rasa_env(tmp)["TMPDIR"]
    labels = {"rasa": "project Rasa server", "actions": "project action server"}
    sampler = MemorySampler(lambda: {labels[k]: v for k, v in stack.pids().items()})
    sampler.start()
    try:
        stack.start()
        levels, warm_last = drive(stack.rasa_url, REPORT_JOURNEY)
    finally:
        stack.stop()
        memory = sampler.stop()
    return {"train": train, "levels": levels, "memory": memory, "warm_last": warm_last}


def report(base: dict, proj: dict, started: datetime.datetime, elapsed: float, load_avg: tuple) -> str:
    ratio = lambda a, b: f"{a / b:.2f}x" if b else "n/a"  # noqa: E731
    lines = [
        f"# Report journey vs bare `rasa init` bot — {started:%Y-%m-%d %H:%M}",
        "",
        f"- Machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}, "
        f"rasa {version('rasa')}, rasa-sdk {version('rasa-sdk')}",
        f"- Load average at start: {' / '.join(f'{x:.2f}' for x in load_avg)} (1/5/15 min); whole run {elapsed / 60:.1f} min",
        f"- Journeys: {len(REPORT_JOURNEY)} turns per conversation for both bots (bench/journeys.py); "
        "REST channel, one message at a time, each waiting for its reply; one warm-up conversation first",
        "",
    ]
    for c, n in LEVELS:
        b, p = base["levels"][c], proj["levels"][c]
        lines += [
            f"## Concurrency {c} ({n} conversations, {c} at a time)",
            "",
            "| | baseline (moodbot) | project | project / baseline |",
            "|---|---:|---:|---:|",
            f"| turns | {b['turns']} | {p['turns']} | |",
            f"| p50 latency (ms) | {b['p50']:.0f} | {p['p50']:.0f} | {ratio(p['p50'], b['p50'])} |",
            f"| p95 latency (ms) | {b['p95']:.0f} | {p['p95']:.0f} | {ratio(p['p95'], b['p95'])} |",
            f"| max latency (ms) | {b['max']:.0f} | {p['max']:.0f} | {ratio(p['max'], b['max'])} |",
            f"| throughput (turns/s) | {b['tps']:.1f} | {p['tps']:.1f} | {ratio(p['tps'], b['tps'])} |",
            f"| errors (non-200 or exception) | {b['errors']} | {p['errors']} | |",
            f"| conversations reaching \"{DONE_MARK}\" | n/a | {p['done']}/{n} | |",
            "",
        ]
    lines += ["## Aim: p50 within 2x the bare baseline", ""]
    for c, _ in LEVELS:
        r = proj["levels"][c]["p50"] / base["levels"][c]["p50"]
        lines.append(f"- Concurrency {c}: {'**met**' if r <= AIM else '**not met**'} ({r:.2f}x)")
    lines += ["", "## Training time (from scratch, empty Rasa cache)", "",
              "| bot | seconds |", "|---|---:|",
              f"| baseline (`rasa init --no-prompt`, scaffold + train) | {base['train']:.0f} |",
              f"| project (`rasa train`) | {proj['train']:.0f} |",
              "", "## Peak memory (RSS incl. child processes, sampled every 0.2 s from start-up to stop)", "",
              "| process | peak MB |", "|---|---:|"]
    for label, mb in {**base["memory"], **proj["memory"]}.items():
        lines.append(f"| {label} | {mb:.0f} |")
    if proj.get("languages"):
        lines += [""] + languages.markdown(proj["languages"], proj["train"], proj["english_only"])
    if proj.get("offers"):
        lines += [""] + booking.markdown(proj["offers"])
    if proj.get("channels"):
        lines += [""] + channels.markdown(proj["channels"])
    if proj.get("load"):
        lines += [""] + load_test.markdown(proj["load"])
    return "\n".join(lines) + "\n"


def main() -> int:
    started, t0, load_avg = datetime.datetime.now(), time.monotonic(), os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="hcbot-bench-"))
    try:
        print("Baseline: rasa init, serve, load ...", flush=True)
        base = run_baseline(tmp)
        print("Project: train, serve, load ...", flush=True)
        proj = run_project(tmp)
        env = dict(rasa_env(tmp), PYTHONPATH=str(ROOT))
        print("Project: each language's held-out messages and danger sets ...", flush=True)
        proj["languages"] = languages.parse_figures(ensure_model(), env)
        print("English-only model (before issue 5): train and measure ...", flush=True)
        proj["english_only"] = languages.english_only(tmp, env, timed_run)
        print("Project: first free officer slots ...", flush=True)
        proj["offers"] = booking.offers_figures(tmp)
        print("Project: the SMS channel against the REST channel ...", flush=True)
        proj["channels"] = channels.figures(tmp)
        print(f"Project: load test, one instance against two behind nginx ({load_test.USERS} users, "
              f"{load_test.SECONDS:.0f} s each) ...", flush=True)
        proj["load"] = load_test.figures(tmp)
    except Exception:
        for log in sorted(tmp.rglob("*.log")):
            print(f"--- {log.name} (tail)\n" + log.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if proj["levels"][1]["done"] == 0:
        print(f"Warning: the warm-up's last reply was: {proj['warm_last']!r}", file=sys.stderr)
    text = report(base, proj, started, time.monotonic() - t0, load_avg)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"report-journey-{started:%Y-%m-%d}.md").write_text(text)
    (RESULTS / "latest.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

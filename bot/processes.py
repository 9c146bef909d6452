"""The processes the bot needs, as commands: used by `make run` and by the tests alike."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.settings import ROOT, Settings


@dataclass(frozen=True)
class Proc:
    name: str
    argv: list[str]
    health_url: str | None  # None: nothing to poll (a worker without a port)


def environment(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
            "DATABASE_URL": settings.database_url,
            "TRACKER_DATABASE_URL": settings.tracker_database_url,
            "ACTION_SERVER_URL": settings.action_server_url,
            "RASA_PORT": str(settings.rasa_port),
            "ACTION_PORT": str(settings.action_port),
            "WEB_PORT": str(settings.web_port),
            "RASA_PUBLIC_URL": settings.rasa_public_url,
            "RASA_AUTH_TOKEN": settings.rasa_auth_token,
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "RASA_TELEMETRY_ENABLED": "false",
            "PYTHONWARNINGS": "ignore",
            # Rasa and rasa-sdk read LOG_LEVEL. Above INFO nothing of what people write is logged;
            # DEBUG would log message text, so it is for development on test data only.
            "LOG_LEVEL": settings.log_level,
        }
    )
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    # Every setting read by its own name (bot/settings.py: the ones with defaults), as given.
    from bot.settings import env_names

    for name, value in env_names(settings).items():
        env[name] = str(value)
    env.update(extra or {})
    return env


def rasa_server(settings: Settings, model: Path, port: int | None = None, name: str = "rasa") -> Proc:
    port = port or settings.rasa_port
    return Proc(
        name,
        [
            sys.executable, "-m", "rasa", "run",
            "--model", str(model),
            "--port", str(port),
            "--enable-api", "--auth-token", settings.rasa_auth_token,
            "--endpoints", str(ROOT / "endpoints.yml"),
            "--credentials", str(ROOT / "credentials.yml"),
        ],
        f"http://127.0.0.1:{port}/",
    )


def action_server(settings: Settings, port: int | None = None, name: str = "actions") -> Proc:
    port = port or settings.action_port
    return Proc(
        name,
        [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
        f"http://127.0.0.1:{port}/health",
    )


def web_server(settings: Settings) -> Proc:
    return Proc("web", [sys.executable, "-m", "bot", "web"], f"http://127.0.0.1:{settings.web_port}/health")


def outbox_worker(settings: Settings) -> Proc:
    return Proc("outbox", [sys.executable, "-m", "bot", "outbox"], None)


def nginx(conf: Path, port: int) -> Proc:
    """The load balancer of the production profile (Debian's nginx), in the foreground."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    return Proc("nginx", [binary, "-p", str(conf.parent), "-c", str(conf), "-g", "daemon off;"],
                f"http://127.0.0.1:{port}/nginx-health")


def wait_until_up(url: str, deadline: float, process: "subprocess.Popen | None" = None, name: str = "") -> None:
    """Poll ``url`` until it answers; raise if ``process`` exits first or ``deadline`` (monotonic) passes."""
    import time
    import urllib.request

    name = name or url
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{name} exited early (exit code {process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not come up in time")
            time.sleep(0.5)


def stop_process(process: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM, then SIGKILL if it has not gone after ``grace`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """Starts the real action server and Rasa server (and optionally the web server and the
    outbox worker) as child processes with their output in log files; used by the tests and
    the benchmarks. With ``instances`` > 1 it is the production profile (bot/production.py):
    that many Rasa servers and action servers behind nginx, which listens on the settings'
    Rasa and action ports."""

    def __init__(self, settings: Settings, model: Path, log_dir: Path, web: bool = False, outbox: bool = False,
                 instances: int = 1) -> None:
        self.settings = settings
        self.model = model
        self.log_dir = log_dir
        self.with_web = web
        self.with_outbox = outbox
        self.instances = instances
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = environment(settings)
        self.deployment = None
        if instances > 1:
            from bot.production import Deployment

            self.deployment = Deployment.plan(settings, log_dir / "nginx", instances, ports=[free_port() for _ in
                                                                                         range(2 * instances)])

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.rasa_port}"

    def definitions(self) -> list[Proc]:
        if self.deployment is not None:
            procs = self.deployment.procs(self.settings, self.model)
        else:
            procs = [action_server(self.settings), rasa_server(self.settings, self.model)]
        if self.with_web:
            procs.append(web_server(self.settings))
        if self.with_outbox:
            procs.append(outbox_worker(self.settings))
        return procs

    def start(self, only: str | None = None, timeout: float = 240) -> "Stack":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        started = []
        for proc in self.definitions():
            if only and proc.name != only:
                continue
            log = open(self.log_dir / f"{proc.name}.log", "ab")
            self.procs[proc.name] = subprocess.Popen(proc.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            started.append(proc)
        try:
            self.wait_ready(started, timeout)
        except BaseException:
            self.stop()  # never leave half a stack running
            raise
        return self

    def wait_ready(self, procs: list[Proc], timeout: float) -> None:
        import time

        deadline = time.monotonic() + timeout
        for proc in procs:
            if proc.health_url is None:
                continue
            log = self.log_dir / f"{proc.name}.log"
            wait_until_up(proc.health_url, deadline, self.procs[proc.name], name=f"{proc.name} (log: {log})")

    def stop(self, only: str | None = None) -> None:
        for name, popen in list(self.procs.items()):
            if only and name != only:
                continue
            stop_process(popen)
            del self.procs[name]

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.procs.items()}

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))

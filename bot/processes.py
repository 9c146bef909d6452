"""The processes the bot needs, as commands: used by `make run` and by the tests alike."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.settings import ROOT, Settings


@dataclass(frozen=True)
class Proc:
    name: str
    argv: list[str]
    health_url: str


def environment(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
            "DATABASE_URL": settings.database_url,
            "TRACKER_DATABASE_URL": settings.tracker_database_url,
            "ACTION_SERVER_URL": settings.action_server_url,
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
    env.update(extra or {})
    return env


def rasa_server(settings: Settings, model: Path) -> Proc:
    return Proc(
        "rasa",
        [
            sys.executable, "-m", "rasa", "run",
            "--model", str(model),
            "--port", str(settings.rasa_port),
            "--enable-api", "--auth-token", settings.rasa_auth_token,
            "--cors", "*",
            "--endpoints", str(ROOT / "endpoints.yml"),
            "--credentials", str(ROOT / "credentials.yml"),
        ],
        f"http://127.0.0.1:{settings.rasa_port}/",
    )


def action_server(settings: Settings) -> Proc:
    return Proc(
        "actions",
        [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(settings.action_port)],
        f"http://127.0.0.1:{settings.action_port}/health",
    )


def web_server(settings: Settings) -> Proc:
    return Proc("web", [sys.executable, "-m", "bot", "web"], f"http://127.0.0.1:{settings.web_port}/health")

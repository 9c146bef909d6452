"""Every setting, read from the environment, with the development defaults.

README.md lists each of these; ``.env.example`` has them all.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"

DEV_AUTH_TOKEN = "dev-only-token-change-me"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _str(name: str, default: str) -> str:
    raw = os.environ.get(name, "").strip()
    return raw or default


def tracker_url_for(database_url: str) -> str:
    """The tracker store uses the same kind of store as the cases.

    With SQLite, a file of its own beside the case database (two processes
    writing one SQLite file would lock each other out); with PostgreSQL, the
    same database.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        path = Path(url.database)
        return str(url.set(database=str(path.with_name("tracker.db"))))
    return database_url


@dataclass(frozen=True)
class Settings:
    database_url: str
    tracker_database_url: str
    redis_url: str
    rasa_port: int
    action_port: int
    web_port: int
    rasa_public_url: str
    action_server_url: str
    rasa_auth_token: str
    log_level: str
    first_contact_hours: int
    graffiti_removal_hours: int
    emergency_repair_hours: int
    review_months: int
    timezone: str


def load() -> Settings:
    database_url = _str("DATABASE_URL", f"sqlite:///{VAR / 'cases.db'}")
    rasa_port = _int("RASA_PORT", 5005)
    action_port = _int("ACTION_PORT", 5055)
    return Settings(
        database_url=database_url,
        tracker_database_url=_str("TRACKER_DATABASE_URL", tracker_url_for(database_url)),
        redis_url=_str("REDIS_URL", ""),
        rasa_port=rasa_port,
        action_port=action_port,
        web_port=_int("WEB_PORT", 8000),
        rasa_public_url=_str("RASA_PUBLIC_URL", f"http://localhost:{rasa_port}"),
        action_server_url=_str("ACTION_SERVER_URL", f"http://localhost:{action_port}/webhook"),
        rasa_auth_token=_str("RASA_AUTH_TOKEN", DEV_AUTH_TOKEN),
        log_level=_str("LOG_LEVEL", "INFO").upper(),
        first_contact_hours=_int("FIRST_CONTACT_HOURS", 24),
        graffiti_removal_hours=_int("GRAFFITI_REMOVAL_HOURS", 24),
        emergency_repair_hours=_int("EMERGENCY_REPAIR_HOURS", 4),
        review_months=_int("REVIEW_MONTHS", 3),
        timezone=_str("SERVICE_TIMEZONE", "Europe/London"),
    )

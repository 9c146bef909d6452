"""Every setting, read from the environment, with the development defaults.

README.md lists each of these; ``.env.example`` has them all.
"""
from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, fields
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
    # Where notifications go: "<transport>:<recipient>", transport sms | whatsapp | email | log.
    on_call_contact: str = "log:on-call"
    police_contact: str = "log:police-referrals"
    local_authority_contact: str = "log:local-authority-housing"
    safeguarding_contact: str = "log:safeguarding"
    housing_team_contact: str = "log:housing-team"
    repairs_contact: str = "log:repairs"
    # Sending (bot/outbox.py).
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_sms_number: str = ""
    twilio_whatsapp_number: str = ""
    twilio_api_base: str = "https://api.twilio.com"
    smtp_url: str = ""
    mail_from: str = "hate-crime-reports@localhost"
    outbox_max_attempts: int = 15
    outbox_poll_seconds: float = 2.0
    # Officer calls (bot/booking/).
    office_hours: str = "mon-fri 09:00-17:00"  # service hours, local time: "mon-fri 09:00-17:00; sat 10:00-13:00"
    bank_holidays: str = "england-wales"  # england-wales | scotland | northern-ireland
    slot_minutes: int = 30  # the grid calls start on
    call_minutes: int = 30  # length of a call (at most one slot)
    min_notice_minutes: int = 60  # the soonest a call may be offered
    booking_horizon_days: int = 14  # how far ahead calls are offered
    reminder_hours: int = 2  # a reminder text this long before the call (only where allowed)
    # Channels (bot/channels/, bot/rasa_ext/webchat.py, bot/rasa_ext/twilio_channel.py).
    session_secret: str = ""  # signs web chat sessions; empty: a development secret kept in var/
    web_session_hours: int = 24  # how long a web chat token can resume its conversation
    widget_origins: str = ""  # pages allowed to open the chat (comma-separated); empty: the demo page's
    twilio_webhook_url: str = ""  # the public URL Twilio posts to (the signature covers it)
    twilio_whatsapp_template_sid: str = ""  # approved WhatsApp template for replies after 24 hours
    max_message_chars: int = 2000  # a longer message gets a kind answer, not an error
    evidence_max_bytes: int = 10_000_000  # the largest photo or file kept as evidence
    # The partner API (bot/web/api.py): "name:token" pairs, comma-separated; empty: every request refused.
    api_tokens: str = ""
    # The production profile (`make run-prod`, bot/production.py): Rasa and action servers behind nginx,
    # which listens on RASA_PORT at PUBLIC_HOST (0.0.0.0 to take outside traffic without another proxy).
    rasa_instances: int = 2
    public_host: str = "127.0.0.1"
    # Rate limits (bot/ratelimit.py): messages per RATE_WINDOW_SECONDS from one sender (a conversation, a web chat
    # session, a phone number) and from one client address; 0: no limit. Over one: a kind message with the 999 line
    # (texts are still stored and read, only replies are held back). Counted in Redis when REDIS_URL is set.
    rate_per_sender: int = 30
    rate_per_address: int = 120
    rate_window_seconds: int = 60
    # Peers whose X-Forwarded-For names the client (comma-separated addresses or networks): nginx on loopback.
    trusted_proxies: str = "127.0.0.1,::1"
    # Retention (bot/console/privacy.py): closed cases are anonymised this many days after closing;
    # 6 years by default, the Limitation Act period for civil claims. Env RETENTION_DAYS.
    retention_days: int = 2190
    # Encryption at rest (bot/crypto.py): comma-separated Fernet keys, newest first; new values use the first,
    # any of them decrypts. Empty: a development key kept in var/data.key. Env DATA_KEYS.
    data_keys: str = ""


# Settings read as given, then tidied (the bank-holiday region is a lower-case name).
_TIDY = {"bank_holidays": str.lower}


def _with_defaults() -> dict:
    """Each setting whose default is in ``Settings``, from the environment variable of its name in
    capitals (``ON_CALL_CONTACT``...), read as its default's type; the default when unset."""
    values = {}
    for field in fields(Settings):
        if field.default is MISSING:
            continue
        raw = os.environ.get(field.name.upper(), "").strip()
        value = type(field.default)(raw) if raw else field.default
        values[field.name] = _TIDY.get(field.name, lambda v: v)(value)
    return values


def env_names(settings: Settings) -> dict[str, object]:
    """The settings read from the environment variable of their own name, with their values:
    what child processes are given so they read the same settings."""
    return {f.name.upper(): getattr(settings, f.name) for f in fields(Settings) if f.default is not MISSING}


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
        **_with_defaults(),
    )

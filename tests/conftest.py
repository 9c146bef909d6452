"""Shared fixtures: real databases (a fresh SQLite file and a fresh PostgreSQL schema)."""
from __future__ import annotations

import os
import uuid
from dataclasses import replace

import pytest
from sqlalchemy import create_engine, text

from bot import migrate, settings as settings_module
from bot.db import engine_for, session_factory

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def new_postgres_schema() -> tuple[str, callable]:
    """A PostgreSQL schema of its own (so runs never see each other's rows), and how to drop it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, future=True)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop():
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}", drop


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A migrated, empty case database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cases.db'}"
        migrate.upgrade(url)
        yield url
        engine_for(url).dispose()
        return
    url, drop = new_postgres_schema()
    migrate.upgrade(url)
    yield url
    engine_for(url).dispose()  # each test's schema has its own pool: give its connections back
    drop()


@pytest.fixture
def factory(database_url):
    return session_factory(database_url)


@pytest.fixture
def settings(database_url):
    return replace(settings_module.load(), database_url=database_url)


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/3")


@pytest.fixture(scope="session")
def fake_twilio():
    """Twilio's REST API, faked on loopback (tests/fake_twilio.py); every stack sends through it."""
    from tests.fake_twilio import FakeTwilio

    fake = FakeTwilio().start()
    yield fake
    fake.stop()


TEST_SMS_NUMBER = "+447700900100"
TEST_WHATSAPP_NUMBER = "+447700900200"
TEST_WHATSAPP_TEMPLATE = "HX" + "1" * 32


def _stack(tmp, db_url: str, tracker_url: str, redis_url: str, twilio, instances: int = 1, **overrides):
    from bot.model import ensure_model
    from bot.processes import Stack, free_port
    from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN

    migrate.upgrade(db_url)
    action_port, rasa_port, web_port = free_port(), free_port(), free_port()
    config = replace(
        settings_module.load(),
        database_url=db_url,
        tracker_database_url=tracker_url,
        redis_url=redis_url,
        rasa_port=rasa_port,
        action_port=action_port,
        web_port=web_port,
        rasa_public_url=f"http://127.0.0.1:{rasa_port}",
        action_server_url=f"http://127.0.0.1:{action_port}/webhook",
        rasa_auth_token="test-token",
        log_level="INFO",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_sms_number=TEST_SMS_NUMBER,
        twilio_whatsapp_number=TEST_WHATSAPP_NUMBER,
        twilio_api_base=twilio.url,
        twilio_webhook_url=f"http://127.0.0.1:{rasa_port}/webhooks/twilio/webhook",
        twilio_whatsapp_template_sid=TEST_WHATSAPP_TEMPLATE,
        session_secret="test-session-secret",
        outbox_poll_seconds=0.3,
        # Tests type far faster than people, all from 127.0.0.1: limits counted but never reached
        # (tests/test_limits.py starts stacks with low ones).
        rate_per_sender=10_000,
        rate_per_address=10_000,
    )
    config = replace(config, **overrides)
    return Stack(config, ensure_model(), tmp / "logs", web=True, outbox=True, instances=instances).start()


@pytest.fixture(scope="session")
def sqlite_stack(tmp_path_factory, fake_twilio):
    """The real action, Rasa and web servers on the embedded default: SQLite files, in-memory locks."""
    tmp = tmp_path_factory.mktemp("sqlite-stack")
    running = _stack(tmp, f"sqlite:///{tmp / 'cases.db'}", f"sqlite:///{tmp / 'tracker.db'}", "", fake_twilio)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def postgres_stack(tmp_path_factory, fake_twilio):
    """The same on production's parts: PostgreSQL for cases and trackers, Redis for locks."""
    tmp = tmp_path_factory.mktemp("postgres-stack")
    url, drop = new_postgres_schema()
    running = _stack(tmp, url, url, REDIS_URL, fake_twilio)
    yield running
    running.stop()
    drop()


@pytest.fixture(scope="session")
def production_stack(tmp_path_factory, fake_twilio):
    """The production profile (bot/production.py): two Rasa servers and two action servers behind nginx,
    on a PostgreSQL schema of its own and Redis, with the web process and the outbox worker."""
    tmp = tmp_path_factory.mktemp("production")
    url, drop = new_postgres_schema()
    running = _stack(tmp, url, url, REDIS_URL, fake_twilio, instances=2)
    yield running
    running.stop()
    drop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request):
    """The whole stack on the embedded SQLite database, then on PostgreSQL with the Redis lock store."""
    return request.getfixturevalue(f"{request.param}_stack")


@pytest.fixture
def case_db(tmp_path, monkeypatch):
    """A migrated SQLite case database, named in DATABASE_URL as the action server would see it."""
    from bot import migrate

    url = f"sqlite:///{tmp_path / 'cases.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    return url

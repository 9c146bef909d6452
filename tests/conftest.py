"""Shared fixtures: real databases (a fresh SQLite file and a fresh PostgreSQL schema)."""
from __future__ import annotations

import os
import uuid
from dataclasses import replace

import pytest
from sqlalchemy import create_engine, text

from bot import migrate, settings as settings_module
from bot.db import session_factory

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_schema_url():
    """A PostgreSQL schema of its own for this test run, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, future=True)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def url_for(search_path: str = schema) -> str:
        return f"{POSTGRES_URL}?options=-csearch_path%3D{search_path}"

    yield url_for
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def new_postgres_schema(base_url_fn) -> tuple[str, callable]:
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
        return
    url, drop = new_postgres_schema(None)
    migrate.upgrade(url)
    yield url
    drop()


@pytest.fixture
def factory(database_url):
    return session_factory(database_url)


@pytest.fixture
def settings(database_url):
    return replace(settings_module.load(), database_url=database_url)

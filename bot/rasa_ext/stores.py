"""Tracker and lock stores configured from the environment (see bot/settings.py).

- ``UrlSQLTrackerStore``: Rasa's SQL tracker store on TRACKER_DATABASE_URL
  (default: ``var/tracker.db`` beside the case database, or the same
  PostgreSQL database), so a restart never loses a conversation.
- ``EnvLockStore``: Redis when REDIS_URL is set (several Rasa instances; an
  atomic lock store, bot/rasa_ext/locks.py), otherwise in memory (one instance).
"""
from __future__ import annotations

from typing import Any, Optional

from rasa.core.lock_store import InMemoryLockStore, LockStore
from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy.engine import make_url

from bot import settings
from bot.db import make_engine, use_sqlite_pragmas
from bot.rasa_ext import speedups
from bot.rasa_ext.locks import AtomicRedisLockStore

speedups.apply()  # the Rasa server imports this module (endpoints.yml) before serving


class UrlSQLTrackerStore(SQLTrackerStore):
    def __init__(self, domain=None, event_broker=None, url: Optional[str] = None, **_: Any) -> None:
        parsed = make_url(url or settings.load().tracker_database_url)
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            make_engine(str(parsed)).dispose()  # creates var/ if needed
        super().__init__(
            domain=domain,
            dialect=parsed.drivername,
            host=parsed.host,
            port=parsed.port,
            db=parsed.database,
            username=parsed.username,
            password=parsed.password,
            query=dict(parsed.query) or None,
            event_broker=event_broker,
        )
        if parsed.get_backend_name() == "sqlite":
            use_sqlite_pragmas(self.engine)


class EnvLockStore:
    """Factory Rasa calls as ``EnvLockStore(endpoint_config=...)``; returns the store the environment asks for:
    the atomic Redis lock store (bot/rasa_ext/locks.py) when REDIS_URL is set, else one in memory."""

    def __new__(cls, endpoint_config: Any = None) -> LockStore:  # type: ignore[misc]
        redis_url = settings.load().redis_url
        if not redis_url:
            return InMemoryLockStore()
        return AtomicRedisLockStore.from_url(redis_url)

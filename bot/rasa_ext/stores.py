"""Tracker and lock stores configured from the environment (see bot/settings.py).

- ``UrlSQLTrackerStore``: Rasa's SQL tracker store on TRACKER_DATABASE_URL
  (default: ``var/tracker.db`` beside the case database, or the same
  PostgreSQL database), so a restart never loses a conversation. Each event's
  ``data`` (what was said, slots, parse data) is stored encrypted (bot/crypto.py).
- ``EnvLockStore``: Redis when REDIS_URL is set (several Rasa instances; an
  atomic lock store, bot/rasa_ext/locks.py), otherwise in memory (one instance).
"""
from __future__ import annotations

from typing import Any, Optional

import sqlalchemy as sa
from rasa.core.lock_store import InMemoryLockStore, LockStore
from rasa.core.tracker_store import SQLTrackerStore, _create_sequence
from sqlalchemy.engine import make_url
from sqlalchemy.orm import declarative_base

from bot import settings
from bot.db import make_engine, use_sqlite_pragmas
from bot.models import EncryptedText
from bot.rasa_ext import speedups
from bot.rasa_ext.locks import AtomicRedisLockStore

speedups.apply()  # the Rasa server imports this module (endpoints.yml) before serving


class UrlSQLTrackerStore(SQLTrackerStore):
    """Rasa's store with its own ``events`` table mapping, the same schema as Rasa's except that
    ``data`` is ``EncryptedText``: Rasa's ``save`` encrypts each event as it adds the row, and
    ``_retrieve`` gets it decrypted to ``json.loads``, with no Rasa method overridden. Rows written
    before encryption (plain JSON) still read. ``type_name``, ``intent_name`` and ``action_name``
    stay in clear: names from the domain, not what anyone wrote."""

    Base = declarative_base()

    class SQLEvent(Base):
        __tablename__ = "events"

        id = sa.Column(sa.Integer, _create_sequence(__tablename__), primary_key=True)
        sender_id = sa.Column(sa.String(255), nullable=False, index=True)
        type_name = sa.Column(sa.String(255), nullable=False)
        timestamp = sa.Column(sa.Float)
        intent_name = sa.Column(sa.String(255))
        action_name = sa.Column(sa.String(255))
        data = sa.Column(EncryptedText)

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

"""The tracker store, carried through a database outage (production: PostgreSQL and Redis).

When the tracker store's database is down, Rasa 3.6 (its FailSafeTrackerStore) reads every
conversation as new and keeps what is said in the process's memory, never to be written: a person
half-way through a report would be greeted again, and what they say until the database is back
would be lost.

With REDIS_URL set, this store keeps, beside every conversation it writes, a copy of the latest
state in Redis (for an hour after its last message, encrypted like the tracker store when keys are
set up). While the database is away a conversation is read from that copy and written only there,
marked waiting; a task writes the waiting ones to the database as soon as it is back (only the events
it does not have: Rasa's own ``save`` appends the rest), then clears the mark. Any Rasa server can
carry on any conversation all the while, since Redis is shared.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any, Optional, Text

from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from sqlalchemy.exc import DBAPIError, OperationalError

from bot import settings as settings_module
from bot.rasa_ext.stores import UrlSQLTrackerStore

logger = logging.getLogger(__name__)

KEEP_SECONDS = 3600  # a conversation's copy lives this long after its last message
FLUSH_SECONDS = 2.0
DOWN = (OperationalError, DBAPIError, ConnectionError, OSError)


class _Copies:
    """The conversations' latest states in Redis, and which of them wait to be written."""

    def __init__(self, redis_url: str, tracker_url: str) -> None:
        import redis

        self.red = redis.Redis.from_url(redis_url, socket_timeout=5)
        base = "hcbot:trackers:" + hashlib.sha256(tracker_url.encode()).hexdigest()[:16]
        self.copy, self.waiting = base + ":copy:", base + ":waiting"

    @staticmethod
    def _seal(text: str) -> bytes:
        try:
            from bot.crypto import encrypt_text

            return encrypt_text(text).encode()
        except ImportError:
            return text.encode()

    @staticmethod
    def _open(raw: bytes) -> str:
        text = raw.decode()
        try:
            from bot.crypto import decrypt_text

            return decrypt_text(text)
        except ImportError:
            return text

    def keep(self, tracker: DialogueStateTracker, waiting: bool) -> None:
        state = json.dumps(tracker.current_state(EventVerbosity.ALL)["events"])
        pipe = self.red.pipeline(transaction=True)
        pipe.set(self.copy + tracker.sender_id, self._seal(state), ex=KEEP_SECONDS)
        if waiting:
            pipe.sadd(self.waiting, tracker.sender_id)
        pipe.execute()

    def events(self, sender_id: str) -> Optional[list]:
        raw = self.red.get(self.copy + sender_id)
        return json.loads(self._open(raw)) if raw else None

    def is_waiting(self, sender_id: str) -> bool:
        return bool(self.red.sismember(self.waiting, sender_id))

    def all_waiting(self) -> list[str]:
        return [m.decode() if isinstance(m, bytes) else m for m in self.red.smembers(self.waiting)]

    def written(self, sender_id: str) -> None:
        self.red.srem(self.waiting, sender_id)


class ResilientSQLTrackerStore(UrlSQLTrackerStore):
    def __init__(self, domain=None, event_broker=None, url: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(domain=domain, event_broker=event_broker, url=url, **kwargs)
        settings = settings_module.load()
        self.copies = _Copies(settings.redis_url, url or settings.tracker_database_url) if settings.redis_url else None
        self._flusher: Optional[asyncio.Task] = None

    def _from_copy(self, sender_id: str) -> Optional[DialogueStateTracker]:
        events = self.copies.events(sender_id) if self.copies else None
        if events is None:
            return None
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)

    async def save(self, tracker: DialogueStateTracker) -> None:
        if self.copies is None:
            return await super().save(tracker)
        waiting = await asyncio.to_thread(self.copies.is_waiting, tracker.sender_id)
        if not waiting:
            try:
                await super().save(tracker)
            except DOWN as exc:
                logger.error("the tracker store is down (%s); the conversation is kept in Redis until it is back",
                             type(exc).__name__)
                waiting = True
        await asyncio.to_thread(self.copies.keep, tracker, waiting)
        if waiting:
            self._start_flusher()

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return await self._read(sender_id, super().retrieve)

    async def retrieve_full_tracker(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return await self._read(sender_id, super().retrieve_full_tracker)

    async def _read(self, sender_id: Text, from_database) -> Optional[DialogueStateTracker]:
        if self.copies is None:
            return await from_database(sender_id)
        if await asyncio.to_thread(self.copies.is_waiting, sender_id):
            return await asyncio.to_thread(self._from_copy, sender_id)  # newer than the database's
        try:
            return await from_database(sender_id)
        except DOWN as exc:
            copy = await asyncio.to_thread(self._from_copy, sender_id)
            if copy is None:
                raise
            logger.error("the tracker store is down (%s); the conversation is read from Redis", type(exc).__name__)
            return copy

    def _start_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        """Write the waiting conversations to the database once it is back (any server may do it: the
        database appends only the events it lacks, so two doing it at once is harmless)."""
        while True:
            waiting = await asyncio.to_thread(self.copies.all_waiting)
            if not waiting:
                return
            for sender_id in waiting:
                tracker = await asyncio.to_thread(self._from_copy, sender_id)
                try:
                    if tracker is not None:
                        await super().save(tracker)
                except DOWN:
                    break  # still down: wait and try again
                latest = await asyncio.to_thread(self._from_copy, sender_id)
                if tracker is None or latest is None or len(latest.events) == len(tracker.events):
                    await asyncio.to_thread(self.copies.written, sender_id)  # else: more came; next round
                    logger.info("a conversation kept in Redis during an outage is written to the tracker store")
            await asyncio.sleep(FLUSH_SECONDS)

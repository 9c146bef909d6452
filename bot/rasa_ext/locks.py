"""A Redis lock store whose every step is one atomic Redis operation, for several Rasa instances.

Rasa 3.6's ``RedisLockStore`` keeps a conversation's ticket queue as one JSON value and changes it
by reading, changing and writing it back (RasaHQ/rasa#9213). Two instances issuing a ticket at the
same moment both read the same queue, and the second write loses the first ticket, or both get the
same number: two messages of one conversation are then handled at once, and tracker events are
lost or doubled.

Here each step is a Lua script, which Redis runs atomically:

- ``issue``: the ticket number comes from ``INCR`` (unique however many instances ask), and goes
  into a sorted set with its expiry, taken from the Redis server's own clock (no instance's clock
  matters);
- ``now_serving``: expired tickets are dropped and the lowest remaining number is served;
- ``release``: the ticket is removed, and the keys with it when no one waits.

Rasa's ``LockStore.lock`` context manager (issue, wait until served, release) works unchanged: it
calls the methods below.
"""
from __future__ import annotations

import asyncio
from collections import deque
from typing import Optional, Text

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore

POLL_SECONDS = 0.02  # how often a waiting message looks again (Rasa's own default is a whole second)

# KEYS: counter, queue (sorted set: number -> number), expiries (hash: number -> expiry, ms).
# Every key lives a little longer than the longest ticket in it, so a crashed instance leaves nothing.
_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""
_DROP_EXPIRED = """
for _, n in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local expires = tonumber(redis.call('HGET', KEYS[3], n) or '0')
  if expires <= now then
    redis.call('ZREM', KEYS[2], n)
    redis.call('HDEL', KEYS[3], n)
  end
end
"""
ISSUE = _NOW_MS + _DROP_EXPIRED + """
local lifetime = tonumber(ARGV[1])
local n = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], n, n)
redis.call('HSET', KEYS[3], n, now + lifetime)
local keep = lifetime + 60000
for i = 1, 3 do
  if redis.call('PTTL', KEYS[i]) < keep then redis.call('PEXPIRE', KEYS[i], keep) end
end
return n
"""
SERVING = _NOW_MS + _DROP_EXPIRED + """
local first = redis.call('ZRANGE', KEYS[2], 0, 0)
if #first == 0 then return false end
return tonumber(first[1])
"""
RELEASE = """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
end
return 1
"""
WAITING = _NOW_MS + _DROP_EXPIRED + """
return redis.call('ZCARD', KEYS[2])
"""


class AtomicRedisLockStore(LockStore):
    """Ticket locks in Redis with atomic steps (see the module's docstring)."""

    def __init__(self, client, key_prefix: str = "hcbot") -> None:
        self.red = client
        self.key_prefix = f"{key_prefix}:lock:"
        self._issue = client.register_script(ISSUE)
        self._serving = client.register_script(SERVING)
        self._release = client.register_script(RELEASE)
        self._waiting = client.register_script(WAITING)
        super().__init__()

    @classmethod
    def from_url(cls, url: str, key_prefix: str = "hcbot") -> "AtomicRedisLockStore":
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=10), key_prefix=key_prefix)

    def _keys(self, conversation_id: Text) -> list[str]:
        base = self.key_prefix + conversation_id
        return [base + ":n", base + ":q", base + ":exp"]

    # --- The steps Rasa's LockStore.lock takes ---------------------------------------------------

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(self._issue(keys=self._keys(conversation_id), args=[int(lock_lifetime * 1000)]))
        except Exception as exc:  # Rasa expects LockError for any failure here
            raise LockError(f"Error while issuing a ticket: {type(exc).__name__}") from exc

    def now_serving(self, conversation_id: Text) -> Optional[int]:
        served = self._serving(keys=self._keys(conversation_id))
        return int(served) if served is not None else None

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        """A read-only picture of the queue, for Rasa's wait loop: its tickets, lowest (served) first."""
        keys = self._keys(conversation_id)
        self._serving(keys=keys)  # drops expired tickets first
        pipe = self.red.pipeline(transaction=True)
        pipe.zrange(keys[1], 0, -1)
        pipe.hgetall(keys[2])
        numbers, expiries = pipe.execute()
        if not numbers:
            return None
        expiries = {int(k): int(v) for k, v in expiries.items()}
        tickets = deque(Ticket(int(n), expiries.get(int(n), 0) / 1000.0) for n in numbers)
        return TicketLock(conversation_id, tickets)

    async def _acquire_lock(self, conversation_id: Text, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        """Wait until this ticket is served; a LockError when it expired on the way (Rasa's contract)."""
        while True:
            serving = self.now_serving(conversation_id)
            if serving == ticket:
                return TicketLock(conversation_id, deque([Ticket(ticket, 0.0)]))
            if serving is None or serving > ticket:  # ours expired and was dropped
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            await asyncio.sleep(min(wait_time_in_seconds, POLL_SECONDS))

    def update_lock(self, conversation_id: Text) -> None:
        self._serving(keys=self._keys(conversation_id))

    def is_someone_waiting(self, conversation_id: Text) -> bool:
        return int(self._waiting(keys=self._keys(conversation_id))) > 0

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self._release(keys=self._keys(conversation_id), args=[ticket_number])

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        self.finish_serving(conversation_id, ticket_number)  # and the keys, when no one waits

    def delete_lock(self, conversation_id: Text) -> None:
        self.red.delete(*self._keys(conversation_id))

    def save_lock(self, lock: TicketLock) -> None:
        raise NotImplementedError("every change is an atomic script; a whole lock is never written back")


_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE_CLAIM = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class Claims:
    """Leases in Redis: which instance is handling something now (a phone number's texts, so they
    are handled once and in order whichever Rasa server Twilio reached). A lease ends when its
    holder lets go, or by itself if the holder dies."""

    def __init__(self, client, key_prefix: str = "hcbot", lease_ms: int = 60_000) -> None:
        self.red = client
        self.prefix = f"{key_prefix}:claim:"
        self.lease_ms = lease_ms
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE_CLAIM)

    @classmethod
    def from_url(cls, url: str, **kwargs) -> "Claims":
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=10), **kwargs)

    def take(self, key: str) -> Optional[str]:
        """A token when the lease is ours, None when another holds it."""
        import secrets

        token = secrets.token_hex(16)
        return token if self.red.set(self.prefix + key, token, nx=True, px=self.lease_ms) else None

    def renew(self, key: str, token: str) -> bool:
        return bool(self._renew(keys=[self.prefix + key], args=[token, self.lease_ms]))

    def release(self, key: str, token: str) -> None:
        self._release(keys=[self.prefix + key], args=[token])

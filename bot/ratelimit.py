"""Rate limits: how many messages one sender and one client address may send in a sliding window.

A flood (a script, a stuck client, someone hammering the send button) must not take the
model, the database or the SMS budget away from the people who need the service; a person who
trips a limit is told kindly to wait a minute, always with the 999 line, in their language.

Two limits (bot/settings.py): ``RATE_PER_SENDER`` per conversation (a REST sender id, a web
chat session, a phone number) and ``RATE_PER_ADDRESS`` per client IP address, each over
``RATE_WINDOW_SECONDS``. A sliding log: each allowed message is a timestamp; a message is
allowed while fewer than the limit remain from the last window; refused ones are not counted,
so a person who waits a minute is never still locked out by their own retries.

Counted in Redis when ``REDIS_URL`` is set (one Lua script, on Redis's clock: every Rasa
server sees one count), in this process's memory otherwise (one Rasa server). Keys are keyed
hashes of the identity: neither a number, an address nor a conversation id is stored. If Redis
cannot be reached the message is allowed: a broken counter must never silence someone.

The channels (bot/rasa_ext/rest.py, webchat.py, twilio_channel.py) decide what a refusal
means; no Rasa here.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Optional, Union

from bot.i18n import N_, translate
from bot.settings import Settings

logger = logging.getLogger(__name__)

# What a person who sends too fast is told (the web chat, the REST channel): the message was not
# taken, so they are asked to send it again.
TOO_FAST = N_("You are sending messages very quickly. Please wait a minute, then send your message again. "
              "If you are in danger now, call 999.")
# What a phone is told, once a window: texts are never dropped (each is stored and goes into the
# conversation), only the replies to them are held back.
TOO_FAST_TEXTS = N_("You are texting very fast, so we won't answer every text. We have them all. Please wait a "
                    "minute before sending more. If you are in danger now, call 999.")  # one SMS segment in English

PREFIX = "hcbot:rl:"
MARK_SECONDS = 3600  # how long a note about one text (bot/rasa_ext/twilio_channel.py) is kept
STORE_ERROR_LOG_SECONDS = 60.0  # a Redis outage is logged at most this often

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    first_refusal: bool = False  # the first refusal for this key in a window: tell the person, log it
    retry_after: float = 0.0  # seconds until one more message would be allowed


ALLOWED = Verdict(True)


def kind_message(language: str, texts: bool = False) -> str:
    """What someone over a limit is told, in ``language`` (English when it has no translation)."""
    return translate(TOO_FAST_TEXTS if texts else TOO_FAST, language)


# --- Stores -------------------------------------------------------------------------------------

class MemoryStore:
    """The counts in this process (one Rasa server), on the monotonic clock."""

    SWEEP_EVERY = 1000  # hits between sweeps of keys whose window has passed

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.logs: dict[str, tuple[deque, float]] = {}
        self.notices: dict[str, float] = {}
        self.marks: dict[str, tuple[str, float]] = {}
        self.hits = 0

    async def hit(self, key: str, limit: int, window: float) -> Verdict:
        now = self.clock()
        self._sweep(now)
        log, _ = self.logs.setdefault(key, (deque(), window))
        while log and log[0] <= now - window:
            log.popleft()
        if len(log) < limit:
            log.append(now)
            return ALLOWED
        first = self.notices.get(key, 0.0) <= now
        if first:
            self.notices[key] = now + window
        return Verdict(False, first, max(0.0, log[0] + window - now))

    async def mark(self, key: str, value: str, seconds: float) -> None:
        self.marks[key] = (value, self.clock() + seconds)

    async def take(self, key: str) -> Optional[str]:
        value, until = self.marks.pop(key, (None, 0.0))
        return value if until > self.clock() else None

    def _sweep(self, now: float) -> None:
        self.hits += 1
        if self.hits % self.SWEEP_EVERY:
            return
        self.logs = {k: (log, w) for k, (log, w) in self.logs.items() if log and log[-1] > now - w}
        self.notices = {k: until for k, until in self.notices.items() if until > now}
        self.marks = {k: mark for k, mark in self.marks.items() if mark[1] > now}


# KEYS[1]: the sorted set of allowed hits (score: ms), KEYS[2]: the "told already" flag.
# ARGV: limit, window (ms), a unique member. Returns {allowed, first refusal, ms to wait}.
HIT_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = window
if oldest[2] then wait = tonumber(oldest[2]) + window - now end
local first = redis.call('SET', KEYS[2], '1', 'NX', 'PX', window)
if first then return {0, 1, wait} end
return {0, 0, wait}
"""


class RedisStore:
    """The counts in Redis, shared by every Rasa server; atomic (one Lua script each hit)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._client = None
        self._script = None
        self._loop = None

    def _connect(self):
        import redis.asyncio as redis

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:  # a client belongs to the loop it was made in
            self._client = redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
            self._script = self._client.register_script(HIT_SCRIPT)
            self._loop = loop
        return self._client

    async def hit(self, key: str, limit: int, window: float) -> Verdict:
        self._connect()
        tag = "{%s}" % key  # one hash slot for both keys (Redis Cluster)
        allowed, first, wait_ms = await self._script(
            keys=[f"{PREFIX}{tag}:log", f"{PREFIX}{tag}:told"],
            args=[limit, int(window * 1000), os.urandom(8).hex()])
        return ALLOWED if allowed else Verdict(False, bool(first), max(0.0, int(wait_ms) / 1000))

    async def mark(self, key: str, value: str, seconds: float) -> None:
        await self._connect().set(f"{PREFIX}mark:{key}", value, px=int(seconds * 1000))

    async def take(self, key: str) -> Optional[str]:
        value = await self._connect().getdel(f"{PREFIX}mark:{key}")
        return value.decode() if value is not None else None


_MEMORY = MemoryStore()  # one per process: the REST, web chat and SMS channels share the counts
_REDIS: dict[str, RedisStore] = {}


def store_for(redis_url: str) -> Union[MemoryStore, RedisStore]:
    if not redis_url:
        return _MEMORY
    return _REDIS.setdefault(redis_url, RedisStore(redis_url))


# --- Limits -------------------------------------------------------------------------------------

class Limiter:
    """One limit: ``limit`` messages per ``window`` seconds for each key (0: no limit)."""

    def __init__(self, name: str, limit: int, window: float, store, secret: bytes = b"") -> None:
        self.name = name
        self.limit = limit
        self.window = window
        self.store = store
        self.secret = secret
        self._error_logged = 0.0

    def key(self, identity: str) -> str:
        digest = hmac.new(self.secret, identity.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]
        return f"{self.name}:{int(self.window * 1000)}:{digest}"

    async def hit(self, identity: str) -> Verdict:
        if self.limit <= 0:
            return ALLOWED
        try:
            return await self.store.hit(self.key(identity), self.limit, self.window)
        except Exception as exc:  # Redis down: allow rather than silence anyone
            self._log_store_error(exc)
            return ALLOWED

    def _log_store_error(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._error_logged > STORE_ERROR_LOG_SECONDS:
            self._error_logged = now
            logger.error("the rate limit store failed (%s); messages are allowed meanwhile", type(exc).__name__)


def parse_networks(raw: str) -> tuple[Network, ...]:
    """``TRUSTED_PROXIES``: addresses or networks, comma-separated."""
    networks = []
    for item in raw.split(","):
        if item.strip():
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
    return tuple(networks)


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in trusted)


def client_address(peer: str, forwarded: Optional[str], trusted: tuple[Network, ...]) -> str:
    """The client's address: the direct peer, unless the peer is a trusted proxy (nginx on loopback
    in the production profile), then the nearest address in X-Forwarded-For that is not one of
    ours (a proxy appends the address it saw, so the ones on the left are the client's say-so)."""
    peer = peer or "unknown"
    if not forwarded or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer


class Limits:
    """The two limits a channel applies: per sender and per client address."""

    def __init__(self, settings: Settings, secret: bytes = b"", store=None) -> None:
        store = store if store is not None else store_for(settings.redis_url)
        window = float(settings.rate_window_seconds)
        self.store = store
        self.window = window
        self.sender = Limiter("sender", settings.rate_per_sender, window, store, secret)
        self.address = Limiter("address", settings.rate_per_address, window, store, secret)
        self.trusted = parse_networks(settings.trusted_proxies)

    def client_address(self, peer: str, forwarded: Optional[str]) -> str:
        return client_address(peer, forwarded, self.trusted)

    async def check(self, channel: str, sender: Optional[str] = None, address: Optional[str] = None) -> Verdict:
        """Count one message from ``sender`` on ``channel`` at ``address`` (either may be None): the
        address first (a refused one does not use up the sender's count). Logs the first refusal
        in a window, by kind only."""
        for limiter, identity in ((self.address, address), (self.sender, f"{channel}:{sender}" if sender else None)):
            if identity is None:
                continue
            verdict = await limiter.hit(identity)
            if not verdict.allowed:
                if verdict.first_refusal:
                    logger.info("rate limit reached: %s, per %s", channel, limiter.name)
                return verdict
        return ALLOWED

    async def mark(self, key: str, value: str, seconds: float = MARK_SECONDS) -> None:
        """A note about one message for whichever server handles it (e.g. "reply quietly")."""
        try:
            await self.store.mark(key, value, seconds)
        except Exception as exc:
            self.sender._log_store_error(exc)

    async def take(self, key: str) -> Optional[str]:
        try:
            return await self.store.take(key)
        except Exception as exc:
            self.sender._log_store_error(exc)
            return None

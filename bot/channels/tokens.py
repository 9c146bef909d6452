"""Who a conversation belongs to, without trusting what a client says.

* Web chat: the server issues each new conversation a random id and gives the browser a token
  signed with the server's secret (HMAC-SHA256). Only a token the server issued, unaltered and
  not expired, resumes a conversation; anything else starts a new one. The id is 128 random
  bits, and a client never names a conversation by it.
* SMS and WhatsApp: a conversation is named by a keyed hash of the channel and the phone number,
  so the tracker, the lock store and any log line that names a conversation never hold the
  number itself.

The secret comes from ``SESSION_SECRET``; in development, when it is unset, a random one is
made once and kept in ``var/session.secret`` (readable by its owner only), so every process on
this machine, and a restart, agree on it. Several instances need the same ``SESSION_SECRET``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from typing import Optional

from bot.settings import VAR, Settings

VERSION = "v1"
WEB_PREFIX = "web-"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def secret_key(settings: Settings, store: Path = VAR / "session.secret") -> bytes:
    """The server's signing secret: ``SESSION_SECRET``, else the development one in var/."""
    if settings.session_secret:
        return settings.session_secret.encode("utf-8")
    try:
        return store.read_bytes().strip()
    except FileNotFoundError:
        pass
    store.parent.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_urlsafe(48).encode("ascii")
    try:
        fd = os.open(store, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return store.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(fresh)
    return fresh


def _sign(secret: bytes, text: str) -> str:
    return _b64(hmac.new(secret, text.encode("ascii"), hashlib.sha256).digest())


def issue_web_session(secret: bytes, now: Optional[float] = None) -> tuple[str, str]:
    """A new web conversation: (its sender id, the token the browser keeps in memory)."""
    sender = WEB_PREFIX + secrets.token_hex(16)
    issued = int(now if now is not None else time.time())
    body = f"{VERSION}.{sender}.{issued}"
    return sender, f"{body}.{_sign(secret, body)}"


def verify_web_session(secret: bytes, token: object, max_age_seconds: float,
                       now: Optional[float] = None) -> Optional[str]:
    """The sender id a token names, if the server issued it and it has not expired; else None."""
    if not isinstance(token, str) or len(token) > 200 or not token.isascii():  # (signing and compare_digest take ASCII only)
        return None
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != VERSION or not parts[1].startswith(WEB_PREFIX):
        return None
    version, sender, issued, signature = parts
    if not hmac.compare_digest(_sign(secret, f"{version}.{sender}.{issued}"), signature):
        return None
    try:
        age = (now if now is not None else time.time()) - int(issued)
    except ValueError:
        return None
    if age < -60 or age > max_age_seconds:  # a minute of clock skew between instances
        return None
    return sender


def phone_sender_id(secret: bytes, channel: str, number: str) -> str:
    """The conversation id of a phone number on a channel (``sms`` or ``whatsapp``)."""
    digest = hmac.new(secret, f"{channel}:{number}".encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{channel}-{digest[:32]}"

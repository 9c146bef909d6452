"""Encryption at rest: what people wrote is stored encrypted, in the case database and the tracker store.

What: the free text of reports, notes, messages and evidence (the ``Encrypted*`` column types in
bot/models.py) and every conversation event in the tracker store's ``events`` table
(bot/rasa_ext/stores.py) are Fernet tokens (AES-128-CBC with HMAC-SHA256), written as
``enc1:<token>``. Why: a copy of the database (a backup, a dump, a disk) then holds no report, name
or conversation without the key, which is kept apart from the data.

Keys: ``DATA_KEYS`` (Settings.data_keys), comma-separated Fernet keys, newest first. Values are
encrypted with the first and decrypted with any (MultiFernet), so a new key can be put in front
while values written with the old one still read. ``python -m bot rotate-keys`` (``rotate_all``)
then re-encrypts everything with the newest, after which the old key can go. Unset, a development
key is made once and kept in ``var/data.key`` (readable by its owner only), as the session secret is.

A value without the ``enc1:`` prefix was written before encryption was switched on: it reads as it
is, and rotate-keys encrypts it. A value no key decrypts raises ``DataKeyError``, which names
DATA_KEYS and never the value.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Optional, Union

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import LargeBinary, Text, cast, column, inspect, select, table, update
from sqlalchemy.engine import Connection, Engine

from bot.db import engine_for
from bot.settings import VAR

PREFIX = "enc1:"
BYTES_PREFIX = PREFIX.encode("ascii")
ENV = "DATA_KEYS"
KEY_FILE = VAR / "data.key"


class DataKeyError(RuntimeError):
    """The keys cannot be used, or do not decrypt a stored value."""


# --- Keys ---------------------------------------------------------------------------------------

def configured_keys() -> str:
    """DATA_KEYS as set (Settings.data_keys reads the same variable); "" when unset. Read from the
    environment each time (a dictionary look-up), so the column types need no settings at hand."""
    return os.environ.get(ENV, "").strip()


@lru_cache(maxsize=4)
def development_key(store: Path = KEY_FILE) -> str:
    """The development key in var/data.key, made (mode 0600) the first time. It is written whole
    to a file of its own and then linked into place, so processes starting together never read
    half a key: the one that loses the race reads the winner's."""
    if not store.exists():
        store.parent.mkdir(parents=True, exist_ok=True)
        draft = store.with_name(f".{store.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(Fernet.generate_key().decode("ascii"))
        try:
            os.link(draft, store)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = store.read_text(encoding="ascii").strip()
    if not key:
        raise DataKeyError(f"{store} is empty: set {ENV}, or restore the file the development data was written with")
    return key


def _split(keys: str) -> list[str]:
    return [k.strip() for k in keys.split(",") if k.strip()]


@lru_cache(maxsize=16)
def _fernets(keys: str) -> tuple[Fernet, ...]:
    parts = _split(keys)
    found = []
    for number, key in enumerate(parts, start=1):
        try:
            found.append(Fernet(key))
        except (ValueError, TypeError):
            raise DataKeyError(f"{ENV}: key {number} of {len(parts)} is not a Fernet key (32 url-safe "
                               "base64-encoded bytes; make one with Fernet.generate_key())") from None
    if not found:
        raise DataKeyError(f"{ENV} holds no key")
    return tuple(found)


@lru_cache(maxsize=16)
def _multi(keys: str) -> MultiFernet:
    return MultiFernet(_fernets(keys))


def _keys(keys: Optional[str]) -> str:
    keys = configured_keys() if keys is None else keys
    return keys or development_key()


def cipher(keys: Optional[str] = None) -> MultiFernet:
    """The MultiFernet of ``keys`` (default DATA_KEYS, else the development key): encrypts with
    the first key, decrypts with any. One per key string."""
    return _multi(_keys(keys))


def newest(keys: Optional[str] = None) -> Fernet:
    """The key new values are encrypted with."""
    return _fernets(_keys(keys))[0]


def _unreadable() -> DataKeyError:
    where = ENV if configured_keys() else f"{ENV} (unset: the development key in {KEY_FILE})"
    return DataKeyError(f"A stored value cannot be decrypted with any key in {where}: the key it was written "
                        "with is missing. Put it back (an old key stays until `python -m bot rotate-keys` "
                        "has run with the new one first).")


# --- Values -------------------------------------------------------------------------------------

def is_encrypted(value: Union[str, bytes, None]) -> bool:
    if isinstance(value, str):
        return value.startswith(PREFIX)
    return isinstance(value, (bytes, bytearray)) and bytes(value[:len(BYTES_PREFIX)]) == BYTES_PREFIX


def encrypt_text(value: Optional[str], keys: Optional[str] = None) -> Optional[str]:
    if value is None:
        return None
    return PREFIX + cipher(keys).encrypt(value.encode("utf-8")).decode("ascii")


def decrypt_text(value: Optional[str], keys: Optional[str] = None) -> Optional[str]:
    """The text of an ``enc1:`` value; any other value (written before encryption) as it is."""
    if not is_encrypted(value):
        return value
    try:
        return cipher(keys).decrypt(value[len(PREFIX):].encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise _unreadable() from None


def encrypt_bytes(value: Optional[bytes], keys: Optional[str] = None) -> Optional[bytes]:
    if value is None:
        return None
    return BYTES_PREFIX + cipher(keys).encrypt(bytes(value))


def decrypt_bytes(value: Optional[bytes], keys: Optional[str] = None) -> Optional[bytes]:
    if not is_encrypted(value):
        return value
    try:
        return cipher(keys).decrypt(bytes(value[len(BYTES_PREFIX):]))
    except InvalidToken:
        raise _unreadable() from None


def event_data(raw: Union[str, bytes, dict, None]) -> dict:
    """A tracker event from the ``events`` table's ``data`` column: decrypted, parsed; {} when it
    is empty or not a JSON object. Every reader of that table without Rasa goes through here."""
    if raw is None or isinstance(raw, dict):
        return raw or {}
    text = decrypt_text(raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw)
    try:
        event = json.loads(text)
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}


# --- Rotation -----------------------------------------------------------------------------------

Raw = Union[str, bytes]


def _rotated_token(token: bytes, keys: Optional[str]) -> Optional[bytes]:
    """``token`` encrypted with the newest key; None when it already is."""
    try:
        newest(keys).decrypt(token)
        return None
    except InvalidToken:
        pass
    try:
        return cipher(keys).rotate(token)
    except InvalidToken:
        raise _unreadable() from None


def rotate_value(raw: Raw, keys: Optional[str] = None) -> tuple[str, Optional[Raw]]:
    """What rotation does to one stored value: ("current", None) when the newest key wrote it,
    ("rotated", new) when an older key did, ("encrypted", new) when it was plain."""
    if not is_encrypted(raw):
        return "encrypted", (encrypt_text(raw, keys) if isinstance(raw, str) else encrypt_bytes(raw, keys))
    if isinstance(raw, str):
        token = _rotated_token(raw[len(PREFIX):].encode("ascii"), keys)
        return ("current", None) if token is None else ("rotated", PREFIX + token.decode("ascii"))
    token = _rotated_token(bytes(raw[len(BYTES_PREFIX):]), keys)
    return ("current", None) if token is None else ("rotated", BYTES_PREFIX + token)


def rotate_json(raw: str, keys: Optional[str] = None) -> tuple[str, Optional[str]]:
    """The same for a JSON column's text: the encrypted value is a JSON string ``"enc1:..."``; any
    other JSON (written before encryption) is encrypted whole."""
    try:
        inner = json.loads(raw)
    except ValueError:
        inner = None
    if isinstance(inner, str) and is_encrypted(inner):
        outcome, new = rotate_value(inner, keys)
    else:
        outcome, new = "encrypted", encrypt_text(raw, keys)
    return outcome, (None if new is None else json.dumps(new))


@dataclass(frozen=True)
class Target:
    """One encrypted column: its table, the table's primary key, and how it is stored."""

    table: str
    key: str
    column: str
    kind: str  # text | bytes | json

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


# Rasa's SQL tracker store: one row per conversation event, rows only ever added or deleted.
TRACKER_EVENTS = Target("events", "id", "data", "text")


@dataclass
class Counts:
    rotated: int = 0  # was encrypted with an older key
    encrypted: int = 0  # was plain (written before encryption)
    current: int = 0  # already encrypted with the newest key
    changed: int = 0  # written meanwhile by the running service (so with the newest key): left alone

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def encrypted_targets(metadata: Any) -> list[Target]:
    """Every column of ``metadata`` whose type is one of the Encrypted* types (``encrypted_kind``)."""
    found = []
    for mapped in metadata.sorted_tables:
        kinds = [(c.name, getattr(c.type, "encrypted_kind", None)) for c in mapped.columns]
        if any(kind for _, kind in kinds):
            (key,) = [c.name for c in mapped.primary_key.columns]
            found += [Target(mapped.name, key, name, kind) for name, kind in kinds if kind]
    return found


def _batches(engine: Engine, target: Target, size: int) -> Iterator[list[tuple[Any, Raw]]]:
    key = column(target.key)
    value = column(target.column, LargeBinary() if target.kind == "bytes" else Text())
    read = cast(value, Text) if target.kind == "json" else value
    after = None
    while True:
        query = select(key, read).select_from(table(target.table)).where(value.is_not(None))
        if after is not None:
            query = query.where(key > after)
        with engine.connect() as conn:
            rows = conn.execute(query.order_by(key).limit(size)).all()
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _write(conn: Connection, target: Target, key: Any, old: Raw, new: Raw) -> bool:
    """Compare and set: the new value only if the row still holds the old one."""
    value = column(target.column, LargeBinary() if target.kind == "bytes" else Text())
    held = cast(value, Text) if target.kind == "json" else value
    statement = (update(table(target.table, value)).where(column(target.key) == key, held == old)
                 .values({target.column: new}))
    return conn.execute(statement).rowcount == 1


def rotate_target(engine: Engine, target: Target, keys: Optional[str] = None, batch: int = 200) -> Counts:
    """Re-encrypt one column with the newest key, ``batch`` rows per transaction. Safe beside the
    running service: a row it changed meanwhile is left as it wrote it."""
    counts = Counts()
    for rows in _batches(engine, target, batch):
        with engine.begin() as conn:
            for key, raw in rows:
                raw = bytes(raw) if target.kind == "bytes" else raw
                outcome, new = (rotate_json if target.kind == "json" else rotate_value)(raw, keys)
                if new is not None and not _write(conn, target, key, raw, new):
                    outcome = "changed"
                counts.add(outcome)
    return counts


def rotate_all(database_url: str, tracker_url: str, keys: Optional[str] = None,
               batch: int = 200) -> dict[str, Counts]:
    """rotate-keys: every encrypted column of the case database, then the tracker store's events."""
    from bot.models import metadata  # here: bot.models imports this module

    done = {}
    cases = engine_for(database_url)
    for target in encrypted_targets(metadata):
        done[target.name] = rotate_target(cases, target, keys, batch)
    tracker = engine_for(tracker_url)
    if inspect(tracker).has_table(TRACKER_EVENTS.table):
        done[f"tracker {TRACKER_EVENTS.name}"] = rotate_target(tracker, TRACKER_EVENTS, keys, batch)
    return done

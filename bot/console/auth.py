"""Staff accounts and sign-in: argon2 password hashes, sessions that expire (idle and absolute),
a CSRF token per session, and lock-out after repeated failures.

Only the SHA-256 of a session's token is stored, so the sessions table cannot be used to sign in.
A failed sign-in says the same whatever went wrong (no such user, wrong password, locked, inactive)
and takes as long, so it tells an attacker nothing.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from bot.console import audit
from bot.models import STAFF_ROLES, Staff, StaffSession

HASHER = PasswordHasher()
MAX_FAILURES = 5  # in a row, then locked
LOCK_FOR = timedelta(minutes=15)
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=10)
MIN_PASSWORD = 12
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))  # verified against when there is no such user


class AccountError(ValueError):
    """An account that cannot be made as asked (the message says why, never the password)."""


@dataclass(frozen=True)
class SignedIn:
    token: str  # goes in the cookie; only its hash is stored
    csrf: str
    staff_id: int
    username: str
    role: str


@dataclass(frozen=True)
class Current:
    staff_id: int
    username: str
    name: str
    role: str
    csrf: str


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _now(now: Optional[datetime]) -> datetime:
    return now or datetime.now(timezone.utc)


def add_staff(factory: sessionmaker, *, username: str, name: str, role: str, password: str,
              actor: str = "system", officer_id: Optional[int] = None) -> int:
    username = username.strip().lower()
    if role not in STAFF_ROLES:
        raise AccountError(f"role must be one of {', '.join(STAFF_ROLES)}")
    if not username or not name.strip():
        raise AccountError("a username and a name are needed")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    with factory() as session:
        if session.execute(select(Staff.id).where(Staff.username == username)).first():
            raise AccountError("that username is taken")
        staff = Staff(username=username, name=name.strip(), role=role, password_hash=HASHER.hash(password),
                      active=True, failed_attempts=0, officer_id=officer_id, created_at=_now(None))
        session.add(staff)
        session.flush()
        audit.record(session, actor, "staff_added", details={"username": username, "role": role})
        session.commit()
        return staff.id


def sign_in(factory: sessionmaker, username: str, password: str, now: Optional[datetime] = None,
            ip: str = "") -> Optional[SignedIn]:
    """A new session, or None (whatever the reason). Five failures in a row lock the account for 15 minutes."""
    now = _now(now)
    username = (username or "").strip().lower()[:80]
    with factory() as session:
        staff = session.execute(select(Staff).where(Staff.username == username)).scalar_one_or_none()
        if staff is None:
            try:
                HASHER.verify(_DUMMY_HASH, password or "")
            except (VerificationError, InvalidHashError):
                pass
            audit.record(session, "anonymous", "sign_in_failed", details={"reason": "unknown_user"})
            session.commit()
            return None
        locked = staff.locked_until is not None and staff.locked_until > now
        try:
            ok = HASHER.verify(staff.password_hash, password or "") and staff.active and not locked
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok:
            if not locked:
                staff.failed_attempts += 1
                if staff.failed_attempts >= MAX_FAILURES:
                    staff.locked_until = now + LOCK_FOR
                    staff.failed_attempts = 0
                    audit.record(session, staff.username, "account_locked", details={"minutes": 15})
            reason = "locked" if locked else ("inactive" if not staff.active else "wrong_password")
            audit.record(session, staff.username, "sign_in_failed", details={"reason": reason})
            session.commit()
            return None
        staff.failed_attempts = 0
        staff.locked_until = None
        if HASHER.check_needs_rehash(staff.password_hash):
            staff.password_hash = HASHER.hash(password)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        session.add(StaffSession(token_hash=_hash_token(token), staff_id=staff.id, csrf_token=csrf, created_at=now,
                                 last_seen_at=now, expires_at=now + ABSOLUTE_TIMEOUT))
        audit.record(session, staff.username, "signed_in")
        session.commit()
        return SignedIn(token, csrf, staff.id, staff.username, staff.role)


def current(factory: sessionmaker, token: Optional[str], now: Optional[datetime] = None) -> Optional[Current]:
    """Who a session cookie belongs to, if it is still valid (and it is kept alive); else None."""
    if not token or len(token) > 200:
        return None
    now = _now(now)
    with factory() as session:
        row = session.get(StaffSession, _hash_token(token))
        if row is None:
            return None
        staff = session.get(Staff, row.staff_id)
        if now >= row.expires_at or now - row.last_seen_at >= IDLE_TIMEOUT or staff is None or not staff.active:
            session.delete(row)
            session.commit()
            return None
        row.last_seen_at = now
        session.commit()
        return Current(staff.id, staff.username, staff.name, staff.role, row.csrf_token)


def sign_out(factory: sessionmaker, token: Optional[str]) -> None:
    if not token:
        return
    with factory() as session:
        row = session.get(StaffSession, _hash_token(token))
        if row is not None:
            staff = session.get(Staff, row.staff_id)
            session.delete(row)
            audit.record(session, staff.username if staff else "unknown", "signed_out")
            session.commit()


def csrf_ok(user: Current, given: Optional[str]) -> bool:
    return bool(given) and secrets.compare_digest(user.csrf, given)


def purge_expired(factory: sessionmaker, now: Optional[datetime] = None) -> int:
    now = _now(now)
    with factory() as session:
        done = session.execute(delete(StaffSession).where(
            (StaffSession.expires_at <= now) | (StaffSession.last_seen_at <= now - IDLE_TIMEOUT)))
        session.commit()
        return done.rowcount


# --- Administrators' changes to accounts (each audited, in the transaction that makes it) -------

def _staff(session, staff_id: int) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise AccountError("no such account")
    return staff


def _end_sessions(session, staff_id: int) -> None:
    session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id))


def set_active(factory: sessionmaker, staff_id: int, active: bool, *, actor: str) -> None:
    """Deactivate an account (its sessions end at once) or bring it back. No one deactivates themselves."""
    with factory() as session:
        staff = _staff(session, staff_id)
        if staff.username == actor and not active:
            raise AccountError("you cannot deactivate your own account")
        staff.active = active
        if not active:
            _end_sessions(session, staff.id)
        audit.record(session, actor, "staff_activated" if active else "staff_deactivated",
                     details={"username": staff.username})
        session.commit()


def set_role(factory: sessionmaker, staff_id: int, role: str, *, actor: str) -> None:
    if role not in STAFF_ROLES:
        raise AccountError(f"role must be one of {', '.join(STAFF_ROLES)}")
    with factory() as session:
        staff = _staff(session, staff_id)
        if staff.username == actor:
            raise AccountError("you cannot change your own role")
        previous, staff.role = staff.role, role
        _end_sessions(session, staff.id)  # the new role applies from their next sign-in
        audit.record(session, actor, "staff_role_changed", details={"username": staff.username, "from": previous,
                                                                     "to": role})
        session.commit()


def set_password(factory: sessionmaker, staff_id: int, password: str, *, actor: str) -> None:
    """A new password set by an administrator (to give to them privately); their sessions end, the lock lifts."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    with factory() as session:
        staff = _staff(session, staff_id)
        staff.password_hash = HASHER.hash(password)
        staff.failed_attempts, staff.locked_until = 0, None
        _end_sessions(session, staff.id)
        audit.record(session, actor, "staff_password_set", details={"username": staff.username})
        session.commit()


def unlock(factory: sessionmaker, staff_id: int, *, actor: str) -> None:
    with factory() as session:
        staff = _staff(session, staff_id)
        staff.failed_attempts, staff.locked_until = 0, None
        audit.record(session, actor, "staff_unlocked", details={"username": staff.username})
        session.commit()


def accounts(factory: sessionmaker) -> list[Staff]:
    with factory() as session:
        rows = list(session.execute(select(Staff).order_by(Staff.active.desc(), Staff.username)).scalars())
        session.expunge_all()
        return rows

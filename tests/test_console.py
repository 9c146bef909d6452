"""The officers' console rules, on SQLite and PostgreSQL: accounts, sign-in with lock-out, sessions
that expire, CSRF, the append-only audit log, and the queue's order."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from bot.console import audit, auth
from bot.console.queue import open_deadlines, queue
from bot.models import AuditEntry, Case, Staff, StaffSession, WorkOrder

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)
PASSWORD = "correct horse battery"


def _officer(factory, username="asha", role="officer"):
    return auth.add_staff(factory, username=username, name="Asha Patel", role=role, password=PASSWORD)


def test_passwords_are_argon2_hashes_and_weak_ones_are_refused(factory):
    _officer(factory)
    with factory() as s:
        staff = s.execute(select(Staff)).scalar_one()
    assert staff.password_hash.startswith("$argon2id$") and PASSWORD not in staff.password_hash
    with pytest.raises(auth.AccountError):
        auth.add_staff(factory, username="b", name="B", role="officer", password="short")
    with pytest.raises(auth.AccountError):
        auth.add_staff(factory, username="c", name="C", role="superuser", password=PASSWORD)
    with pytest.raises(auth.AccountError):
        _officer(factory)  # the username is taken


def test_sign_in_gives_a_session_stored_only_as_a_hash(factory):
    _officer(factory)
    signed = auth.sign_in(factory, "Asha ", PASSWORD, now=NOW)
    assert signed and signed.role == "officer"
    with factory() as s:
        stored = s.execute(select(StaffSession)).scalar_one()
    assert stored.token_hash != signed.token and signed.token not in stored.token_hash
    user = auth.current(factory, signed.token, now=NOW + timedelta(minutes=5))
    assert user.username == "asha" and auth.csrf_ok(user, signed.csrf) and not auth.csrf_ok(user, "forged")
    assert auth.current(factory, "not-a-token", now=NOW) is None


def test_sessions_expire_when_idle_and_in_any_case_after_ten_hours(factory):
    _officer(factory)
    idle = auth.sign_in(factory, "asha", PASSWORD, now=NOW)
    assert auth.current(factory, idle.token, now=NOW + timedelta(minutes=31)) is None
    busy = auth.sign_in(factory, "asha", PASSWORD, now=NOW)
    t = NOW
    while t + timedelta(minutes=20) < NOW + timedelta(hours=10):
        t += timedelta(minutes=20)
        assert auth.current(factory, busy.token, now=t) is not None
    assert auth.current(factory, busy.token, now=NOW + timedelta(hours=10)) is None
    signed = auth.sign_in(factory, "asha", PASSWORD, now=NOW)
    auth.sign_out(factory, signed.token)
    assert auth.current(factory, signed.token, now=NOW) is None


def test_five_failures_lock_the_account_for_fifteen_minutes(factory):
    _officer(factory)
    for _ in range(5):
        assert auth.sign_in(factory, "asha", "wrong password!", now=NOW) is None
    assert auth.sign_in(factory, "asha", PASSWORD, now=NOW + timedelta(minutes=1)) is None  # locked, even right
    assert auth.sign_in(factory, "asha", PASSWORD, now=NOW + timedelta(minutes=16)) is not None
    assert auth.sign_in(factory, "nobody", PASSWORD, now=NOW) is None
    with factory() as s:
        actions = [e.action for e in s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
    assert actions.count("sign_in_failed") == 7 and "account_locked" in actions and "signed_in" in actions


def test_the_audit_log_cannot_be_changed_or_deleted(factory):
    with factory() as s:
        audit.record(s, "asha", "case_viewed", "ABC-DEF-GHJ", now=NOW)
        s.commit()
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with factory() as s:
            with pytest.raises(DatabaseError):
                s.execute(text(statement))
                s.commit()
    with factory() as s:
        entry = s.execute(select(AuditEntry)).scalar_one()
    assert (entry.actor, entry.action, entry.case_reference) == ("asha", "case_viewed", "ABC-DEF-GHJ")


def _case(session, ref, *, risk=None, immediate=False, due_in=24, contacted=False, graffiti_in=None):
    case = Case(reference=ref, report_id=f"r-{ref}", conversation_id=f"c-{ref}", channel="rest", language="en",
                status="new", submitted_at=NOW - timedelta(hours=1), risk_level=risk, immediate_risk=immediate,
                first_contact_due_at=NOW + timedelta(hours=due_in), review_due_at=NOW + timedelta(days=90),
                first_contact_at=NOW if contacted else None, skipped=[])
    if graffiti_in is not None:
        case.work_orders.append(WorkOrder(kind="graffiti_removal", status="open", created_at=NOW,
                                          due_at=NOW + timedelta(hours=graffiti_in)))
    session.add(case)
    return case


def test_the_queue_puts_danger_first_then_risk_then_the_nearest_deadline(factory):
    with factory() as s:
        _case(s, "STD-LATE", risk="standard", due_in=20)
        _case(s, "STD-SOON", risk="standard", due_in=2)
        _case(s, "HIGH", risk="high", due_in=23)
        _case(s, "DANGER", immediate=True, due_in=23)
        _case(s, "MED-BREACHED", risk="medium", due_in=-3)
        _case(s, "NONE-GRAFFITI", due_in=20, graffiti_in=1, contacted=True)
        closed = _case(s, "CLOSED", risk="high")
        closed.status = "closed"
        s.commit()
        rows = queue(s, now=NOW)
    assert [r.case.reference for r in rows] == ["DANGER", "HIGH", "MED-BREACHED", "STD-SOON", "STD-LATE", "NONE-GRAFFITI"]
    breached = {r.case.reference: r.breached for r in rows}
    assert breached["MED-BREACHED"] == ("first_contact",) and breached["STD-SOON"] == ()
    graffiti = next(r for r in rows if r.case.reference == "NONE-GRAFFITI")
    assert graffiti.next_deadline.kind == "graffiti_removal"
    assert [d.kind for d in open_deadlines(graffiti.case)] == ["graffiti_removal", "review"]

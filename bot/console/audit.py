"""The audit log: who viewed or did what, when (UK GDPR accountability). Rows are only added; the
database itself refuses to change or delete them (triggers from migration 0005)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import AuditEntry


def record(session: Session, actor: str, action: str, case_reference: Optional[str] = None,
           details: Optional[dict] = None, now: Optional[datetime] = None) -> AuditEntry:
    """Add an entry in the caller's transaction (so the entry and what it records stand or fall together)."""
    entry = AuditEntry(at=now or datetime.now(timezone.utc), actor=actor[:80], action=action[:40],
                       case_reference=case_reference, details=details or {})
    session.add(entry)
    return entry


def for_case(session: Session, reference: str) -> list[AuditEntry]:
    return list(session.execute(
        select(AuditEntry).where(AuditEntry.case_reference == reference).order_by(AuditEntry.id)).scalars())

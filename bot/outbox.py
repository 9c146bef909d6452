"""Notifications, sent reliably: the transactional outbox.

Whatever raises a notification (a referral, an on-call alert, a work order) writes an
``OutboxMessage`` row in the same database transaction as the thing it tells of, so
either both are stored or neither is. A worker (``python -m bot outbox``, started by
``make run``) sends due messages with retry and backoff; nothing is lost if Twilio or
the mail server is down. Bodies carry a case reference and a risk level, never what
the person wrote.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import OutboxMessage

TRANSPORTS = ("sms", "whatsapp", "email", "log")


@dataclass(frozen=True)
class Contact:
    """Where a notification goes, configured as ``<transport>:<recipient>``
    (``sms:+447700900123``, ``email:oncall@example.org``, ``log:on-call``)."""

    transport: str
    recipient: str

    @classmethod
    def parse(cls, value: str) -> "Contact":
        transport, sep, recipient = value.partition(":")
        transport = transport.strip().lower()
        if not sep or transport not in TRANSPORTS or not recipient.strip():
            raise ValueError(f"a contact is '<{'|'.join(TRANSPORTS)}>:<recipient>', got {transport or '?'}:…")
        return cls(transport, recipient.strip())


def enqueue(
    session: Session,
    *,
    dedupe_key: str,
    topic: str,
    contact: Contact,
    body: str,
    subject: Optional[str] = None,
    sender: Optional[str] = None,
    case_id: Optional[int] = None,
    now: Optional[datetime] = None,
) -> Optional[OutboxMessage]:
    """Add a message to the session (the caller commits it with its own changes).

    ``dedupe_key`` names the notification: a second one with the same key is not added
    (and the table's unique constraint stops a concurrent one at commit)."""
    pending = [m for m in session.new if isinstance(m, OutboxMessage) and m.dedupe_key == dedupe_key]
    if pending or session.execute(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)).first():
        return None
    now = now or datetime.now(timezone.utc)
    message = OutboxMessage(
        dedupe_key=dedupe_key,
        topic=topic,
        transport=contact.transport,
        recipient=contact.recipient,
        sender=sender,
        subject=subject,
        body=body,
        case_id=case_id,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    return message

"""A case's conversation, read from the tracker store's ``events`` table (Rasa's SQL tracker store
schema) without Rasa: what the person wrote and what the bot said, in order. Each event's data is
stored encrypted: ``bot.crypto.event_data`` decrypts it.

Opening it is deliberate and audited (bot/web/console.py): the officer gives a reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import text

from bot.crypto import event_data
from bot.db import engine_for

REASONS = {
    "first_contact": "Preparing first contact",
    "risk_review": "Reviewing the risk",
    "referral": "Making or checking a referral",
    "complaint_or_appeal": "A complaint or appeal",
    "subject_access": "A subject access request",
}


@dataclass(frozen=True)
class Line:
    who: str  # person | bot
    text: str
    at: datetime


def transcript(tracker_url: str, conversation_id: str) -> list[Line]:
    engine = engine_for(tracker_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT type_name, timestamp, data FROM events WHERE sender_id = :sender "
                 "AND type_name IN ('user', 'bot') ORDER BY id"),
            {"sender": conversation_id},
        ).all()
    lines = []
    for type_name, timestamp, data in rows:
        said = event_data(data).get("text") or ""
        if type_name == "user" and said.startswith("/"):
            said = "(pressed a button)"
        if said:
            lines.append(Line("person" if type_name == "user" else "bot", said,
                              datetime.fromtimestamp(float(timestamp), tz=timezone.utc)))
    return lines

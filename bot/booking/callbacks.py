"""When no offered time suits, or no officer matches what they asked for: an officer is asked to
arrange a time with them. Never a different officer instead of the one asked for (Karin 4.27)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot import outbox
from bot.booking.slots import Needs
from bot.cases import conversation_key
from bot.models import Case, CaseEvent
from bot.settings import Settings


def needs_text(needs: Needs, contact_method: Optional[str]) -> str:
    """What the officer must arrange, in words (no personal data)."""
    parts = [f"method {contact_method or 'not said'}", f"language {needs.language}"]
    if needs.officer_sex:
        parts.append(f"{needs.officer_sex} officer requested")
    if needs.ethnic_origin:
        parts.append(f"officer of {needs.ethnic_origin} ethnic background preferred")
    return ", ".join(parts)


def request_callback(
    factory: sessionmaker, settings: Settings, *, case_reference: Optional[str], conversation_id: str,
    needs: Needs, contact_method: Optional[str], now: Optional[datetime] = None,
) -> None:
    """Ask the housing team (through the outbox) to arrange the call; recorded on the case."""
    now = now or datetime.now(timezone.utc)
    with factory() as session:
        case = None
        if case_reference:
            case = session.execute(select(Case).where(
                Case.reference == case_reference, Case.conversation_id == conversation_key(conversation_id)
            )).scalar_one_or_none()
        what = needs_text(needs, contact_method)
        message = outbox.enqueue(
            session,
            # one request per case (or conversation, before a case): a retried request is not sent twice
            dedupe_key=f"call_request:{case.id if case else conversation_key(conversation_id)}",
            topic="call_request",
            contact=outbox.contact_setting(settings.housing_team_contact, kind="call_request"),
            subject=f"Call to arrange: case {case_reference or 'not yet made'}",
            body=f"Arrange a call: case {case_reference or 'not yet made'} ({what}). Details in the case console.",
            case_id=case.id if case else None,
            now=now,
        )
        if case is not None and message is not None:
            case.events.append(CaseEvent(at=now, actor="reporter:chat", action="call_requested", details={"needs": what}))
        session.commit()

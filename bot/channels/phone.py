"""SMS and WhatsApp conversations through Twilio: what is stored, what each text means, and
what goes back. No Rasa here: bot/rasa_ext/twilio_channel.py runs the dialogue in between.

A text's life:
1. ``record``: the webhook stores it (``inbound_messages``, unique on Twilio's MessageSid: a
   retried webhook finds its row and is not handled twice) and the number's ``phone_contacts``
   row, and Twilio is answered at once.
2. ``plan``: what it is: an opt-out or opt-in word (Twilio blocks and unblocks the number
   itself; we stop sending), HELP, EXIT (end and forget the unsent report), the answer to
   "shall we keep this photo?", the answer (1 to 5) to the satisfaction survey sent after a case
   closed, or a message for the dialogue (a number picking one of the last reply's options
   becomes that option).
3. ``finish``: the reply, made of the dialogue's messages, goes into the outbox (bot/outbox.py)
   in the same transaction that marks the text handled, from the number the person wrote to:
   buttons as numbered options, SMS split into single segments between sentences. The text
   itself is then cleared (it lives on in the conversation).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Mapping, Optional
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.channels import sms
from bot.i18n import mark_direction, translate
from bot.models import Case, Evidence, InboundMessage, OutboxMessage, PhoneContact
from bot.outbox import Contact, enqueue
from bot.ratelimit import kind_message
from bot.settings import Settings

log = logging.getLogger(__name__)

WHATSAPP_PREFIX = "whatsapp:"
WHATSAPP_MAX_CHARS = 1600  # Twilio's limit for a message body
WHATSAPP_WINDOW = timedelta(hours=24)
MAX_MEDIA = 10  # Twilio sends at most ten per message
KEEP, DELETE = "evidence:keep", "evidence:delete"


@dataclass(frozen=True)
class Inbound:
    message_sid: str
    channel: str  # sms | whatsapp
    number: str  # the person's number, E.164
    service_number: str  # the number they wrote to
    body: str
    media: tuple  # ({"url", "content_type"}, ...)


def parse(form: Mapping[str, str]) -> Optional[Inbound]:
    """A Twilio message webhook's fields; None when it is not a message (no sid, sender or number)."""
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    sender = (form.get("From") or "").strip()
    to = (form.get("To") or "").strip()
    if not sid or not sender or not to:
        return None
    channel = "whatsapp" if sender.lower().startswith(WHATSAPP_PREFIX) else "sms"
    try:
        count = max(0, min(int(form.get("NumMedia") or 0), MAX_MEDIA))
    except ValueError:
        count = 0
    media = tuple(
        {"url": form[f"MediaUrl{i}"], "content_type": (form.get(f"MediaContentType{i}") or "application/octet-stream")[:100]}
        for i in range(count) if form.get(f"MediaUrl{i}")
    )
    return Inbound(
        message_sid=sid[:64],
        channel=channel,
        number=_bare(sender)[:40],
        service_number=_bare(to)[:40],
        body=(form.get("Body") or "")[:5000],
        media=media,
    )


def _bare(address: str) -> str:
    return address[len(WHATSAPP_PREFIX):] if address.lower().startswith(WHATSAPP_PREFIX) else address


def record(factory: sessionmaker, inbound: Inbound, conversation_id: str, now: Optional[datetime] = None) -> bool:
    """Store a text and its number's contact row; False when this MessageSid was stored before
    (Twilio retried the webhook), in which case nothing changes."""
    now = now or datetime.now(timezone.utc)
    with factory() as session:
        if session.execute(select(InboundMessage.id).where(InboundMessage.message_sid == inbound.message_sid)).first():
            return False
        session.add(InboundMessage(
            message_sid=inbound.message_sid, channel=inbound.channel, conversation_id=conversation_id,
            body=inbound.body, media=list(inbound.media) or None, status="received", received_at=now,
        ))
        contact = session.get(PhoneContact, conversation_id)
        if contact is None:
            contact = PhoneContact(conversation_id=conversation_id, channel=inbound.channel, opted_out=False)
            session.add(contact)
        contact.number = inbound.number
        contact.service_number = inbound.service_number
        contact.last_inbound_at = now
        contact.updated_at = now
        if inbound.channel == "whatsapp":
            release_held(session, inbound.number, now)
        try:
            session.commit()
        except IntegrityError:  # the same MessageSid, stored by a concurrent retry
            session.rollback()
            return False
    return True


def waiting(factory: sessionmaker, conversation_id: Optional[str] = None) -> list[str]:
    """Conversations with texts not yet handled (all, or whether this one has any)."""
    query = select(InboundMessage.conversation_id).where(InboundMessage.status == "received").distinct()
    if conversation_id is not None:
        query = query.where(InboundMessage.conversation_id == conversation_id)
    with factory() as session:
        return list(session.execute(query).scalars())


def next_waiting(factory: sessionmaker, conversation_id: str) -> Optional[int]:
    """The id of the conversation's oldest text not yet handled."""
    with factory() as session:
        return session.execute(
            select(InboundMessage.id)
            .where(InboundMessage.conversation_id == conversation_id, InboundMessage.status == "received")
            .order_by(InboundMessage.id).limit(1)
        ).scalar()


# --- What a text means ----------------------------------------------------------------------

@dataclass
class Plan:
    kind: str  # opt_out | opt_in | help | exit | keep_media | delete_media | survey | message
    message_sid: str
    channel: str
    text: Optional[str] = None  # what goes to the dialogue; None: nothing does
    notes: list = field(default_factory=list)  # the service's own words before the dialogue's reply
    ask_media: list = field(default_factory=list)  # photos or files to ask about after the reply
    media: list = field(default_factory=list)  # photos or files answered about (keep or delete)
    survey: Optional[tuple] = None  # (case id, score): the answer to a satisfaction survey
    language: Optional[str] = None  # the language to answer in, when the dialogue does not say


def plan(factory: sessionmaker, inbound_id: int) -> Plan:
    with factory() as session:
        row = session.get(InboundMessage, inbound_id)
        contact = session.get(PhoneContact, row.conversation_id)
        planned = _plan(row, contact)
        if planned.kind == "message" and not contact.pending_media and not row.media:
            return _survey_answer(session, row, contact, planned)
        return planned


def _survey_answer(session: Session, row: InboundMessage, contact: PhoneContact, planned: Plan) -> Plan:
    """A reply of 1 to 5 to the satisfaction survey sent after a case closed (bot/console/lifecycle.py),
    when the survey was the last thing we asked this number; otherwise the text goes to the dialogue."""
    from bot.console import lifecycle

    score = lifecycle.survey_score(row.body)
    survey = lifecycle.survey_awaiting(session, contact.number, row.received_at) if score else None
    if survey is None:
        return planned
    language = session.get(Case, survey.case_id).language
    return Plan("survey", message_sid=row.message_sid, channel=row.channel, notes=[lifecycle.SURVEY_THANKS],
                survey=(survey.case_id, score), language=language)


def _plan(row: InboundMessage, contact: PhoneContact) -> Plan:
    body = row.body or ""
    word = sms.keyword(body)
    base = dict(message_sid=row.message_sid, channel=row.channel)
    if word in sms.OPT_OUT_WORDS:
        return Plan("opt_out", **base)
    if contact.opted_out and word in sms.OPT_IN_WORDS:
        return Plan("opt_in", **base)
    if word in sms.HELP_WORDS:
        return Plan("help", notes=[sms.HELP_REPLY], **base)
    if word in sms.EXIT_WORDS:
        return Plan("exit", notes=[sms.EXIT_REPLY], **base)
    options = contact.options
    pending = contact.pending_media
    notes = []
    if pending:
        choice = sms.chosen_option(body, options)
        if choice and choice.get("payload") == KEEP:
            return Plan("keep_media", media=pending["items"], **base)
        if choice and choice.get("payload") == DELETE:
            return Plan("delete_media", notes=[sms.MEDIA_DELETED], media=pending["items"], **base)
        notes.append(sms.MEDIA_NOT_KEPT)
        options = (pending.get("resume") or {}).get("options")
    choice = sms.chosen_option(body, options)
    text = choice["payload"] if choice else (body if body.strip() else None)
    return Plan("message", text=text, notes=notes, ask_media=list(row.media or []), **base)


# --- What goes back ---------------------------------------------------------------------------

@dataclass(frozen=True)
class BotMessage:
    text: str
    buttons: tuple = ()  # ({"title", "payload"}, ...)


def finish(factory: sessionmaker, settings: Settings, inbound_id: int, p: Plan, replies: list[BotMessage],
           language: str, now: Optional[datetime] = None) -> None:
    """Send the reply (through the outbox) and mark the text handled, in one transaction."""
    now = now or datetime.now(timezone.utc)
    with factory() as session:
        found = _waiting(session, inbound_id)
        if found is None:
            return
        row, contact = found
        shown = _reply(contact, p, replies, language)
        if p.kind != "opt_out" and not contact.opted_out and shown.strip():
            _send(session, settings, row, contact, mark_direction(shown, language), now)
        _handled(row, contact, now)
        if p.kind == "opt_out":
            contact.opted_out = True
            stop_sending(session, contact.number, now)
        elif p.kind == "opt_in":
            contact.opted_out = False
        elif p.kind == "survey":
            from bot.console.lifecycle import record_survey_answer

            record_survey_answer(session, p.survey[0], p.survey[1], now)
        session.commit()


def finish_quietly(factory: sessionmaker, settings: Settings, inbound_id: int, notice: bool, language: str,
                   now: Optional[datetime] = None) -> None:
    """A text over the rate limit (bot/ratelimit.py), which the dialogue has had: marked handled with
    no reply, or with the kind message alone when ``notice``; the options and the last reply stay as
    the person last saw them."""
    now = now or datetime.now(timezone.utc)
    with factory() as session:
        found = _waiting(session, inbound_id)
        if found is None:
            return
        row, contact = found
        if notice and not contact.opted_out:
            _send(session, settings, row, contact, mark_direction(kind_message(language, texts=True), language), now)
        _handled(row, contact, now)
        session.commit()


def _waiting(session: Session, inbound_id: int) -> Optional[tuple[InboundMessage, PhoneContact]]:
    """The text and its number's contact, unless the text is gone or handled already (a retry)."""
    row = session.get(InboundMessage, inbound_id)
    if row is None or row.status == "done":
        return None
    return row, session.get(PhoneContact, row.conversation_id)


def _handled(row: InboundMessage, contact: PhoneContact, now: datetime) -> None:
    """Marked handled, and its words cleared: they live on in the conversation."""
    row.status, row.body, row.media, row.handled_at = "done", None, None, now
    contact.updated_at = now


def _reply(contact: PhoneContact, p: Plan, replies: list[BotMessage], language: str) -> str:
    """The text to send, and the contact's options and last reply as it leaves them."""
    parts = [translate(note, language) for note in p.notes]
    if p.kind in ("opt_out", "opt_in", "help", "survey"):  # the conversation is where it was
        return "\n\n".join(parts)
    if p.kind == "exit":
        contact.options = contact.pending_media = contact.last_reply = None
        return "\n\n".join(parts)
    options: list = []
    last_with_buttons = max((n for n, r in enumerate(replies) if r.buttons), default=None)
    for n, reply in enumerate(replies):
        text = reply.text.strip()
        if reply.buttons and n != last_with_buttons:  # only one set can be numbered: the others are named
            text = f"{text}\n{' / '.join(b['title'] for b in reply.buttons)}".strip()
        if text:
            parts.append(text)
        if n == last_with_buttons:
            options = [{"title": b["title"], "payload": b["payload"]} for b in reply.buttons]
    if p.kind in ("keep_media", "delete_media") or (p.notes and contact.pending_media):
        resume = (contact.pending_media or {}).get("resume") or {}
        contact.pending_media = None
        if p.kind != "message":  # the question the photo interrupted, asked again
            parts.append(resume.get("text") or "")
            options = resume.get("options") or []
    if not replies and p.kind == "message":  # a photo with no words: the question stands
        options = contact.options or []
    reply_text = "\n\n".join(part for part in parts if part)
    if p.ask_media:
        resume_text = reply_text if replies else (contact.last_reply or "")
        contact.pending_media = {"items": p.ask_media, "resume": {"text": resume_text, "options": options}}
        contact.options = [{"title": translate(sms.MEDIA_KEEP, language), "payload": KEEP},
                           {"title": translate(sms.MEDIA_DELETE, language), "payload": DELETE}]
        question = translate(sms.MEDIA_QUESTION, language)
        return sms.with_options(f"{reply_text}\n\n{question}" if reply_text else question, contact.options, language)
    contact.options = options or None
    if replies:
        contact.last_reply = reply_text
    return sms.with_options(reply_text, options, language)


def _send(session: Session, settings: Settings, row: InboundMessage, contact: PhoneContact, text: str,
          now: datetime) -> None:
    if row.channel == "sms":
        pieces = sms.split_segments(text)
    else:
        pieces = sms.split_segments(text, limit=WHATSAPP_MAX_CHARS)
    for n, piece in enumerate(pieces):
        enqueue(session, dedupe_key=f"reply:{row.message_sid}:{n}", topic="reply",
                contact=Contact(row.channel, contact.number), body=piece, sender=contact.service_number, now=now)


def stop_sending(session: Session, number: str, now: datetime) -> int:
    """The number opted out: nothing waiting to go to it by text or WhatsApp is sent."""
    done = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.recipient == number, OutboxMessage.transport.in_(("sms", "whatsapp")),
               OutboxMessage.status.in_(("pending", "held")))
        .values(status="cancelled", last_error="opted_out", locked_until=None)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount


def release_held(session: Session, number: str, now: datetime) -> int:
    """The person wrote on WhatsApp again: the messages held since its 24-hour window closed go now."""
    done = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.recipient == number, OutboxMessage.transport == "whatsapp", OutboxMessage.status == "held")
        .values(status="pending", next_attempt_at=now, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount


def forget_unsent(factory: sessionmaker, conversation_id: str) -> None:
    """EXIT: what the number's conversation was waiting on goes: the numbered options, the photos
    not yet kept, the last reply kept to ask again."""
    with factory() as session:
        contact = session.get(PhoneContact, conversation_id)
        if contact is not None:
            contact.options = None
            contact.pending_media = None
            contact.last_reply = None
        session.commit()


# --- Evidence ---------------------------------------------------------------------------------

def media_url_allowed(url: str, settings: Settings) -> bool:
    """Only Twilio's own media addresses are fetched (with the account's credentials): never a
    URL a forged request could point at another server."""
    parts = urlsplit(url)
    api = urlsplit(settings.twilio_api_base)
    host = (parts.hostname or "").lower()
    if parts.scheme == api.scheme and host == (api.hostname or "").lower() and parts.port == api.port:
        return True
    return parts.scheme == "https" and (host == "twilio.com" or host.endswith(".twilio.com")) and parts.port is None


def fetch_media(url: str, settings: Settings, timeout: float = 15.0) -> tuple[bytes, str]:
    """A photo or file from Twilio, with the account's credentials; raises on any failure or one
    larger than EVIDENCE_MAX_BYTES."""
    import requests

    if not media_url_allowed(url, settings):
        raise ValueError("not a Twilio media address")
    with requests.get(url, auth=(settings.twilio_account_sid, settings.twilio_auth_token), timeout=timeout,
                      stream=True, allow_redirects=True) as answer:
        if not media_url_allowed(answer.url, settings) and not answer.url.startswith("https://"):
            raise ValueError("redirected away from Twilio")
        answer.raise_for_status()
        data = bytearray()
        for chunk in answer.iter_content(64 * 1024):
            data.extend(chunk)
            if len(data) > settings.evidence_max_bytes:
                raise ValueError("too large")
        return bytes(data), (answer.headers.get("Content-Type") or "application/octet-stream")[:100]


def delete_media(url: str, settings: Settings, timeout: float = 15.0) -> None:
    """Ask Twilio to delete its copy once ours is kept (or refused): best effort."""
    import requests

    if not media_url_allowed(url, settings):
        return
    try:
        requests.delete(url, auth=(settings.twilio_account_sid, settings.twilio_auth_token), timeout=timeout)
    except requests.RequestException as exc:
        log.warning("could not delete a media file at Twilio (%s)", type(exc).__name__)


def keep_evidence(factory: sessionmaker, conversation_id: str, files: list[tuple[bytes, str]],
                  now: Optional[datetime] = None) -> int:
    """Store the files the person agreed to keep, with their case if it exists already (a case
    made later takes them then: bot.cases.submit_report)."""
    now = now or datetime.now(timezone.utc)
    with factory() as session:
        case_id = session.execute(
            select(Case.id).where(Case.conversation_id == conversation_id).order_by(Case.id.desc()).limit(1)
        ).scalar()
        for data, content_type in files:
            session.add(Evidence(conversation_id=conversation_id, case_id=case_id, content_type=content_type,
                                 size=len(data), sha256=hashlib.sha256(data).hexdigest(), data=data,
                                 consented_at=now, received_at=now))
        session.commit()
    return len(files)


def link_evidence(session: Session, case: Case) -> None:
    """Evidence kept before the case existed joins it (in the caller's transaction)."""
    session.execute(
        update(Evidence)
        .where(Evidence.conversation_id == case.conversation_id, Evidence.case_id.is_(None))
        .values(case_id=case.id)
        .execution_options(synchronize_session=False)
    )

"""The case database. Times are stored as UTC; what people wrote is stored encrypted.

A case holds every answer of the report (one column per question, so that
monitoring can count them), the consent records, the work orders the report
raised, and an append-only trail of everything that happened to it. Officers,
their leave and the calls booked with them (bot/booking/) live here too.

Free text that can identify the person or tell what happened to them (the report's
text answers, notes, message bodies, evidence, the safety check's answers) has an
``Encrypted*`` column type: encrypted on the way in and decrypted on the way out
(bot/crypto.py), so such a column is never compared in SQL. Codes, dates and flags
stay in clear for monitoring, and so do the phone numbers and email addresses that
subject access and replies look up.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    LargeBinary,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import registry, relationship
from sqlalchemy.sql import operators

from bot import crypto

mapper_registry = registry()
Base = mapper_registry.generate_base()
metadata = Base.metadata


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware one")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _only_null(op, other: tuple) -> None:
    null = len(other) == 1 and other[0] is None
    if op in (operators.is_, operators.is_not) or (op in (operators.eq, operators.ne) and null):
        return
    raise TypeError(f"an encrypted column cannot be used in SQL ({op.__name__}): only IS NULL and IS NOT NULL; "
                    "read the values and compare them in Python")


class _NullOnly(TypeDecorator.Comparator):
    """An encrypted column compares with NULL only. Anything else (=, LIKE, IN, ORDER BY) would meet
    ciphertexts, which differ at every write, and silently find nothing: it raises TypeError instead."""

    def operate(self, op, *other, **kwargs):
        _only_null(op, other)
        return super().operate(op, *other, **kwargs)

    def reverse_operate(self, op, other, **kwargs):
        _only_null(op, (other,))
        return super().reverse_operate(op, other, **kwargs)


class EncryptedText(TypeDecorator):
    """Text stored encrypted (``enc1:`` Fernet tokens, bot/crypto.py); text written before
    encryption was switched on still reads. Compared in SQL with NULL only."""

    impl = Text
    cache_ok = True
    encrypted_kind = "text"
    comparator_factory = _NullOnly

    def process_bind_param(self, value, dialect):
        return crypto.encrypt_text(value)

    def process_result_value(self, value, dialect):
        return crypto.decrypt_text(value)


class EncryptedBytes(TypeDecorator):
    """Bytes stored encrypted (a photo or file kept as evidence)."""

    impl = LargeBinary
    cache_ok = True
    encrypted_kind = "bytes"
    comparator_factory = _NullOnly

    def process_bind_param(self, value, dialect):
        return crypto.encrypt_bytes(value)

    def process_result_value(self, value, dialect):
        return crypto.decrypt_bytes(value)


class EncryptedJSON(TypeDecorator):
    """JSON stored as one encrypted JSON string (``"enc1:..."``), so the column stays JSON; JSON
    written before encryption was switched on still reads."""

    impl = JSON
    cache_ok = True
    encrypted_kind = "json"
    comparator_factory = _NullOnly

    def process_bind_param(self, value, dialect):
        return None if value is None else crypto.encrypt_text(json.dumps(value))

    def process_result_value(self, value, dialect):
        if isinstance(value, str) and crypto.is_encrypted(value):
            return json.loads(crypto.decrypt_text(value))
        return value


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_status_submitted", "status", "submitted_at"),)

    id = Column(Integer, primary_key=True)
    reference = Column(String(16), nullable=False, unique=True)
    # Idempotency key of the conversation's report: a retried submit finds the same case.
    report_id = Column(String(64), nullable=False, unique=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    channel = Column(String(20), nullable=False)
    language = Column(String(5), nullable=False)
    status = Column(String(20), nullable=False, default="new")

    # The report, one column per question (see bot/report/questions.py).
    reporter_role = Column(String(20))
    anonymous = Column(Boolean, nullable=False, default=False)
    description = Column(EncryptedText)
    incident_type = Column(JSON)
    motivation = Column(JSON)
    incident_date = Column(Date)
    incident_period = Column(String(20))
    frequency = Column(String(20))
    ongoing = Column(String(20))
    location = Column(String(20))
    address = Column(EncryptedText)
    perpetrator_known = Column(String(20))
    perpetrator_status = Column(String(20))
    perpetrator_description = Column(EncryptedText)
    witnesses = Column(String(20))
    evidence = Column(JSON)
    graffiti = Column(Boolean)
    graffiti_location = Column(EncryptedText)
    home_insecure = Column(Boolean)
    vulnerable = Column(JSON)
    contact_name = Column(EncryptedText)
    contact_phone = Column(String(32))
    contact_email = Column(String(254))
    skipped = Column(JSON, nullable=False, default=list)

    # Safety. ``risk_level`` is the level in force: the safety check's, or an officer's override.
    immediate_risk = Column(Boolean, nullable=False, default=False)
    immediate_risk_at = Column(UTCDateTime)
    risk_level = Column(String(10))
    # How to reach them safely (SafeLives: asked before the risk questions).
    safe_to_contact = Column(Boolean)  # may we use the phone or email they gave?
    safe_contact_other = Column(EncryptedText)  # a safer number or address they gave instead
    safe_times = Column(JSON)
    voicemail_ok = Column(Boolean)
    code_word = Column(EncryptedText)

    # Service-level clocks.
    submitted_at = Column(UTCDateTime, nullable=False, default=utcnow)
    first_contact_due_at = Column(UTCDateTime, nullable=False)
    first_contact_at = Column(UTCDateTime)
    review_due_at = Column(UTCDateTime, nullable=False)

    # Monitoring (Karin 5.1) and retention: the postcode district, which survives anonymisation.
    area = Column(String(8))
    anonymised_at = Column(UTCDateTime)
    # The action plan agreed with the person (Karin 4.28): how and how often we keep in touch.
    plan_method = Column(String(10))
    plan_frequency = Column(String(12))
    plan_agreed_at = Column(UTCDateTime)
    plan_agreed_by = Column(String(80))
    last_contact_at = Column(UTCDateTime)  # the latest contact made with them (the plan's clock runs from it)

    consents = relationship("Consent", back_populates="case", cascade="all, delete-orphan")
    work_orders = relationship("WorkOrder", back_populates="case", cascade="all, delete-orphan")
    assessments = relationship(
        "RiskAssessment", back_populates="case", cascade="all, delete-orphan", order_by="RiskAssessment.id"
    )
    referrals = relationship("Referral", back_populates="case", cascade="all, delete-orphan", order_by="Referral.id")
    events = relationship(
        "CaseEvent", back_populates="case", cascade="all, delete-orphan", order_by="CaseEvent.id"
    )


class Consent(Base):
    """What the person agreed may be shared, with the exact wording they were shown."""

    __tablename__ = "consents"

    id = Column(Integer, primary_key=True)
    case_id = Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    scope = Column(String(20), nullable=False)  # police | other_agencies
    granted = Column(Boolean, nullable=False)
    answered = Column(Boolean, nullable=False)  # False when they chose not to say (treated as no)
    wording_version = Column(String(40), nullable=False)
    wording_sha256 = Column(String(64), nullable=False)
    language = Column(String(5), nullable=False)
    recorded_at = Column(UTCDateTime, nullable=False)

    case = relationship("Case", back_populates="consents")


class WorkOrder(Base):
    """A job the report raised with its due time: graffiti removal, emergency repair."""

    __tablename__ = "work_orders"

    id = Column(Integer, primary_key=True)
    case_id = Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    kind = Column(String(30), nullable=False)
    status = Column(String(20), nullable=False, default="open")
    location = Column(EncryptedText)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    due_at = Column(UTCDateTime, nullable=False)
    completed_at = Column(UTCDateTime)

    case = relationship("Case", back_populates="work_orders")


class CaseEvent(Base):
    """Audit trail: who did what to the case, when. Rows are only ever added."""

    __tablename__ = "case_events"

    id = Column(Integer, primary_key=True)
    case_id = Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    actor = Column(String(80), nullable=False)
    action = Column(String(40), nullable=False)
    details = Column(JSON, nullable=False, default=dict)

    case = relationship("Case", back_populates="events")


class RiskAssessment(Base):
    """One scored safety check (bot/safety/risk_matrix.yml), with the reasons for its level.

    An officer may override the level later, with a reason; the scored level stays."""

    __tablename__ = "risk_assessments"

    id = Column(Integer, primary_key=True)
    case_id = Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    matrix_version = Column(String(40), nullable=False)
    answers = Column(EncryptedJSON, nullable=False, default=dict)
    score = Column(Integer, nullable=False)
    scored_level = Column(String(10), nullable=False)
    reasons = Column(JSON, nullable=False, default=list)  # [{"reason": ..., "points": ...}]
    escalators = Column(JSON, nullable=False, default=list)  # hard escalators found
    assessed_at = Column(UTCDateTime, nullable=False, default=utcnow)
    assessed_by = Column(String(80), nullable=False)
    override_level = Column(String(10))
    override_reason = Column(EncryptedText)
    override_by = Column(String(80))
    override_at = Column(UTCDateTime)

    case = relationship("Case", back_populates="assessments")

    @property
    def level(self) -> str:
        return self.override_level or self.scored_level


class Referral(Base):
    """A referral or action the case raised (bot/referrals.py): police, local authority,
    safeguarding, management transfer, security measures, on-call alert. One of each kind per case."""

    __tablename__ = "referrals"
    __table_args__ = (UniqueConstraint("case_id", "kind", name="uq_referral_case_kind"),)

    id = Column(Integer, primary_key=True)
    case_id = Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    kind = Column(String(40), nullable=False)
    basis = Column(String(20), nullable=False)  # consent | duty_to_disclose | policy
    reason = Column(String(60), nullable=False)  # a code from bot/referrals.py, never free text
    status = Column(String(20), nullable=False, default="open")
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    due_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    told_at = Column(UTCDateTime)  # when the person was told of it (always, for a disclosure without consent)
    outcome = Column(EncryptedText)

    case = relationship("Case", back_populates="referrals")


class OutboxMessage(Base):
    """A notification to send, written in the same transaction as what it tells of.

    The worker (bot/outbox.py) sends it with retry and backoff. Its body carries a case
    reference and a risk level, never what the person wrote."""

    __tablename__ = "outbox"

    id = Column(Integer, primary_key=True)
    dedupe_key = Column(String(120), nullable=False, unique=True)
    topic = Column(String(40), nullable=False)
    transport = Column(String(20), nullable=False)  # sms | whatsapp | email | log
    recipient = Column(String(254), nullable=False)
    sender = Column(String(64))  # the number to send from, when it matters (SMS, WhatsApp)
    subject = Column(String(200))
    body = Column(EncryptedText, nullable=False)
    template = Column(String(64))  # a WhatsApp template (ContentSid) sent instead of the body
    case_id = Column(Integer, ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    # pending | sending | sent | failed | cancelled | held (WhatsApp: until the person writes again)
    status = Column(String(20), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    locked_until = Column(UTCDateTime)
    last_error = Column(String(200))  # an error class or provider code, never message text
    provider_id = Column(String(64))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    sent_at = Column(UTCDateTime)


# --- Officers and bookings (bot/booking/) --------------------------------------------------

OFFICER_SEXES = ("female", "male")
# The ONS top-level ethnic groups (2021 census), as officers declare them (optional).
ETHNIC_ORIGINS = ("asian", "black", "mixed", "white", "other")
BOOKING_STATUSES = ("booked", "cancelled")
CONTACT_METHODS = ("phone", "video", "in_person", "sms")
UPDATE_FREQUENCIES = ("weekly", "fortnightly", "on_change")


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IS NULL OR {column} IN ({listed})", name=name)


class Officer(Base):
    """A housing officer who takes calls: who they are (as far as matching needs), when they
    work (``working_pattern``, service-local times) and where their notifications go."""

    __tablename__ = "officers"
    __table_args__ = (
        _one_of("sex", OFFICER_SEXES, "ck_officer_sex"),
        _one_of("ethnic_origin", ETHNIC_ORIGINS, "ck_officer_ethnic_origin"),
    )

    id = Column(Integer, primary_key=True)
    code = Column(String(40), nullable=False, unique=True)  # the staff code the roster file uses
    name = Column(String(120), nullable=False)
    sex = Column(String(6), nullable=False)
    languages = Column(JSON, nullable=False, default=list)  # ISO 639-1 codes, and "bsl"
    ethnic_origin = Column(String(10))  # self-declared, optional
    team = Column(String(80))
    area = Column(String(80))
    # {"mon": [["09:00", "12:30"], ["13:30", "17:00"]], ...} in the service's local time.
    working_pattern = Column(JSON, nullable=False, default=dict)
    on_call = Column(Boolean, nullable=False, default=False)
    active = Column(Boolean, nullable=False, default=True)
    contact = Column(String(254), nullable=False)  # "<transport>:<recipient>" (bot.outbox.Contact)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)

    leave = relationship("OfficerLeave", back_populates="officer", cascade="all, delete-orphan")

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name


class OfficerLeave(Base):
    """A time an officer takes no calls (holiday, sickness, training), in UTC."""

    __tablename__ = "officer_leave"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ck_officer_leave_order"),)

    id = Column(Integer, primary_key=True)
    officer_id = Column(Integer, ForeignKey("officers.id", ondelete="CASCADE"), nullable=False, index=True)
    starts_at = Column(UTCDateTime, nullable=False)
    ends_at = Column(UTCDateTime, nullable=False)

    officer = relationship("Officer", back_populates="leave")


class Booking(Base):
    """A call booked with an officer. Double booking is impossible in the database: one
    booked row per officer and start time (slots sit on a fixed grid and a call fits in one
    slot, see bot/booking/slots.py), by a partial unique index."""

    __tablename__ = "bookings"
    __table_args__ = (
        Index(
            "uq_booking_officer_slot",
            "officer_id",
            "starts_at",
            unique=True,
            postgresql_where=text("status = 'booked'"),
            sqlite_where=text("status = 'booked'"),
        ),
        CheckConstraint("ends_at > starts_at", name="ck_booking_order"),
        _one_of("status", BOOKING_STATUSES, "ck_booking_status"),
        _one_of("contact_method", CONTACT_METHODS, "ck_booking_contact_method"),
        _one_of("update_frequency", UPDATE_FREQUENCIES, "ck_booking_update_frequency"),
        _one_of("officer_sex_requested", OFFICER_SEXES, "ck_booking_sex_requested"),
        _one_of("ethnic_origin_requested", ETHNIC_ORIGINS, "ck_booking_ethnic_origin_requested"),
    )

    id = Column(Integer, primary_key=True)
    reference = Column(String(16), nullable=False, unique=True)
    case_id = Column(Integer, ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    officer_id = Column(Integer, ForeignKey("officers.id"), nullable=False)
    starts_at = Column(UTCDateTime, nullable=False, index=True)
    ends_at = Column(UTCDateTime, nullable=False)
    status = Column(String(10), nullable=False, default="booked")
    # Bumped on every reschedule; names the booking's notifications (outbox dedupe keys).
    revision = Column(Integer, nullable=False, default=1)
    contact_method = Column(String(10), nullable=False)
    phone = Column(String(32))  # the safe number to use; never put in a notification to staff
    voicemail_ok = Column(Boolean, nullable=False, default=False)
    reminders_ok = Column(Boolean, nullable=False, default=False)
    update_frequency = Column(String(12), nullable=False)
    officer_sex_requested = Column(String(6))
    ethnic_origin_requested = Column(String(10))
    language = Column(String(5), nullable=False)  # of the call: ISO 639-1, or "bsl"
    interpreter = Column(String(5))  # the language an interpreter is booked for; None when the officer speaks it
    secret_hash = Column(String(200))  # argon2 of a word only the person knows (to change or cancel)
    failed_checks = Column(Integer, nullable=False, default=0)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    cancelled_at = Column(UTCDateTime)

    officer = relationship("Officer")
    case = relationship("Case")


# --- SMS and WhatsApp (bot/channels/phone.py) ------------------------------------------------

PHONE_CHANNELS = ("sms", "whatsapp")
INBOUND_STATUSES = ("received", "done")


class InboundMessage(Base):
    """A message Twilio delivered to the webhook, stored before Twilio is answered.

    ``message_sid`` is unique: a retried webhook finds its row and is not handled again. The text
    is kept only until the message has been handled (it is then in the conversation) and cleared
    after; media links only until the person has said whether to keep them."""

    __tablename__ = "inbound_messages"
    __table_args__ = (_one_of("channel", PHONE_CHANNELS, "ck_inbound_channel"),
                      _one_of("status", INBOUND_STATUSES, "ck_inbound_status"),
                      Index("ix_inbound_pending", "conversation_id", "status", "id"))

    id = Column(Integer, primary_key=True)
    message_sid = Column(String(64), nullable=False, unique=True)
    channel = Column(String(10), nullable=False)
    conversation_id = Column(String(64), nullable=False)
    body = Column(EncryptedText)
    media = Column(JSON)  # [{"url", "content_type"}] while waiting to be handled
    status = Column(String(10), nullable=False, default="received")
    received_at = Column(UTCDateTime, nullable=False, default=utcnow)
    handled_at = Column(UTCDateTime)


class PhoneContact(Base):
    """A phone number that wrote to the service on a channel: where replies go and what the last
    reply offered. ``conversation_id`` is a keyed hash of channel and number (bot/channels/tokens.py)."""

    __tablename__ = "phone_contacts"
    __table_args__ = (_one_of("channel", PHONE_CHANNELS, "ck_contact_channel"),)

    conversation_id = Column(String(64), primary_key=True)
    channel = Column(String(10), nullable=False)
    number = Column(String(40), nullable=False)  # E.164, without the whatsapp: prefix
    service_number = Column(String(40), nullable=False)  # the number they wrote to (replies come from it)
    opted_out = Column(Boolean, nullable=False, default=False)  # STOP and the other opt-out words
    last_inbound_at = Column(UTCDateTime)  # WhatsApp's 24-hour window starts here
    options = Column(JSON)  # the numbered options of the last reply: [{"title", "payload"}]
    last_reply = Column(EncryptedText)  # the last reply sent, to ask again after a question about a photo
    pending_media = Column(JSON)  # photos or files waiting for the person's yes or no
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class Evidence(Base):
    """A photo or file a person sent and agreed to keep with their report.

    It belongs to the conversation until the case exists, then to the case too."""

    __tablename__ = "evidence"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(64), nullable=False, index=True)
    case_id = Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    content_type = Column(String(100), nullable=False)
    size = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    data = Column(EncryptedBytes, nullable=False)
    consented_at = Column(UTCDateTime, nullable=False)
    received_at = Column(UTCDateTime, nullable=False, default=utcnow)


# --- The officers' console (bot/console/) ------------------------------------------------------

STAFF_ROLES = ("officer", "team_leader", "admin")


class Staff(Base):
    """Someone who signs in to the console: an officer, a team leader or an administrator.
    Passwords are argon2 hashes; repeated failures lock the account for a while."""

    __tablename__ = "staff"
    __table_args__ = (_one_of("role", STAFF_ROLES, "ck_staff_role"),)

    id = Column(Integer, primary_key=True)
    username = Column(String(80), nullable=False, unique=True)
    name = Column(String(120), nullable=False)
    role = Column(String(20), nullable=False)
    password_hash = Column(String(200), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    failed_attempts = Column(Integer, nullable=False, default=0)
    locked_until = Column(UTCDateTime)
    officer_id = Column(Integer, ForeignKey("officers.id", ondelete="SET NULL"))  # their officer record, if any
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class StaffSession(Base):
    """A signed-in browser: only the SHA-256 of its cookie's token is stored."""

    __tablename__ = "staff_sessions"

    token_hash = Column(String(64), primary_key=True)
    staff_id = Column(Integer, ForeignKey("staff.id", ondelete="CASCADE"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    last_seen_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)


class AuditEntry(Base):
    """Who looked at or did what, when: every view of a case, a transcript or an export, and every
    change. Rows are only ever added: the database refuses UPDATE and DELETE (triggers made by the
    migration), so no officer, and no code, can edit the record."""

    __tablename__ = "audit_log"

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    actor = Column(String(80), nullable=False)  # a staff username, or "system"
    action = Column(String(40), nullable=False)
    case_reference = Column(String(16), index=True)
    details = Column(JSON, nullable=False, default=dict)


class CaseNote(Base):
    """An officer's note on a case."""

    __tablename__ = "case_notes"

    id = Column(Integer, primary_key=True)
    case_id = Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    author = Column(String(80), nullable=False)
    body = Column(EncryptedText, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)

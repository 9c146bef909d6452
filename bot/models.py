"""The case database. Times are stored as UTC.

A case holds every answer of the report (one column per question, so that
monitoring can count them), the consent records, the work orders the report
raised, and an append-only trail of everything that happened to it.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import registry, relationship

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


class Case(Base):
    __tablename__ = "cases"

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
    description = Column(Text)
    incident_type = Column(JSON)
    motivation = Column(JSON)
    incident_date = Column(Date)
    incident_period = Column(String(20))
    frequency = Column(String(20))
    ongoing = Column(String(20))
    location = Column(String(20))
    address = Column(Text)
    perpetrator_known = Column(String(20))
    perpetrator_status = Column(String(20))
    perpetrator_description = Column(Text)
    witnesses = Column(String(20))
    evidence = Column(JSON)
    graffiti = Column(Boolean)
    graffiti_location = Column(Text)
    home_insecure = Column(Boolean)
    vulnerable = Column(JSON)
    contact_name = Column(Text)
    contact_phone = Column(String(32))
    contact_email = Column(String(254))
    skipped = Column(JSON, nullable=False, default=list)

    # Safety (filled by the safety check).
    immediate_risk = Column(Boolean, nullable=False, default=False)
    risk_level = Column(String(10))

    # Service-level clocks.
    submitted_at = Column(UTCDateTime, nullable=False, default=utcnow)
    first_contact_due_at = Column(UTCDateTime, nullable=False)
    first_contact_at = Column(UTCDateTime)
    review_due_at = Column(UTCDateTime, nullable=False)

    consents = relationship("Consent", back_populates="case", cascade="all, delete-orphan")
    work_orders = relationship("WorkOrder", back_populates="case", cascade="all, delete-orphan")
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
    location = Column(Text)
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

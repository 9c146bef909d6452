"""A read-only JSON API for partner systems (the police portal, the local authority), on the web process.

  GET /api/cases/{reference}   one case
  GET /api/cases               cases, newest first, with filters and pagination

Every request needs ``Authorization: Bearer <token>``, a token from the API_TOKENS setting
("name:token" pairs, comma-separated); with none configured every request is refused. A case
carries its codes, clocks, consent, referrals and work orders, never what the person wrote
(description, address, names, numbers, safe contact, code word): a partner asks the officer for those.
Every read is written to the audit log as ``api:<name>``, in the same transaction. docs/openapi.yaml
describes it all; tests/test_api.py checks each response against that document.
"""
from __future__ import annotations

import logging
import secrets
from datetime import date, datetime, time, timedelta, timezone
from typing import Optional

from aiohttp import web
from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import selectinload

from bot.console import audit
from bot.db import session_factory
from bot.models import Case, WorkOrder
from bot.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
RISK_LEVELS = ("standard", "medium", "high")
# Query parameters the list accepts; anything else is refused, so a misspelt filter never quietly
# returns every case.
LIST_PARAMETERS = ("status", "risk_level", "immediate_risk", "channel", "submitted_from", "submitted_to",
                   "overdue", "limit", "offset")
# Work orders no longer due.
WORK_ORDERS_DONE = ("completed", "done", "cancelled")


class BadRequest(Exception):
    """A filter or pagination value the API cannot use (answered 400 with the message)."""


def parse_tokens(raw: str) -> dict[str, str]:
    """{name: token} from "name:token,name:token". Malformed entries are skipped with a warning that
    names their position only (never the token)."""
    tokens: dict[str, str] = {}
    for position, entry in enumerate(raw.split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        name, sep, token = entry.partition(":")
        name, token = name.strip(), token.strip()
        if not sep or not name or not token:
            log.warning("API_TOKENS entry %d is not name:token; ignored", position)
            continue
        tokens[name] = token
    return tokens


def authenticate(tokens: dict[str, str], header: Optional[str]) -> Optional[str]:
    """The partner's name for a valid ``Bearer`` header, else None. Every token is compared (in
    constant time each), so the time taken does not tell which one came close."""
    if not tokens or not header:
        return None
    scheme, _, given = header.partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        return None
    given_bytes = given.encode("utf-8")
    found = None
    for name, token in tokens.items():
        if secrets.compare_digest(given_bytes, token.encode("utf-8")) and found is None:
            found = name
    return found


def iso(moment: Optional[datetime]) -> Optional[str]:
    """ISO 8601 in UTC with Z, to the second."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def case_json(case: Case) -> dict:
    """What a partner system may see of a case: codes and clocks, no free text."""
    return {
        "reference": case.reference,
        "status": case.status,
        "channel": case.channel,
        "language": case.language,
        "submitted_at": iso(case.submitted_at),
        "reporter_role": case.reporter_role,
        "anonymous": bool(case.anonymous),
        "incident_type": case.incident_type,
        "motivation": case.motivation,
        "incident_date": case.incident_date.isoformat() if case.incident_date else None,
        "incident_period": case.incident_period,
        "frequency": case.frequency,
        "ongoing": case.ongoing,
        "location": case.location,
        "perpetrator_status": case.perpetrator_status,
        "immediate_risk": bool(case.immediate_risk),
        "risk_level": case.risk_level,
        "first_contact_due_at": iso(case.first_contact_due_at),
        "first_contact_at": iso(case.first_contact_at),
        "review_due_at": iso(case.review_due_at),
        "consents": [{"scope": c.scope, "granted": bool(c.granted), "wording_version": c.wording_version,
                      "recorded_at": iso(c.recorded_at)} for c in sorted(case.consents, key=lambda c: c.id)],
        "referrals": [{"kind": r.kind, "basis": r.basis, "reason": r.reason, "status": r.status,
                       "due_at": iso(r.due_at)} for r in case.referrals],
        "work_orders": [{"kind": w.kind, "status": w.status, "due_at": iso(w.due_at),
                         "completed_at": iso(w.completed_at)} for w in sorted(case.work_orders, key=lambda w: w.id)],
    }


def _boolean(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise BadRequest(f"{name} must be true or false")
    return value == "true"


def _code(name: str, raw: str) -> str:
    value = raw.strip()
    if not value or len(value) > 20 or not all(ch.isascii() and (ch.islower() or ch.isdigit() or ch == "_")
                                               for ch in value):
        raise BadRequest(f"{name} must be a code of lower-case letters, digits and _ (at most 20)")
    return value


def _moment(name: str, raw: str, end_of_day: bool) -> datetime:
    """An ISO date (a whole UTC day: from its start, or to its end) or date and time (without an
    offset, UTC)."""
    value = raw.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime.combine(day, time.min, tzinfo=timezone.utc)
            return start + timedelta(days=1) if end_of_day else start
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 date (2026-05-01) or date and time (2026-05-01T09:30:00Z)")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _integer(name: str, raw: str, low: int, high: Optional[int]) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise BadRequest(f"{name} must be a whole number")
    if value < low or (high is not None and value > high):
        raise BadRequest(f"{name} must be from {low}" + (f" to {high}" if high is not None else " up"))
    return value


def overdue_clause(now: datetime):
    """A first-contact or work-order deadline has passed and is not met."""
    first_contact = and_(Case.first_contact_at.is_(None), Case.first_contact_due_at < now)
    work_order = exists().where(WorkOrder.case_id == Case.id, WorkOrder.completed_at.is_(None),
                                WorkOrder.status.notin_(WORK_ORDERS_DONE), WorkOrder.due_at < now)
    return or_(first_contact, work_order)


def list_query(query, now: datetime) -> tuple[list, dict, int, int]:
    """The WHERE clauses, the filters as understood (for the audit log), limit and offset.
    Raises BadRequest for anything the API cannot use."""
    for name in query.keys():
        if name not in LIST_PARAMETERS:
            raise BadRequest(f"unknown parameter {name!r}; the list takes: {', '.join(LIST_PARAMETERS)}")
        if len(query.getall(name)) > 1:
            raise BadRequest(f"{name} given more than once")
    clauses, filters = [], {}
    if "status" in query:
        filters["status"] = _code("status", query["status"])
        clauses.append(Case.status == filters["status"])
    if "risk_level" in query:
        level = query["risk_level"].strip()
        if level not in RISK_LEVELS:
            raise BadRequest(f"risk_level must be one of {', '.join(RISK_LEVELS)}")
        filters["risk_level"] = level
        clauses.append(Case.risk_level == level)
    if "immediate_risk" in query:
        filters["immediate_risk"] = _boolean("immediate_risk", query["immediate_risk"])
        clauses.append(Case.immediate_risk == filters["immediate_risk"])
    if "channel" in query:
        filters["channel"] = _code("channel", query["channel"])
        clauses.append(Case.channel == filters["channel"])
    start = end = None
    end_exclusive = False
    if "submitted_from" in query:
        start = _moment("submitted_from", query["submitted_from"], end_of_day=False)
        filters["submitted_from"] = query["submitted_from"].strip()
        clauses.append(Case.submitted_at >= start)
    if "submitted_to" in query:
        raw = query["submitted_to"].strip()
        end = _moment("submitted_to", raw, end_of_day=True)
        filters["submitted_to"] = raw
        # A date includes its whole day; a date and time is included itself.
        end_exclusive = len(raw) == 10
        clauses.append(Case.submitted_at < end if end_exclusive else Case.submitted_at <= end)
    if start and end and (start >= end if end_exclusive else start > end):
        raise BadRequest("submitted_from is after submitted_to")
    if "overdue" in query:
        filters["overdue"] = _boolean("overdue", query["overdue"])
        clause = overdue_clause(now)
        clauses.append(clause if filters["overdue"] else not_(clause))
    limit = _integer("limit", query["limit"], 1, MAX_LIMIT) if "limit" in query else DEFAULT_LIMIT
    offset = _integer("offset", query["offset"], 0, None) if "offset" in query else 0
    return clauses, filters, limit, offset


def error(status: int, code: str, message: str, headers: Optional[dict] = None) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


def add_routes(app: web.Application, settings: Settings) -> None:
    tokens = parse_tokens(settings.api_tokens)
    if not tokens:
        log.info("API_TOKENS is not set: the partner API refuses every request")
    factory = session_factory(settings.database_url)

    def partner_of(request: web.Request) -> Optional[str]:
        return authenticate(tokens, request.headers.get("Authorization"))

    def unauthorised(request: web.Request) -> web.Response:
        given = "Authorization" in request.headers
        # Where from, never the token.
        log.warning("API request refused (%s token) from %s", "wrong" if given else "no", request.remote)
        challenge = 'Bearer realm="cases"' + (', error="invalid_token"' if given else "")
        return error(401, "unauthorized", "A valid bearer token is needed (Authorization: Bearer <token>).",
                     headers={"WWW-Authenticate": challenge})

    def with_children(statement):
        return statement.options(selectinload(Case.consents), selectinload(Case.referrals),
                                 selectinload(Case.work_orders))

    async def get_case(request: web.Request) -> web.Response:
        partner = partner_of(request)
        if partner is None:
            return unauthorised(request)
        reference = request.match_info["reference"]
        with factory() as session:
            case = session.execute(with_children(select(Case).where(Case.reference == reference))).scalar_one_or_none()
            if case is None:
                return error(404, "not_found", "No case has that reference.")
            body = case_json(case)
            audit.record(session, f"api:{partner}", "api_case_read", case.reference)
            session.commit()
        return web.json_response(body)

    async def list_cases(request: web.Request) -> web.Response:
        partner = partner_of(request)
        if partner is None:
            return unauthorised(request)
        now = datetime.now(timezone.utc)
        try:
            clauses, filters, limit, offset = list_query(request.query, now)
        except BadRequest as problem:
            return error(400, "bad_request", str(problem))
        with factory() as session:
            total = session.execute(select(func.count(Case.id)).where(*clauses)).scalar_one()
            cases = list(session.execute(with_children(
                select(Case).where(*clauses).order_by(Case.submitted_at.desc(), Case.id.desc())
                .limit(limit).offset(offset))).scalars())
            body = {"cases": [case_json(c) for c in cases], "total": total, "limit": limit, "offset": offset}
            audit.record(session, f"api:{partner}", "api_cases_listed", None,
                         {"filters": filters, "limit": limit, "offset": offset, "total": total,
                          "references": [c.reference for c in cases]}, now=now)
            session.commit()
        return web.json_response(body)

    app.router.add_get("/api/cases", list_cases)
    app.router.add_get("/api/cases/{reference}", get_case)

"""Subject access requests in the console (UK GDPR Art. 15), for administrators only.

/console/subject-access              a form: a case reference, a phone number or an email address
  POST /console/subject-access       what is held about that person, grouped by case, on the page
  POST /console/subject-access/export  the same as a JSON file (subject-access-<date>.json)

The identifiers travel only in POST bodies (never in a URL, so never in a server or proxy log),
and each search and export is audited with how it was searched and the cases it found, never the
identifier itself. Everything shown is escaped (the templates never mark text safe).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from bot.console import audit, privacy

FIELDS = ("reference", "phone", "email")
# The parts of each case the page shows as tables, in order, with their headings.
SECTIONS = (
    ("consents", "Consent given"),
    ("risk_assessments", "Safety checks"),
    ("referrals", "Referrals"),
    ("work_orders", "Work orders"),
    ("events", "What happened to the case"),
    ("notes", "Officers' notes"),
    ("bookings", "Calls booked"),
    ("evidence", "Photos and files kept (what each is; not the file)"),
    ("messages", "Messages sent to them or about the case"),
    ("access_log", "Who looked at or changed the case"),
)


def text_of(value: Any) -> str:
    """A value as the page shows it: lists joined, mappings as ``key: value``, nothing as blank."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {text_of(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(text_of(v) for v in value)
    return str(value)


def label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def table(rows: list[dict]) -> dict:
    """Rows of mappings as a table: the headers (every key, in first-seen order) and the cells."""
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    return {"headers": [label(k) for k in keys], "rows": [[text_of(row.get(k)) for k in keys] for row in rows]}


def view(record: dict) -> dict:
    """The subject access record, laid out for the page."""
    return {
        "cases": [{
            "reference": case["reference"],
            "report": [(label(k), text_of(v)) for k, v in case["report"].items()],
            "sections": [(title, table(case[key])) for key, title in SECTIONS],
            "transcript": case["transcript"],
        } for case in record["cases"]],
        "contacts": table(record["phone_contacts"]),
        "other_messages": table(record["other_messages"]),
        "other_bookings": table(record["other_bookings"]),
    }


def _identifiers(form) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip()[:254] for name in FIELDS}


def _searched_by(given: dict[str, str]) -> str:
    return ",".join(name for name in FIELDS if given[name]) or "nothing"


def add_routes(app: web.Application, c) -> None:
    from bot.web.console import ADMINS

    def form_page(request: web.Request, status: int = 200, **values) -> web.Response:
        values.setdefault("given", dict.fromkeys(FIELDS, ""))
        return c.page("subject_access", status=status, title="Subject access", user=request["user"], **values)

    def search(request: web.Request, action: str) -> tuple[dict, dict]:
        """The record for the form's identifiers, the search audited (how, and the cases found)."""
        given, user = _identifiers(request["form"]), request["user"]
        record = privacy.subject_access(c.factory, c.settings, **{k: v or None for k, v in given.items()})
        with c.factory() as session:
            audit.record(session, user.username, action, details={
                "by": _searched_by(given), "cases": [case["reference"] for case in record["cases"]]})
            session.commit()
        return given, record

    @c.signed_in(roles=ADMINS)
    async def start(request: web.Request) -> web.Response:
        return form_page(request)

    @c.signed_in(roles=ADMINS)
    async def results(request: web.Request) -> web.Response:
        try:
            given, record = search(request, "subject_access_viewed")
        except ValueError as exc:
            return form_page(request, status=400, error=str(exc), given=_identifiers(request["form"]))
        found = bool(record["cases"] or record["phone_contacts"] or record["other_messages"]
                     or record["other_bookings"])
        return form_page(request, given=given, result=view(record) if found else None, searched=True,
                         generated_at=record["generated_at"])

    @c.signed_in(roles=ADMINS)
    async def export(request: web.Request) -> web.Response:
        try:
            _, record = search(request, "subject_access_exported")
        except ValueError as exc:
            return form_page(request, status=400, error=str(exc), given=_identifiers(request["form"]))
        today = datetime.now(timezone.utc).date().isoformat()
        return c.download(privacy.export_json(record), f"subject-access-{today}.json", "application/json")

    app.router.add_get("/console/subject-access", start)
    app.router.add_post("/console/subject-access", results)
    app.router.add_post("/console/subject-access/export", export)

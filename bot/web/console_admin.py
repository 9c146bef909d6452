"""Administrators' and team leaders' console pages.

/console/staff                     administrators: the accounts, and a form to add one
  POST /console/staff              add an account (officer, team leader or administrator)
  POST /console/staff/{id}/active  deactivate (their sessions end at once) or reactivate
  POST /console/staff/{id}/role    change the role (from their next sign-in)
  POST /console/staff/{id}/password  set a new password (to give them privately); unlocks
  POST /console/staff/{id}/unlock  lift a lock-out
/console/audit                     team leaders and administrators: the audit log, newest first,
                                   filtered by case reference or by who acted

Every change is audited by bot.console.auth; reading the audit log is itself audited.
"""
from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web
from sqlalchemy import select

from bot.console import audit, auth
from bot.models import STAFF_ROLES, AuditEntry, Officer

AUDIT_PAGE = 200


def add_routes(app: web.Application, c) -> None:
    from bot.web.console import ADMINS, LEADERS

    def staff_page(request: web.Request, error: str = "", message: str = "", status: int = 200) -> web.Response:
        return c.page("staff", status=status, title="Staff", user=request["user"], accounts=auth.accounts(c.factory),
                      roles=STAFF_ROLES, error=error, message=message, now=datetime.now(timezone.utc))

    @c.signed_in(roles=ADMINS)
    async def list_staff(request: web.Request) -> web.Response:
        return staff_page(request, message={"added": "Account added.", "changed": "Account changed."}.get(
            request.query.get("done", ""), ""))

    @c.signed_in(roles=ADMINS)
    async def add(request: web.Request) -> web.Response:
        form, user = request["form"], request["user"]
        officer_id = None
        code = str(form.get("officer_code", "")).strip()
        try:
            if code:
                with c.factory() as session:
                    officer = session.execute(select(Officer).where(Officer.code == code)).scalar_one_or_none()
                    if officer is None:
                        raise auth.AccountError("no officer has that staff code (load the officer file first)")
                    officer_id = officer.id
            auth.add_staff(c.factory, username=str(form.get("username", "")), name=str(form.get("name", "")),
                           role=str(form.get("role", "")), password=str(form.get("password", "")),
                           actor=user.username, officer_id=officer_id)
        except auth.AccountError as exc:
            return staff_page(request, error=f"Not added: {exc}.", status=400)
        raise web.HTTPSeeOther("/console/staff?done=added")

    def change(work):
        @c.signed_in(roles=ADMINS)
        async def handler(request: web.Request) -> web.Response:
            try:
                work(int(request.match_info["staff_id"]), request["form"], request["user"].username)
            except (auth.AccountError, ValueError) as exc:
                return staff_page(request, error=f"Not changed: {exc}.", status=400)
            raise web.HTTPSeeOther("/console/staff?done=changed")
        return handler

    @c.signed_in(roles=LEADERS)
    async def audit_log(request: web.Request) -> web.Response:
        reference = request.query.get("case", "").strip().upper()[:16]
        actor = request.query.get("actor", "").strip().lower()[:80]
        try:
            before = int(request.query.get("before", "0") or 0)
        except ValueError:
            before = 0
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(AUDIT_PAGE)
        if reference:
            query = query.where(AuditEntry.case_reference == reference)
        if actor:
            query = query.where(AuditEntry.actor == actor)
        if before:
            query = query.where(AuditEntry.id < before)
        user = request["user"]
        with c.factory() as session:
            entries = list(session.execute(query).scalars())
            audit.record(session, user.username, "audit_log_viewed", reference or None,
                         {"actor": actor} if actor else None)
            session.commit()
            return c.page("audit", title="Audit log", user=user, entries=entries, case=reference, actor=actor,
                          more=entries[-1].id if len(entries) == AUDIT_PAGE else None)

    app.router.add_get("/console/staff", list_staff)
    app.router.add_post("/console/staff", add)
    app.router.add_post("/console/staff/{staff_id:\\d+}/active", change(
        lambda sid, form, actor: auth.set_active(c.factory, sid, form.get("active") == "yes", actor=actor)))
    app.router.add_post("/console/staff/{staff_id:\\d+}/role", change(
        lambda sid, form, actor: auth.set_role(c.factory, sid, str(form.get("role", "")), actor=actor)))
    app.router.add_post("/console/staff/{staff_id:\\d+}/password", change(
        lambda sid, form, actor: auth.set_password(c.factory, sid, str(form.get("password", "")), actor=actor)))
    app.router.add_post("/console/staff/{staff_id:\\d+}/unlock", change(
        lambda sid, form, actor: auth.unlock(c.factory, sid, actor=actor)))
    app.router.add_get("/console/audit", audit_log)

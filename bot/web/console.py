"""The officers' console pages, under /console/ on the web process (Jinja2, escaped by default).

/console/login           sign in (a CSRF token bound to a short-lived cookie); five failures lock
/console/logout          sign out (POST, with the session's CSRF token)
/console/                the queue: danger first, then risk, then the nearest deadline
/console/reviews         the reviews due at 3 months (Karin 4.29) in the next 14 days, or overdue
/console/cases/{ref}     a case: the report, consent, safety check, referrals, notes and history
  POST .../contact       record contact made (the first meets the 24-hour standard)
  POST .../plan          record the action plan agreed with the person (method and frequency, 4.28)
  POST .../notes         add a note
  POST .../transcript    open the conversation, for a reason given (audited with it)
  POST .../referral      record a referral's outcome
  POST .../action        record an action taken from the policies' range
  POST .../risk          override the risk level, with a reason (the scored level is kept)
  POST .../close         close it (the person told; a reason; the survey sent); .../appeal reopens

Every page needs a session (a cookie holding a random token; only its hash is stored), every POST
its CSRF token, and every view of a case is written to the append-only audit log. Pages carry no
script at all (script-src 'none'), and everything a person wrote is escaped.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timezone
from pathlib import Path

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.console import audit, auth, lifecycle
from bot.console.transcript import REASONS, transcript
from bot.console.queue import DEADLINE_NAMES, REVIEW_AHEAD_DAYS, queue, reviews
from bot.db import session_factory
from bot.i18n import format_when
from bot.models import Booking, Case, CaseNote
from bot.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
COOKIE = "hcbot_console"
LOGIN_COOKIE = "hcbot_console_login"
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


ROLE_NAMES = {"officer": "officer", "team_leader": "team leader", "admin": "administrator"}
# What each role may do beyond working cases (every role works cases): team leaders see the
# monitoring figures and the audit log; administrators also manage staff and answer subject
# access requests.
LEADERS = ("team_leader", "admin")
ADMINS = ("admin",)


class Console:
    """What every console page shares: the templates, the database, the session check, roles."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                               trim_blocks=True, lstrip_blocks=True)
        self.factory = session_factory(settings.database_url)
        self.secure = settings.rasa_public_url.startswith("https://")

    def when(self, moment) -> str:
        return format_when(moment, "en", self.settings.timezone) if moment else ""

    def page(self, name: str, status: int = 200, **values) -> web.Response:
        html = self.env.get_template(f"console/{name}.html").render(
            when=self.when, names=DEADLINE_NAMES, role_names=ROLE_NAMES, leaders=LEADERS, admins=ADMINS, **values)
        response = web.Response(text=html, content_type="text/html", charset="utf-8", status=status)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def download(self, body: bytes, filename: str, content_type: str) -> web.Response:
        return web.Response(body=body, content_type=content_type, headers={
            "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff", "Content-Security-Policy": CSP})

    def signed_in(self, handler=None, *, roles: tuple = ()):
        """A handler that needs a session (and one of ``roles``, when given), and a CSRF token on POST."""
        def wrap(handler):
            async def wrapped(request: web.Request):
                user = auth.current(self.factory, request.cookies.get(COOKIE))
                if user is None:
                    raise web.HTTPSeeOther("/console/login")
                if roles and user.role not in roles:
                    with self.factory() as session:
                        audit.record(session, user.username, "access_refused", details={"path": request.path[:100]})
                        session.commit()
                    return self.page("refused", status=403, title="Not for your role", user=user)
                if request.method == "POST":
                    form = await request.post()
                    if not auth.csrf_ok(user, form.get("csrf")):
                        raise web.HTTPForbidden(text="This form has expired. Go back, reload the page and try again.")
                    request["form"] = form
                request["user"] = user
                return await handler(request)
            return wrapped
        return wrap(handler) if handler is not None else wrap

    @staticmethod
    def load_case(session, reference: str) -> Case:
        case = session.execute(
            select(Case).where(Case.reference == reference).options(
                selectinload(Case.consents), selectinload(Case.work_orders), selectinload(Case.assessments),
                selectinload(Case.referrals), selectinload(Case.events))
        ).scalar_one_or_none()
        if case is None:
            raise web.HTTPNotFound(text="No case has that reference.")
        return case


def _survey(case: Case) -> dict:
    """The satisfaction survey's state, from the case's events: sent or not, and the answers."""
    sent = [e for e in case.events if e.action == "survey"]
    return {"status": sent[-1].details.get("status") if sent else None,
            "answers": [(e.at, e.details.get("score")) for e in case.events if e.action == "survey_answer"]}


def add_routes(app: web.Application, settings: Settings) -> None:
    from bot.web import console_admin, console_monitoring, console_privacy

    c = Console(settings)
    factory, secure, page, signed_in, load_case = c.factory, c.secure, c.page, c.signed_in, c.load_case

    async def login_form(request: web.Request, error: str = "", status: int = 200) -> web.Response:
        token = secrets.token_urlsafe(24)
        response = page("login", status=status, title="Sign in", csrf=token, error=error, user=None)
        response.set_cookie(LOGIN_COOKIE, token, max_age=1800, path="/console", httponly=True, samesite="Strict",
                            secure=secure)
        return response

    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        cookie = request.cookies.get(LOGIN_COOKIE)
        if not cookie or not secrets.compare_digest(cookie, str(form.get("csrf", ""))):
            return await login_form(request, "The sign-in form had expired. Please try again.", status=403)
        peer = request.remote or ""
        signed = auth.sign_in(factory, str(form.get("username", "")), str(form.get("password", "")), ip=peer)
        if signed is None:
            return await login_form(request, "Those details did not work, or the account is locked for a while. "
                                             "Please try again, or ask an administrator.", status=401)
        response = web.HTTPSeeOther("/console/")
        response.set_cookie(COOKIE, signed.token, path="/console", httponly=True, samesite="Strict", secure=secure)
        response.del_cookie(LOGIN_COOKIE, path="/console")
        raise response

    @signed_in
    async def logout(request: web.Request) -> web.Response:
        auth.sign_out(factory, request.cookies.get(COOKIE))
        response = web.HTTPSeeOther("/console/login")
        response.del_cookie(COOKIE, path="/console")
        raise response

    @signed_in
    async def queue_page(request: web.Request) -> web.Response:
        user = request["user"]
        with factory() as session:
            rows = queue(session)
            audit.record(session, user.username, "queue_viewed", details={"cases": len(rows)})
            session.commit()
            return page("queue", title="Cases", rows=rows, user=user)

    @signed_in
    async def reviews_page(request: web.Request) -> web.Response:
        user = request["user"]
        now = datetime.now(timezone.utc)
        with factory() as session:
            due = reviews(session, now)
            audit.record(session, user.username, "reviews_viewed", details={"cases": len(due)})
            session.commit()
            return page("reviews", title="Reviews", cases=due, now=now, ahead=REVIEW_AHEAD_DAYS, user=user)

    DONE = {"first_contact": "First contact recorded.", "contact": "Contact recorded.", "plan": "Action plan recorded.",
            "note": "Note added.", "referral": "Outcome recorded.", "action": "Action recorded.",
            "close": "Case closed; the survey goes to their safe contact.",
            "close_no_survey": "Case closed. No survey was sent: there is no safe way to reach them in writing.",
            "appeal": "Case reopened on appeal.", "risk": "Risk level changed; the scored level is kept."}

    def render_case(user, reference: str, message: str = "", error: str = "", status: int = 200) -> web.Response:
        with factory() as session:
            case = load_case(session, reference)
            audit.record(session, user.username, "case_viewed", case.reference)
            session.commit()
            notes = list(session.execute(
                select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id)).scalars())
            history = sorted([*case.events, *audit.for_case(session, case.reference)], key=lambda e: e.at)
            bookings = list(session.execute(
                select(Booking).where(Booking.case_id == case.id).options(selectinload(Booking.officer))
                .order_by(Booking.starts_at)).scalars())
            return page("case", status=status, title=f"Case {case.reference}", case=case, notes=notes,
                        history=history, user=user, message=message, error=error, reasons=REASONS,
                        outcomes=lifecycle.REFERRAL_OUTCOMES, actions=lifecycle.POLICY_ACTIONS,
                        closure_reasons=lifecycle.CLOSURE_REASONS, told_by=lifecycle.TOLD_BY, bookings=bookings,
                        contact_methods=lifecycle.CONTACT_METHODS, plan_methods=lifecycle.PLAN_METHODS,
                        plan_frequencies=lifecycle.PLAN_FREQUENCIES, next_update=lifecycle.next_update_due(case),
                        survey=_survey(case))

    @signed_in
    async def case_page(request: web.Request) -> web.Response:
        return render_case(request["user"], request.match_info["reference"],
                           message=DONE.get(request.query.get("done", ""), ""))

    def lifecycle_step(done: str, work):
        """A POST that changes the case through bot.console.lifecycle, then back to the case page."""
        @signed_in
        async def handler(request: web.Request) -> web.Response:
            user, reference, form = request["user"], request.match_info["reference"], request["form"]
            try:
                outcome = work(user.username, reference, form)
            except lifecycle.LifecycleError as exc:  # said on the case page, above the forms
                return render_case(user, reference, error=f"Not recorded: {exc}", status=400)
            raise web.HTTPSeeOther(f"/console/cases/{reference}?done={outcome or done}")
        return handler

    def _referral(officer, reference, form):
        try:
            referral_id = int(form.get("referral", ""))
        except ValueError:
            raise lifecycle.LifecycleError("Choose a referral.") from None
        lifecycle.record_referral_outcome(factory, reference=reference, referral_id=referral_id,
                                          outcome=str(form.get("outcome", "")), officer=officer)

    def _action(officer, reference, form):
        lifecycle.record_action(factory, reference=reference, action=str(form.get("action", "")), officer=officer,
                                note=str(form.get("note", "")))

    def _close(officer, reference, form):
        closed = lifecycle.close_case(factory, settings, reference=reference, reason=str(form.get("reason", "")),
                                      told_by=str(form.get("told_by", "")), officer=officer)
        return "close" if closed.survey == "sent" else "close_no_survey"

    def _contact(officer, reference, form):
        first = lifecycle.record_contact(factory, reference=reference, method=str(form.get("how", "")), officer=officer)
        return "first_contact" if first else "contact"

    def _plan(officer, reference, form):
        lifecycle.agree_plan(factory, reference=reference, method=str(form.get("method", "")),
                             frequency=str(form.get("frequency", "")), officer=officer)

    def _appeal(officer, reference, form):
        lifecycle.appeal(factory, reference=reference, officer=officer)

    def _override(officer, reference, form):
        from bot.cases import override_risk

        try:
            override_risk(factory, settings, case_reference=reference, level=str(form.get("level", "")),
                          reason=str(form.get("reason", "")), officer=officer)
        except ValueError as exc:
            raise lifecycle.LifecycleError(str(exc).capitalize() + ".") from None

    @signed_in
    async def transcript_page(request: web.Request) -> web.Response:
        """The conversation, opened on purpose: a reason is required and written to the audit log."""
        user, reference, form = request["user"], request.match_info["reference"], request["form"]
        reason = str(form.get("reason", ""))
        if reason not in REASONS:
            raise web.HTTPBadRequest(text="Choose why you are opening the conversation.")
        with factory() as session:
            case = load_case(session, reference)
            audit.record(session, user.username, "transcript_viewed", case.reference, {"reason": reason})
            session.commit()
            conversation_id = case.conversation_id
        lines = transcript(settings.tracker_database_url, conversation_id)
        return page("transcript", title=f"Conversation of {reference}", case=case, lines=lines, user=user,
                    reason=REASONS[reason])

    @signed_in
    async def add_note(request: web.Request) -> web.Response:
        user, reference, form = request["user"], request.match_info["reference"], request["form"]
        body = str(form.get("body", "")).strip()[:5000]
        if not body:
            raise web.HTTPBadRequest(text="A note cannot be empty.")
        with factory() as session:
            case = load_case(session, reference)
            session.add(CaseNote(case_id=case.id, author=user.username, body=body))
            audit.record(session, user.username, "note_added", case.reference)
            session.commit()
        raise web.HTTPSeeOther(f"/console/cases/{reference}?done=note")

    async def stylesheet(_: web.Request) -> web.Response:
        return web.Response(body=(STATIC / "console.css").read_bytes(), content_type="text/css", charset="utf-8",
                            headers={"Cache-Control": "no-cache"})

    app.router.add_get("/console/login", login_form)
    app.router.add_post("/console/login", login)
    app.router.add_post("/console/logout", logout)
    app.router.add_get("/console/", queue_page)
    app.router.add_get("/console/reviews", reviews_page)
    app.router.add_get("/console/cases/{reference}", case_page)
    app.router.add_post("/console/cases/{reference}/contact", lifecycle_step("contact", _contact))
    app.router.add_post("/console/cases/{reference}/plan", lifecycle_step("plan", _plan))
    app.router.add_post("/console/cases/{reference}/notes", add_note)
    app.router.add_post("/console/cases/{reference}/transcript", transcript_page)
    app.router.add_post("/console/cases/{reference}/referral", lifecycle_step("referral", _referral))
    app.router.add_post("/console/cases/{reference}/action", lifecycle_step("action", _action))
    app.router.add_post("/console/cases/{reference}/close", lifecycle_step("close", _close))
    app.router.add_post("/console/cases/{reference}/appeal", lifecycle_step("appeal", _appeal))
    app.router.add_post("/console/cases/{reference}/risk", lifecycle_step("risk", _override))
    app.router.add_get("/console/console.css", stylesheet)
    console_admin.add_routes(app, c)
    console_privacy.add_routes(app, c)
    console_monitoring.add_routes(app, c)

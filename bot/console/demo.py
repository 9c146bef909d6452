"""Demo data for the console, so a fresh clone shows something: three accounts (one per role) and a handful of
cases made the way the bot makes them (bot.cases.submit_report, record_safety_check), at times in
the past so that some deadlines are near and one is missed.

`make run` loads it only into the embedded development database (SQLite) when it has no staff
and no cases; the demo password is printed then, and must never be used anywhere else.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bot.cases import record_safety_check, submit_report
from bot.console.auth import add_staff
from bot.models import Case, Staff
from bot.settings import Settings

DEMO_PASSWORD = "demo-password-for-this-machine-only"
DEMO_STAFF = (("demo.officer", "Dana Officer", "officer"), ("demo.leader", "Lee Team Leader", "team_leader"),
              ("demo.admin", "Ade Administrator", "admin"))

_BASE = {"reporter_role": "victim", "frequency": "repeated", "ongoing": "yes", "location": "home",
         "perpetrator_known": "known", "perpetrator_status": "our_tenant", "witnesses": "no", "graffiti": "no",
         "home_insecure": "no", "vulnerable": ["none"], "consent_police": "yes", "consent_agencies": "yes"}

# (report id, hours ago, immediate risk, answers, safety check answers or None)
DEMO_CASES = (
    ("demo-1", 2, True, dict(_BASE, description="The man upstairs said he would burn my flat down tonight.",
                             incident_type=["violence"], motivation=["race"], address="Flat 2, Elm House, NE6 1AB",
                             contact_name="Demo Person A", contact={"phone": "+447700900001"}), None),
    ("demo-2", 30, False, dict(_BASE, description="Someone sprayed a racist slogan on my front door.",
                               incident_type=["graffiti", "racist"], motivation=["race"], graffiti="yes",
                               graffiti_location="front door", address="12 Birch Road, NE6 2DJ", contact_name="Demo Person B",
                               contact={"phone": "+447700900002"}),
     {"safe_to_talk": "yes", "risk_afraid_of": ["not_afraid"], "risk_injured": "no", "risk_safe_tonight": "yes",
      "risk_health_effect": ["not_really"]}),
    ("demo-3", 6, False, dict(_BASE, description="Neighbours shout homophobic abuse at us and follow us to the bus.",
                              incident_type=["abuse"], motivation=["sexual_orientation"], address="Flat 9, Ash Court, NE4 7EF",
                              contact_name="Demo Person C", contact={"email": "demo.c@example.org"}),
     {"safe_to_talk": "yes", "risk_afraid_of": ["further_abuse"], "risk_injured": "no", "risk_safe_tonight": "no",
      "risk_health_effect": ["a_lot"]}),
    ("demo-4", 20, False, dict(_BASE, reporter_role="witness", anonymous="yes",
                               description="I saw a woman being spat at on the estate because of her headscarf.",
                               incident_type=["abuse"], motivation=["religion"], location="estate",
                               perpetrator_known="unknown", perpetrator_status="unknown"), None),
)


def is_development(settings: Settings) -> bool:
    return settings.database_url.startswith("sqlite")


def ensure_demo(factory: sessionmaker, settings: Settings, now: Optional[datetime] = None) -> tuple[bool, bool]:
    """The demo accounts into a database with no staff, the demo cases into one with no cases:
    (accounts loaded, cases loaded)."""
    now = now or datetime.now(timezone.utc)
    with factory() as session:
        no_staff = not session.execute(select(func.count()).select_from(Staff)).scalar()
        no_cases = not session.execute(select(func.count()).select_from(Case)).scalar()
    if no_staff:
        for username, name, role in DEMO_STAFF:
            add_staff(factory, username=username, name=name, role=role, password=DEMO_PASSWORD, actor="demo")
    if not no_cases:
        return no_staff, False
    for report_id, hours_ago, danger, answers, safety in DEMO_CASES:
        when = now - timedelta(hours=hours_ago)
        made = submit_report(factory, settings, report_id=report_id, conversation_id=f"demo-conversation-{report_id}",
                             channel="webchat", language="en", answers=answers, immediate_risk=danger, now=when)
        if safety:
            record_safety_check(factory, settings, case_reference=made.reference,
                                conversation_id=f"demo-conversation-{report_id}", answers=safety,
                                now=when + timedelta(minutes=5))
    return no_staff, True

"""Service-level clocks the policies promise (Karin 4.24, 4.25, 4.29; Karbon 3.3.7).

- first contact within 24 hours of the report;
- offensive or discriminatory graffiti removed within 24 hours of being told;
- damage that leaves a home insecure is an emergency repair (attend to make safe);
- every open case reviewed after 3 months.
Hours and months are settings (README lists them).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from bot.settings import Settings


@dataclass(frozen=True)
class Clocks:
    first_contact_due_at: datetime
    review_due_at: datetime
    graffiti_removal_due_at: datetime
    emergency_repair_due_at: datetime


def clocks_from(submitted_at: datetime, settings: Settings) -> Clocks:
    return Clocks(
        first_contact_due_at=submitted_at + timedelta(hours=settings.first_contact_hours),
        review_due_at=submitted_at + relativedelta(months=settings.review_months),
        graffiti_removal_due_at=submitted_at + timedelta(hours=settings.graffiti_removal_hours),
        emergency_repair_due_at=submitted_at + timedelta(hours=settings.emergency_repair_hours),
    )


def service_today(now: datetime, settings: Settings) -> date:
    """Today's date where the service is (what "today" and "yesterday" mean to the person)."""
    return now.astimezone(ZoneInfo(settings.timezone)).date()

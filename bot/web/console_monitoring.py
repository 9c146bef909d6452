"""The monitoring page of the officers' console, for team leaders and administrators (Karin 5.1).

/console/monitoring?from=YYYY-MM-DD&to=YYYY-MM-DD      the figures for a period, charts and tables
/console/monitoring.csv?from=YYYY-MM-DD&to=YYYY-MM-DD  the same figures as a CSV download

The period defaults to the last 12 months. Charts are inline SVG drawn here on the server (the
console allows no script and no inline style), each with the same numbers in a table beside it for
screen readers. Every view and every export is written to the audit log.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.console import audit
from bot.console.monitoring import Count, Figures, PeriodError, csv_text, figures, parse_period

# The chart's geometry, in SVG user units (the chart shrinks to fit a narrow screen). Each row is a
# label on a line of its own, then its bar and number, so the text stays legible when it shrinks.
BAR_SPACE, NUMBER_WIDTH = 340, 60
ROW_HEIGHT, BAR_HEIGHT, FONT_SIZE = 52, 18, 16
LABEL_CHARS = 44
BAR_COLOUR, TEXT_COLOUR = "#1d70b8", "#0b0c0c"  # 5.2:1 and 19:1 against white


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    y: int  # the top of its row
    width: int


@dataclass(frozen=True)
class Chart:
    bars: tuple[Bar, ...]
    width: int = BAR_SPACE + NUMBER_WIDTH
    row_height: int = ROW_HEIGHT
    bar_height: int = BAR_HEIGHT
    font_size: int = FONT_SIZE
    bar_colour: str = BAR_COLOUR
    text_colour: str = TEXT_COLOUR

    @property
    def height(self) -> int:
        return max(len(self.bars), 1) * ROW_HEIGHT


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1].rstrip() + "…"


def chart(counts: tuple[Count, ...]) -> Chart:
    """Horizontal bars, the longest filling the bar space; a count above 0 always shows a sliver."""
    largest = max((c.count for c in counts), default=0)
    return Chart(tuple(
        Bar(_short(c.label), c.count, i * ROW_HEIGHT,
            max(2, round(BAR_SPACE * c.count / largest)) if c.count else 0)
        for i, c in enumerate(counts)))


def add_routes(app: web.Application, c) -> None:
    from bot.web.console import LEADERS

    def today() -> date:
        return datetime.now(ZoneInfo(c.settings.timezone)).date()

    def refused(request: web.Request, error: str) -> web.Response:
        return c.page("monitoring", status=400, title="Monitoring", user=request["user"], error=error,
                      figures=None, start=request.query.get("from", ""), end=request.query.get("to", ""))

    def figures_for(request: web.Request, action: str) -> Figures:
        """The period's figures, the request audited in the same transaction; PeriodError if it is not a period."""
        start, end = parse_period(request.query.get("from"), request.query.get("to"), today())
        with c.factory() as session:
            found = figures(session, start=start, end=end, tz=c.settings.timezone, now=datetime.now(timezone.utc))
            audit.record(session, request["user"].username, action,
                         details={"from": start.isoformat(), "to": end.isoformat()})
            session.commit()
        return found

    @c.signed_in(roles=LEADERS)
    async def monitoring_page(request: web.Request) -> web.Response:
        try:
            found = figures_for(request, "monitoring_viewed")
        except PeriodError as exc:
            return refused(request, str(exc))
        return c.page("monitoring", title="Monitoring", user=request["user"], figures=found, chart=chart,
                      start=found.start.isoformat(), end=found.end.isoformat(), error="")

    @c.signed_in(roles=LEADERS)
    async def monitoring_csv(request: web.Request) -> web.Response:
        try:
            found = figures_for(request, "monitoring_exported")
        except PeriodError as exc:
            return refused(request, str(exc))
        return c.download(csv_text(found).encode("utf-8"),
                          f"monitoring-{found.start.isoformat()}-{found.end.isoformat()}.csv", "text/csv")

    app.router.add_get("/console/monitoring", monitoring_page)
    app.router.add_get("/console/monitoring.csv", monitoring_csv)

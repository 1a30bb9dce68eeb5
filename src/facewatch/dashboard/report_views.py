"""The Reports page's data, shaped for charts (pure: no I/O).

``resolve_range`` turns the page's filter (last 24 hours, 7 or 30 days, or a custom
from-to) into UTC bounds and a period: hours for up to two days, days beyond.
``report_charts`` turns the summary of that range into the page's four charts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from markupsafe import Markup

from facewatch.dashboard.charts import Chart, Series, bar_chart, hbar_chart, line_chart
from facewatch.dashboard.forms import parse_time
from facewatch.errors import InvalidInput
from facewatch.server.schemas_unknowns import CameraSummary, PeriodSummary, SummaryOut, Totals

Period = Literal["hour", "day"]
RANGES: dict[str, tuple[str, timedelta]] = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
}
CUSTOM = "custom"
HOURLY_UP_TO = timedelta(hours=48)
LONGEST = timedelta(days=366)
BUSIEST_SHOWN = 10
_VERDICTS = (("Known", "known"), ("Unknown", "unknown"), ("Uncertain", "uncertain"))
_ZERO = Totals(detections=0, known=0, unknown=0, uncertain=0, unique_people=0, unique_strangers=0)


@dataclass(frozen=True, slots=True)
class ReportRange:
    """UTC bounds (``until`` exclusive) and the period the charts count by."""

    since: datetime
    until: datetime
    period: Period

    def starts(self) -> list[datetime]:
        """The start of every hour or day of the range (the first may begin before it)."""
        step = timedelta(hours=1) if self.period == "hour" else timedelta(days=1)
        moment = floor(self.since, self.period)
        found = []
        while moment < self.until:
            found.append(moment)
            moment += step
        return found


def floor(moment: datetime, period: Period) -> datetime:
    """The start of the hour or day (UTC) of ``moment``."""
    start = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return start.replace(hour=0) if period == "day" else start


def resolve_range(choice: str, since: str, until: str, now: datetime) -> ReportRange:
    """The bounds of a range choice at ``now``; ``InvalidInput`` for a bad custom range.

    The preset ranges end with the current hour (24 hours) or day (7 and 30 days), so that
    each bar is a whole hour or day.
    """
    if choice in RANGES:
        span = RANGES[choice][1]
        period: Period = "hour" if span <= HOURLY_UP_TO else "day"
        end = floor(now, period) + (timedelta(hours=1) if period == "hour" else timedelta(days=1))
        return ReportRange(end - span, end, period)
    if choice != CUSTOM:
        raise InvalidInput(f"unknown range {choice!r}: 24h, 7d, 30d or custom")
    start = parse_time(since, "from")
    if start is None:
        raise InvalidInput("a custom range needs 'from'")
    end = parse_time(until, "to") or now
    if start >= end:
        raise InvalidInput("'from' must be before 'to'")
    if end - start > LONGEST:
        raise InvalidInput("a custom range spans at most 366 days")
    return ReportRange(start, end, "hour" if end - start <= HOURLY_UP_TO else "day")


def timeline(periods: Sequence[PeriodSummary], rng: ReportRange) -> list[tuple[datetime, Totals]]:
    """Every hour or day of the range with its totals (zeros where nothing was seen)."""
    found = {p.period_start.astimezone(UTC): p for p in periods}
    return [(start, found.get(start, _ZERO)) for start in rng.starts()]


@dataclass(frozen=True, slots=True)
class ReportCharts:
    """The page's charts, each with the data behind it (for the table under it)."""

    detections: tuple[Chart, Markup]
    visitors: tuple[Chart, Markup]
    split: tuple[Chart, Markup]
    cameras: tuple[Chart, Markup]

    def all(self) -> list[tuple[Chart, Markup]]:
        return [self.detections, self.visitors, self.split, self.cameras]


def report_charts(summary: SummaryOut, rng: ReportRange) -> ReportCharts:
    """Detections and unique visitors over time, known vs unknown, and busiest cameras."""
    points = timeline(summary.periods, rng)
    labels = tuple(period_label(start, rng.period) for start, _ in points)
    ticks = tuple(axis_label(start, rng.period) for start, _ in points)
    per = "hour" if rng.period == "hour" else "day"

    def column(name: str) -> tuple[float, ...]:
        return tuple(float(getattr(totals, name)) for _, totals in points)

    detections = Chart(
        "detections",
        f"Detections per {per}",
        labels,
        tuple(Series(title, column(name), f"series-{name}") for title, name in _VERDICTS),
        unit="detections",
        axis_labels=ticks,
    )
    visitors = Chart(
        "visitors",
        f"Unique visitors per {per}",
        labels,
        (
            Series("People", column("unique_people"), "series-known"),
            Series("Strangers", column("unique_strangers"), "series-unknown"),
        ),
        unit="visitors",
        axis_labels=ticks,
    )
    return ReportCharts(
        detections=(detections, bar_chart(detections)),
        visitors=(visitors, line_chart(visitors)),
        split=_split(summary.totals),
        cameras=_busiest(summary.cameras),
    )


def _split(totals: Totals) -> tuple[Chart, Markup]:
    """Shares of known and unknown: of detections, and of unique visitors."""
    chart = Chart(
        "split",
        "Known vs unknown",
        ("Detections", "Unique visitors"),
        (
            Series("Known", (totals.known, totals.unique_people), "series-known"),
            Series("Unknown", (totals.unknown, totals.unique_strangers), "series-unknown"),
            Series("Uncertain", (totals.uncertain, 0), "series-uncertain"),
        ),
    )
    return chart, hbar_chart(chart, percent=True)


def _busiest(cameras: Sequence[CameraSummary]) -> tuple[Chart, Markup]:
    shown = list(cameras[:BUSIEST_SHOWN])
    chart = Chart(
        "cameras",
        "Busiest cameras",
        tuple(c.camera_id or "no camera" for c in shown),
        tuple(
            Series(title, tuple(float(getattr(c, name)) for c in shown), f"series-{name}")
            for title, name in _VERDICTS
        ),
        unit="detections",
    )
    return chart, hbar_chart(chart)


def period_label(start: datetime, period: Period) -> str:
    """``2026-12-02 14:00`` for an hour, ``2026-12-02`` for a day (UTC)."""
    return start.strftime("%Y-%m-%d %H:%M" if period == "hour" else "%Y-%m-%d")


def axis_label(start: datetime, period: Period) -> str:
    """Short: ``14:00`` for an hour (``Dec 02`` at midnight), ``Dec 02`` for a day."""
    if period == "hour" and (start.hour or start.minute):
        return start.strftime("%H:%M")
    return start.strftime("%b %d")

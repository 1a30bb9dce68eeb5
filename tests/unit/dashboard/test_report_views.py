"""The Reports page's ranges and timelines: whole hours or days, zeros where nothing was seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facewatch.dashboard.report_views import (
    ReportRange,
    axis_label,
    report_charts,
    resolve_range,
    timeline,
)
from facewatch.errors import InvalidInput
from facewatch.server.schemas_unknowns import CameraSummary, PeriodSummary, SummaryOut, Totals

NOW = datetime(2026, 12, 2, 14, 23, 5, tzinfo=UTC)


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=UTC)


def totals(known: int, unknown: int, people: int = 0, strangers: int = 0) -> dict[str, int]:
    return {
        "detections": known + unknown,
        "known": known,
        "unknown": unknown,
        "uncertain": 0,
        "unique_people": people,
        "unique_strangers": strangers,
    }


@pytest.mark.parametrize(
    ("choice", "since", "until", "period", "bars"),
    [
        ("24h", at(1, 15), at(2, 15), "hour", 24),
        ("7d", at(3) - timedelta(days=7), at(3), "day", 7),
        ("30d", at(3) - timedelta(days=30), at(3), "day", 30),
    ],
)
def test_preset_ranges_end_with_the_current_hour_or_day(
    choice: str, since: datetime, until: datetime, period: str, bars: int
) -> None:
    rng = resolve_range(choice, "", "", NOW)
    assert (rng.since, rng.until, rng.period) == (since, until, period)
    assert len(rng.starts()) == bars


@pytest.mark.parametrize(
    ("since", "until", "period", "first", "bars"),
    [
        ("2026-12-01T09:30", "2026-12-01T12:00", "hour", at(1, 9), 3),
        ("2026-11-29T00:00", "2026-12-01T00:00", "hour", at(1) - timedelta(days=2), 48),
        ("2026-11-20T00:00", "2026-12-01T06:00", "day", datetime(2026, 11, 20, tzinfo=UTC), 12),
        ("2026-12-02T10:00", "", "hour", at(2, 10), 5),  # up to now
    ],
)
def test_a_custom_range_counts_by_hour_up_to_two_days_and_by_day_beyond(
    since: str, until: str, period: str, first: datetime, bars: int
) -> None:
    rng = resolve_range("custom", since, until, NOW)
    assert rng.period == period
    assert rng.starts()[0] == first
    assert len(rng.starts()) == bars


@pytest.mark.parametrize(
    ("choice", "since", "until", "message"),
    [
        ("custom", "", "", "needs 'from'"),
        ("custom", "2026-12-02T10:00", "2026-12-02T09:00", "before"),
        ("custom", "yesterday", "", "not a date"),
        ("custom", "2020-01-01T00:00", "2026-01-01T00:00", "366 days"),
        ("1y", "", "", "unknown range"),
    ],
)
def test_bad_ranges_are_refused_with_a_reason(
    choice: str, since: str, until: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        resolve_range(choice, since, until, NOW)


def test_the_timeline_has_every_hour_with_zeros_where_nothing_was_seen() -> None:
    rng = ReportRange(at(1, 9), at(1, 13), "hour")
    seen = [PeriodSummary(period_start=at(1, 10), **totals(2, 1))]
    found = timeline(seen, rng)
    assert [start.hour for start, _ in found] == [9, 10, 11, 12]
    assert [t.detections for _, t in found] == [0, 3, 0, 0]


def test_the_charts_follow_the_summary() -> None:
    rng = ReportRange(at(1, 9), at(1, 12), "hour")
    summary = SummaryOut(
        period="hour",
        totals=Totals(**totals(5, 3, people=2, strangers=1)),
        periods=[
            PeriodSummary(period_start=at(1, 9), **totals(4, 1, 2, 1)),
            PeriodSummary(period_start=at(1, 11), **totals(1, 2, 1, 1)),
        ],
        cameras=[
            CameraSummary(camera_id="gate", **totals(4, 0, 2)),
            CameraSummary(camera_id="dock", **totals(1, 3, 1, 1)),
        ],
    )
    charts = report_charts(summary, rng)
    detections, _ = charts.detections
    assert detections.labels == ("2026-12-01 09:00", "2026-12-01 10:00", "2026-12-01 11:00")
    assert [s.values for s in detections.series] == [(4, 0, 1), (1, 0, 2), (0, 0, 0)]
    visitors, svg = charts.visitors
    assert [s.values for s in visitors.series] == [(2, 0, 1), (1, 0, 1)]
    assert svg.count("<circle") == 6
    split, _ = charts.split
    assert [s.values for s in split.series] == [(5, 2), (3, 1), (0, 0)]
    cameras, _ = charts.cameras
    assert cameras.labels == ("gate", "dock")


@pytest.mark.parametrize(
    ("moment", "period", "label"),
    [(at(2, 14), "hour", "14:00"), (at(2), "hour", "Dec 02"), (at(2), "day", "Dec 02")],
)
def test_axis_labels_are_short_and_mark_midnight_with_the_date(
    moment: datetime, period: str, label: str
) -> None:
    assert axis_label(moment, period) == label  # type: ignore[arg-type]

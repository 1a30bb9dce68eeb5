"""Charts drawn on the server as inline SVG: stacked bars, lines and horizontal bars.

No script and no third-party code, so the pages work offline and under the dashboard's
Content-Security-Policy: there is no inline style either, colours come from the series'
CSS classes (``series-known``...) in dashboard.css. Each chart is an ``<svg role="img">``
labelled by its ``<title>`` and a ``<desc>`` that says what it holds; every bar and point
has a ``<title>`` with its value (a tooltip), and pages show the same numbers in a table.

Usage::

    chart = Chart("detections", "Detections per hour", labels, (Series("Known", known,
                  "series-known"), Series("Unknown", unknown, "series-unknown")))
    svg = bar_chart(chart)          # Markup, ready for a template
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 260
_TITLE_ROW = 42
_LEFT = 52
_RIGHT = 24
_BOTTOM = 34
_LABEL_SPACING = 58
"""Least room, in pixels, between two x-axis labels; more labels are thinned out."""
_ROW = 24
_NAME_WIDTH = 150
_NAME_CHARS = 22
_KEY = re.compile(r"[a-z][a-z0-9-]{0,40}")


@dataclass(frozen=True, slots=True)
class Series:
    """One named row of values, drawn with the CSS class ``css``."""

    name: str
    values: tuple[float, ...]
    css: str


@dataclass(frozen=True, slots=True)
class Chart:
    """What a chart shows: one label per position and any number of series.

    ``key`` makes the element ids of the chart (unique on the page); ``axis_labels``, if
    given, are shorter labels for the x axis (the full ones go to tooltips and tables).
    """

    key: str
    title: str
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    unit: str = ""
    axis_labels: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not _KEY.fullmatch(self.key):
            raise ValueError(f"chart key {self.key!r}: lowercase letters, digits and '-'")
        for series in self.series:
            if len(series.values) != len(self.labels):
                raise ValueError(f"series {series.name!r}: one value per label")
        if self.axis_labels and len(self.axis_labels) != len(self.labels):
            raise ValueError("axis_labels: one per label")

    @property
    def empty(self) -> bool:
        """True when there is nothing to draw (no labels, or every value is 0)."""
        return not any(v for s in self.series for v in s.values)

    def stack_totals(self) -> list[float]:
        """The sum of the series at each position."""
        return [sum(s.values[i] for s in self.series) for i in range(len(self.labels))]


# --- public drawing functions ---------------------------------------------------------
def bar_chart(chart: Chart) -> Markup:
    """Vertical bars, the series stacked at each label; one ``rect.bar`` per value above 0."""
    plot = _Plot(top=_TITLE_ROW, bottom=HEIGHT - _BOTTOM, left=_LEFT, right=WIDTH - _RIGHT)
    ticks = nice_ticks(max(chart.stack_totals(), default=0))
    parts = [*_y_axis(plot, ticks, chart.unit), *_x_labels(chart, plot, centred=True)]
    slot = plot.width / max(len(chart.labels), 1)
    bar_width = max(slot * 0.7, 1.0)
    for i, label in enumerate(chart.labels):
        x = plot.left + i * slot + (slot - bar_width) / 2
        base = 0.0
        for series in chart.series:
            value = series.values[i]
            if value <= 0:
                continue
            y_top, y_bottom = plot.y(base + value, ticks[-1]), plot.y(base, ticks[-1])
            tip = f"{label} · {series.name}: {format_number(value)}"
            parts.append(_rect("bar", series.css, x, y_top, bar_width, y_bottom - y_top, tip))
            base += value
    return _svg(chart, HEIGHT, parts)


def line_chart(chart: Chart) -> Markup:
    """One ``polyline`` per series and a ``circle.point`` at each of its values."""
    plot = _Plot(top=_TITLE_ROW, bottom=HEIGHT - _BOTTOM, left=_LEFT, right=WIDTH - _RIGHT)
    ticks = nice_ticks(max((v for s in chart.series for v in s.values), default=0))
    parts = [*_y_axis(plot, ticks, chart.unit), *_x_labels(chart, plot, centred=False)]
    step = plot.width / max(len(chart.labels) - 1, 1)
    for series in chart.series:
        points = [(plot.left + i * step, plot.y(v, ticks[-1])) for i, v in enumerate(series.values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline class="line {escape(series.css)}" points="{path}"/>')
        for (x, y), label, value in zip(points, chart.labels, series.values, strict=True):
            tip = escape(f"{label} · {series.name}: {format_number(value)}")
            parts.append(
                f'<circle class="point {escape(series.css)}" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                f"<title>{tip}</title></circle>"
            )
    return _svg(chart, HEIGHT, parts)


def hbar_chart(chart: Chart, *, percent: bool = False) -> Markup:
    """Horizontal bars, one row per label (rankings), the series stacked in each row.

    With ``percent`` every row is scaled to 100 % (shares, such as known vs unknown).
    """
    height = _TITLE_ROW + _ROW * max(len(chart.labels), 1) + _BOTTOM
    plot = _Plot(top=_TITLE_ROW, bottom=height - _BOTTOM, left=_NAME_WIDTH, right=WIDTH - _RIGHT)
    totals = chart.stack_totals()
    ticks = [0.0, 25.0, 50.0, 75.0, 100.0] if percent else nice_ticks(max(totals, default=0))
    parts = list(_x_axis(plot, ticks, "%" if percent else chart.unit))
    for i, (label, total) in enumerate(zip(chart.labels, totals, strict=True)):
        y = plot.top + i * _ROW + 4
        parts.append(_row_label(label, plot.left - 6, y + _ROW / 2))
        base = 0.0
        for series in chart.series:
            value = series.values[i]
            if value <= 0:
                continue
            scaled = 100 * value / total if percent else value
            x0, x1 = plot.x(base, ticks[-1]), plot.x(base + scaled, ticks[-1])
            share = f" ({100 * value / total:.0f} %)" if total else ""
            tip = f"{label} · {series.name}: {format_number(value)}{share}"
            parts.append(_rect("bar", series.css, x0, y, x1 - x0, _ROW - 8, tip))
            base += scaled
    return _svg(chart, height, parts)


def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Round y-axis values from 0 up to at least ``maximum``, in steps of 1, 2 or 5 times 10^n
    (whole numbers: charts count things)."""
    if maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(step, 1.0)
    steps = math.ceil(maximum / step - 1e-9)
    return [i * step for i in range(steps + 1)]


def format_number(value: float) -> str:
    """``1,234`` for whole numbers, ``12.5`` otherwise."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


# --- pieces ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Plot:
    """The plotting area inside the axes, in SVG units."""

    top: float
    bottom: float
    left: float
    right: float

    @property
    def width(self) -> float:
        return self.right - self.left

    def y(self, value: float, top_value: float) -> float:
        return self.bottom - (self.bottom - self.top) * value / top_value

    def x(self, value: float, top_value: float) -> float:
        return self.left + self.width * value / top_value


def _svg(chart: Chart, height: float, parts: Sequence[str]) -> Markup:
    key = chart.key
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{key}" id="chart-{key}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
        f'aria-labelledby="chart-{key}-title chart-{key}-desc">',
        f'<title id="chart-{key}-title">{escape(chart.title)}</title>',
        f'<desc id="chart-{key}-desc">{escape(_description(chart))}</desc>',
        f'<text class="chart-title" x="8" y="18">{escape(chart.title)}</text>',
        *_legend(chart),
    ]
    if chart.empty:
        middle = (_TITLE_ROW + height) / 2
        head.append(
            f'<text class="chart-empty" x="{WIDTH / 2:.0f}" y="{middle:.0f}" '
            'text-anchor="middle">No data in this range</text>'
        )
    return Markup("".join([*head, *parts, "</svg>"]))


def _description(chart: Chart) -> str:
    if chart.empty:
        return "No data in this range."
    names = ", ".join(s.name for s in chart.series)
    totals = chart.stack_totals()
    peak = max(range(len(totals)), key=lambda i: totals[i])
    return (
        f"{len(chart.labels)} values of {names}, from {chart.labels[0]} to {chart.labels[-1]}; "
        f"highest {format_number(totals[peak])} at {chart.labels[peak]}. "
        "The table below the chart has every value."
    )


def _legend(chart: Chart) -> Iterator[str]:
    if len(chart.series) < 2:
        return
    x = float(WIDTH - _RIGHT)
    for series in reversed(chart.series):
        x -= 22 + 7.5 * len(series.name)
        yield (
            f'<g class="legend-entry"><rect class="swatch {escape(series.css)}" x="{x:.1f}" y="8" '
            f'width="10" height="10"/><text x="{x + 14:.1f}" y="17">{escape(series.name)}</text>'
            "</g>"
        )


def _y_axis(plot: _Plot, ticks: Sequence[float], unit: str) -> Iterator[str]:
    yield '<g class="axis axis-y">'
    for tick in ticks:
        y = plot.y(tick, ticks[-1])
        yield f'<line class="grid" x1="{plot.left}" x2="{plot.right}" y1="{y:.1f}" y2="{y:.1f}"/>'
        yield (
            f'<text x="{plot.left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{format_number(tick)}</text>"
        )
    if unit:
        yield f'<text class="axis-unit" x="8" y="{plot.top - 10}">{escape(unit)}</text>'
    yield (
        f'<line class="baseline" x1="{plot.left}" x2="{plot.right}" '
        f'y1="{plot.bottom}" y2="{plot.bottom}"/></g>'
    )


def _x_axis(plot: _Plot, ticks: Sequence[float], unit: str) -> Iterator[str]:
    """A value axis along the bottom (horizontal bars)."""
    yield '<g class="axis axis-x">'
    for tick in ticks:
        x = plot.x(tick, ticks[-1])
        yield f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{plot.top}" y2="{plot.bottom}"/>'
        text = format_number(tick) + (" %" if unit == "%" else "")
        yield (f'<text x="{x:.1f}" y="{plot.bottom + 16}" text-anchor="middle">{text}</text>')
    if unit and unit != "%":
        yield (
            f'<text class="axis-unit" x="{plot.right}" y="{plot.bottom + 30}" '
            f'text-anchor="end">{escape(unit)}</text>'
        )
    yield "</g>"


def _x_labels(chart: Chart, plot: _Plot, *, centred: bool) -> Iterator[str]:
    """The category labels under the plot, thinned out so that they never overlap."""
    labels = chart.axis_labels or chart.labels
    count = len(labels)
    if not count:
        return
    every = max(1, math.ceil(count * _LABEL_SPACING / plot.width))
    slot = plot.width / count if centred else plot.width / max(count - 1, 1)
    yield '<g class="axis axis-x">'
    for i in range(0, count, every):
        x = plot.left + (i + 0.5) * slot if centred else plot.left + i * slot
        # a label on the right edge of a line chart ends there rather than spill out
        anchor = "end" if not centred and i == count - 1 and count > 1 else "middle"
        yield (
            f'<text class="tick-label" x="{x:.1f}" y="{plot.bottom + 16}" '
            f'text-anchor="{anchor}">{escape(labels[i])}</text>'
        )
    yield "</g>"


def _rect(kind: str, css: str, x: float, y: float, width: float, height: float, tip: str) -> str:
    return (
        f'<rect class="{kind} {escape(css)}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
        f'height="{max(height, 0.5):.1f}"><title>{escape(tip)}</title></rect>'
    )


def _row_label(label: str, x: float, y: float) -> str:
    """A row's name at the left of horizontal bars; a long one cut, in full as a tooltip."""
    shown = escape(label)
    if len(label) > _NAME_CHARS:
        shown = escape(label[: _NAME_CHARS - 1] + "…") + Markup("<title>{}</title>").format(label)
    return f'<text class="row-label" x="{x:.1f}" y="{y:.1f}" text-anchor="end">{shown}</text>'

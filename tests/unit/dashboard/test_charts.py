"""The SVG charts: what is drawn for given data, and that it is accessible and escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from facewatch.dashboard.charts import (
    Chart,
    Series,
    bar_chart,
    format_number,
    hbar_chart,
    line_chart,
    nice_ticks,
)

SVG = "{http://www.w3.org/2000/svg}"
HOURS = ("09:00", "10:00", "11:00", "12:00")


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def find(svg: ET.Element, tag: str, css: str) -> list[ET.Element]:
    """The ``tag`` elements whose class list holds ``css``."""
    return [e for e in svg.iter(f"{SVG}{tag}") if css in (e.get("class") or "").split()]


def texts(svg: ET.Element, css: str) -> list[str]:
    return [e.text or "" for e in find(svg, "text", css)]


def tips(elements: list[ET.Element]) -> list[str]:
    return [e.findtext(f"{SVG}title") or "" for e in elements]


def verdicts(known: tuple[float, ...], unknown: tuple[float, ...]) -> Chart:
    return Chart(
        "detections",
        "Detections per hour",
        HOURS,
        (Series("Known", known, "series-known"), Series("Unknown", unknown, "series-unknown")),
        unit="detections",
    )


def test_a_bar_chart_draws_one_bar_per_value_above_zero_stacked_per_label() -> None:
    svg = parse(bar_chart(verdicts((3, 0, 5, 1), (1, 0, 0, 2))))
    assert len(find(svg, "rect", "bar")) == 5
    assert len(find(svg, "rect", "series-known")) == 3 + 1  # 3 bars and the legend swatch
    assert tips(find(svg, "rect", "bar")) == [
        "09:00 · Known: 3",
        "09:00 · Unknown: 1",
        "11:00 · Known: 5",
        "12:00 · Known: 1",
        "12:00 · Unknown: 2",
    ]
    assert texts(svg, "tick-label") == list(HOURS)


def test_stacked_bars_sit_on_each_other_and_the_tallest_reaches_the_top_tick() -> None:
    svg = parse(bar_chart(verdicts((3, 0, 5, 1), (1, 0, 0, 2))))
    known, unknown = find(svg, "rect", "bar")[:2]
    assert float(unknown.get("y", 0)) + float(unknown.get("height", 0)) == pytest.approx(
        float(known.get("y", 0)), abs=0.11
    )
    y_labels = [e.text for e in svg.iter(f"{SVG}text") if e.get("text-anchor") == "end"]
    assert y_labels == ["0", "2", "4", "6"]
    assert texts(svg, "axis-unit") == ["detections"]


def test_a_line_chart_draws_one_line_per_series_and_one_point_per_value() -> None:
    svg = parse(line_chart(verdicts((3, 0, 5, 1), (1, 0, 0, 2))))
    lines = list(svg.iter(f"{SVG}polyline"))
    assert [line.get("class") for line in lines] == ["line series-known", "line series-unknown"]
    assert [len((line.get("points") or "").split()) for line in lines] == [4, 4]
    assert len(find(svg, "circle", "point")) == 8
    assert tips(find(svg, "circle", "series-unknown"))[3] == "12:00 · Unknown: 2"


def test_horizontal_bars_rank_rows_with_their_labels() -> None:
    chart = Chart(
        "cameras",
        "Busiest cameras",
        ("gate", "dock", "a-camera-with-a-very-long-name"),
        (Series("Detections", (40, 12, 1), "series-known"),),
    )
    svg = parse(hbar_chart(chart))
    bars = find(svg, "rect", "bar")
    assert len(bars) == 3
    widths = [float(b.get("width", 0)) for b in bars]
    assert widths == sorted(widths, reverse=True)
    assert texts(svg, "row-label")[:2] == ["gate", "dock"]
    long_label = find(svg, "text", "row-label")[2]
    assert long_label.findtext(f"{SVG}title") == "a-camera-with-a-very-long-name"
    assert (long_label.text or "").endswith("…")


def test_percent_bars_fill_each_row_and_say_the_share() -> None:
    chart = Chart(
        "split",
        "Known vs unknown",
        ("Detections",),
        (Series("Known", (3,), "series-known"), Series("Unknown", (1,), "series-unknown")),
    )
    svg = parse(hbar_chart(chart, percent=True))
    bars = find(svg, "rect", "bar")
    widths = [float(b.get("width", 0)) for b in bars]
    assert widths[0] == pytest.approx(3 * widths[1], rel=0.01)
    assert tips(bars) == ["Detections · Known: 3 (75 %)", "Detections · Unknown: 1 (25 %)"]


def test_every_chart_is_an_image_labelled_by_its_title_and_description() -> None:
    svg = parse(bar_chart(verdicts((3, 0, 5, 1), (1, 0, 0, 2))))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "chart-detections-title chart-detections-desc"
    assert svg.findtext(f"{SVG}title") == "Detections per hour"
    description = svg.findtext(f"{SVG}desc") or ""
    assert "from 09:00 to 12:00" in description
    assert "highest 5 at 11:00" in description
    assert texts(svg, "chart-title") == ["Detections per hour"]
    legend = [e.findtext(f"{SVG}text") for e in find(svg, "g", "legend-entry")]
    assert sorted(legend) == ["Known", "Unknown"]


@pytest.mark.parametrize("draw", [bar_chart, line_chart, hbar_chart], ids=["bar", "line", "hbar"])
def test_a_chart_without_data_says_so(draw: object) -> None:
    assert callable(draw)
    svg = parse(draw(verdicts((0, 0, 0, 0), (0, 0, 0, 0))))
    assert texts(svg, "chart-empty") == ["No data in this range"]
    assert find(svg, "rect", "bar") == []


def test_labels_and_names_are_escaped() -> None:
    chart = Chart("x", "<script>", ("<b>&",), (Series('"><svg', (1,), "series-known"),))
    markup = str(bar_chart(chart))
    assert "<script>" not in markup
    assert "<b>" not in markup
    parse(markup)  # still well-formed XML


def test_many_labels_are_thinned_out_on_the_axis_but_every_bar_is_drawn() -> None:
    labels = tuple(f"{h:02d}:00" for h in range(24))
    chart = Chart("day", "Per hour", labels, (Series("All", tuple([1.0] * 24), "series-known"),))
    svg = parse(bar_chart(chart))
    shown = texts(svg, "tick-label")
    assert len(find(svg, "rect", "bar")) == 24
    assert 4 <= len(shown) <= 12
    assert shown[0] == "00:00"


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (7, [0, 2, 4, 6, 8]),
        (100, [0, 50, 100]),
        (1234, [0, 500, 1000, 1500]),
    ],
)
def test_axis_ticks_are_round_numbers_from_zero_past_the_maximum(
    maximum: float, ticks: list[float]
) -> None:
    assert nice_ticks(maximum) == ticks


@pytest.mark.parametrize(("value", "text"), [(3, "3"), (1234.0, "1,234"), (2.5, "2.5")])
def test_numbers_are_written_for_people(value: float, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize(
    ("key", "labels", "values", "message"),
    [("Bad Key", ("a",), (1,), "chart key"), ("ok", ("a", "b"), (1,), "one value per label")],
    ids=["key with spaces", "a value missing"],
)
def test_a_chart_with_inconsistent_data_is_refused(
    key: str, labels: tuple[str, ...], values: tuple[float, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Chart(key, "t", labels, (Series("s", values, "series-known"),))

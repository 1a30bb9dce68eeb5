"""A real browser on the Reports page: the charts render (under the CSP, coloured by CSS),
the range filter changes them, and a download arrives as a file.

Screenshots go to tests/artifacts/dashboard/.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from support import add_sighting
from support_dashboard import PASSWORD, LiveServer, screenshot

pytestmark = pytest.mark.testdata  # the browser fixture plays a test photo as its webcam

GREEN = "rgb(27, 127, 59)"  # --ok in dashboard.css: known
# (hours ago, camera, enrolled?): 3 known and 2 unknown today, 1 unknown 4 days ago.
SCRIPT = [
    (1, "porch", True),
    (2, "porch", True),
    (2, "yard", False),
    (3, "yard", True),
    (5, "yard", False),
    (96, "porch", False),
]


@pytest.fixture(scope="module", autouse=True)
def seeded(live_server: LiveServer) -> None:
    now = datetime.now(UTC)
    with live_server.runtime.uow() as uow:
        for camera in ("porch", "yard"):
            uow.cameras.add(camera, name=camera.title())
        carol = uow.people.add("carol")
        stranger = uow.unknowns.add("test-model", np.zeros(4, np.float32), now)
        for hours, camera, known in SCRIPT:
            seen = now - timedelta(hours=hours)
            if known:
                add_sighting(uow, seen, camera, person_id=carol.id)
            else:
                add_sighting(uow, seen, camera, unknown_id=stranger.id)
        uow.commit()


def total(page: Page, key: str) -> str:
    return page.locator(f'[data-total="{key}"] dd').inner_text()


def test_a_viewer_reads_the_charts_and_widens_the_range(page: Page, artifacts: Path) -> None:
    refused: list[str] = []
    page.on("console", lambda m: _note_csp(m, refused))
    page.goto("/login")
    page.get_by_label("Username").fill("viewer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Reports").click()

    detections = page.locator("svg#chart-detections")
    expect(detections).to_be_visible()
    expect(page.get_by_role("img", name="Detections per hour")).to_be_visible()
    expect(detections.locator("rect.bar")).to_have_count(5)  # 5 detections, 4 hours
    expect(detections.locator("rect.bar.series-known").first).to_have_css("fill", GREEN)
    expect(page.locator("svg#chart-visitors circle.point")).to_have_count(2 * 24)
    expect(page.locator("svg#chart-cameras .row-label")).to_have_text(["yard", "porch"])
    assert (total(page, "detections"), total(page, "unknown")) == ("5", "2")
    screenshot(page, artifacts, "11-reports-24h")

    page.locator("select[name=range]").select_option(label="Last 7 days")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"/reports\?range=7d"))
    expect(page.get_by_role("img", name="Detections per day")).to_be_visible()
    expect(page.locator("#report-range")).to_contain_text("per day")
    assert (total(page, "detections"), total(page, "unknown")) == ("6", "3")
    expect(page.locator("svg#chart-visitors circle.point")).to_have_count(2 * 7)

    page.get_by_text("Table: Detections per day").click()
    table = page.locator("#figure-detections table")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(7)
    screenshot(page, artifacts, "12-reports-7d")

    since = (datetime.now(UTC) - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%S")
    page.get_by_label("From (UTC, custom)").fill(since)
    expect(page.locator("select[name=range]")).to_have_value("custom")  # the script chose it
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"range=custom"))
    assert total(page, "detections") == "4"  # 1, 2, 2 and 3 hours ago
    expect(page.get_by_role("img", name="Detections per hour")).to_be_visible()

    with page.expect_download() as info:
        page.locator(".downloads a", has_text="CSV").first.click()
    download = info.value
    assert download.suggested_filename == "detections.csv"
    lines = Path(download.path()).read_text().splitlines()
    assert len(lines) == 1 + 4  # the header, and the detections of the range shown
    assert refused == []


def _note_csp(message: ConsoleMessage, refused: list[str]) -> None:
    if "Content Security Policy" in message.text:
        refused.append(message.text)

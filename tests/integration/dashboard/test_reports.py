"""The Reports page over httpx: totals per range and camera, charts, downloads, access."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import unescape

import numpy as np
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from facewatch.server.infra.runtime import Runtime
from facewatch.store.repositories.audit import AuditFilter
from support import add_sighting

ClientAs = Callable[[str], tuple[TestClient, str]]
NOW = datetime.now(UTC)
# (hours ago, camera, who): alice and bob are enrolled, "stranger" is an unknown identity.
SCRIPT = [
    (2.0, "gate", "alice"),
    (2.0, "gate", "alice"),
    (3.0, "gate", "alice"),
    (3.5, "gate", "stranger"),
    (5.0, "dock", "stranger"),
    (5.02, "dock", "stranger"),  # 72 s later: the same visit
    (6.0, "dock", "bob"),
    (72.0, "gate", "bob"),  # three days ago: in the last 7 days, not the last 24 hours
]


@pytest.fixture(scope="module", autouse=True)
def seeded(runtime: Runtime) -> None:
    with runtime.uow() as uow:
        for camera in ("gate", "dock"):
            uow.cameras.add(camera, name=camera.title())
        people = {name: uow.people.add(name).id for name in ("alice", "bob")}
        stranger = uow.unknowns.add("test-model", np.zeros(4, np.float32), NOW)
        for hours, camera, who in SCRIPT:
            seen = NOW - timedelta(hours=hours)
            if who in people:
                add_sighting(uow, seen, camera, person_id=people[who])
            else:
                add_sighting(uow, seen, camera, unknown_id=stranger.id)
        uow.commit()


def totals(html: str) -> dict[str, int]:
    """The totals tiles of a Reports page."""
    found = re.findall(r'data-total="(\w+)"><dt>[^<]*</dt><dd>([\d,]+)</dd>', html)
    return {key: int(value.replace(",", "")) for key, value in found}


def download_links(html: str) -> dict[str, str]:
    """``detections.csv`` etc. -> the link's URL."""
    links = re.findall(r'href="(/reports/export/(\w+)\?[^"]+)"', html)
    found = {}
    for url, what in links:
        fmt = re.search(r"format=(\w+)", unescape(url))
        assert fmt is not None
        found[f"{what}.{fmt[1]}"] = unescape(url)
    return found


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {},
            {"detections": 7, "known": 4, "unknown": 3, "unique_people": 2, "unique_strangers": 1},
        ),
        (
            {"range": "7d"},
            {"detections": 8, "known": 5, "unknown": 3, "unique_people": 2, "unique_strangers": 1},
        ),
        (
            {"range": "24h", "camera": "dock"},
            {"detections": 3, "known": 1, "unknown": 2, "unique_people": 1, "unique_strangers": 1},
        ),
        (
            {"range": "24h", "camera": "gate"},
            {"detections": 4, "known": 3, "unknown": 1, "unique_people": 1, "unique_strangers": 1},
        ),
    ],
    ids=["last 24 hours", "last 7 days", "camera dock", "camera gate"],
)
def test_a_viewer_sees_the_totals_of_the_range_and_camera(
    client_as: ClientAs, query: dict[str, str], expected: dict[str, int]
) -> None:
    client, _ = client_as("viewer")
    response = client.get("/reports", params=query)
    assert response.status_code == 200, response.text
    found = totals(response.text)
    assert {key: found[key] for key in expected} == expected
    assert found["uncertain"] == 0


def test_the_page_draws_four_charts_with_a_table_each(client_as: ClientAs) -> None:
    client, _ = client_as("viewer")
    html = client.get("/reports").text
    for key in ("detections", "visitors", "split", "cameras"):
        assert f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{key}"' in html
        assert f'id="figure-{key}"' in html
    visitors = html.split('id="chart-visitors"')[1].split("</svg>")[0]
    assert visitors.count("<circle") == 2 * 24  # people and strangers, every hour
    busiest = html.split('id="chart-cameras"')[1].split("</svg>")[0]
    assert re.findall(r'class="row-label"[^>]*>(\w+)', busiest) == ["gate", "dock"]
    assert html.count('<details class="chart-data">') == 4
    assert "per hour, all cameras" in html


def test_the_per_camera_table_lists_the_busiest_first(client_as: ClientAs) -> None:
    client, _ = client_as("viewer")
    html = client.get("/reports", params={"range": "7d"}).text
    table = html.split('id="per-camera"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>(\w+)</td><td>(\d+)</td>", table)
    assert rows == [("gate", "5"), ("dock", "3")]
    assert "per day" in html


def test_the_nav_links_to_reports_for_every_role(client_as: ClientAs) -> None:
    for role in ("viewer", "operator", "admin"):
        client, _ = client_as(role)
        page = client.get("/reports")
        assert page.status_code == 200
        assert 'href="/reports" class="active" aria-current="page">Reports</a>' in page.text


def test_without_a_login_the_page_and_downloads_send_to_the_login_form(
    new_client: Callable[..., TestClient],
) -> None:
    client = new_client()
    for path in ("/reports", "/reports/export/detections?format=csv"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"range": "custom"}, "a custom range needs &#39;from&#39;"),
        ({"range": "custom", "since": "2026-12-02T10:00", "until": "2026-12-01T10:00"}, "before"),
        ({"range": "forever"}, "unknown range"),
    ],
)
def test_a_bad_range_is_a_400_page_that_says_why(
    client_as: ClientAs, query: dict[str, str], message: str
) -> None:
    client, _ = client_as("viewer")
    response = client.get("/reports", params=query)
    assert response.status_code == 400
    assert message in response.text
    assert 'role="alert"' in response.text


def test_a_custom_range_counts_what_it_covers(client_as: ClientAs) -> None:
    client, _ = client_as("viewer")
    since = (NOW - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%S")
    until = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    html = client.get("/reports", params={"range": "custom", "since": since, "until": until}).text
    assert totals(html)["detections"] == 4  # the three of alice and the stranger at the gate


def test_the_downloads_hold_the_detections_and_visits_of_the_page(
    client_as: ClientAs, runtime: Runtime
) -> None:
    client, _ = client_as("viewer")
    links = download_links(client.get("/reports", params={"camera": "dock"}).text)
    assert sorted(links) == ["detections.csv", "detections.parquet", "visits.csv", "visits.parquet"]

    response = client.get(links["detections.csv"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="detections.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["camera_id"], r["name"] or "?") for r in rows] == [
        ("dock", "bob"),
        ("dock", "?"),
        ("dock", "?"),
    ]

    parquet = client.get(links["detections.parquet"])
    assert parquet.status_code == 200
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.num_rows == 3
    assert set(table.column("camera_id").to_pylist()) == {"dock"}

    visits = list(csv.DictReader(io.StringIO(client.get(links["visits.csv"]).text)))
    assert sorted((v["place"], v["name"] or "stranger", v["detections"]) for v in visits) == [
        ("dock", "bob", "1"),
        ("dock", "stranger", "2"),
    ]
    visits_table = pq.read_table(io.BytesIO(client.get(links["visits.parquet"]).content))
    assert visits_table.num_rows == 2

    with runtime.uow() as uow:
        entries, _ = uow.audit.list(AuditFilter(action="data.exported", actor="user:viewer"))
        exported = {(e.details or {}).get("what") for e in entries}
    assert exported == {"detections", "visits"}


def test_a_download_with_a_bad_format_or_range_is_refused(client_as: ClientAs) -> None:
    client, _ = client_as("viewer")
    bad_format = client.get("/reports/export/detections", params={"format": "xlsx"})
    assert bad_format.status_code == 400
    backwards = client.get(
        "/reports/export/visits",
        params={"since": "2026-12-02T10:00:00Z", "until": "2026-12-01T10:00:00Z"},
    )
    assert backwards.status_code == 400
    assert "before" in backwards.text

"""Visits, trails, last location, headcounts and exports from a scripted day of detections."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from facewatch.server.infra.runtime import Runtime
from support import add_sighting, assert_error

REPORTS = "/api/v1/reports"
DAY = datetime(2026, 11, 20, tzinfo=UTC)

# (minutes after 09:00, camera, who): "alice" is enrolled, "stranger" an unknown identity.
SCRIPT = [
    (0, "gate", "alice"),
    (2, "gate", "alice"),
    (4, "gate", "alice"),
    (6, "hall", "alice"),
    (15, "dock", "stranger"),
    (16, "dock", "stranger"),
    (30, "gate", "alice"),
    (70, "dock", "alice"),
]
CAMERAS = {"gate": "north", "hall": "north", "dock": "south"}


def at(minutes: float) -> datetime:
    return DAY + timedelta(hours=9, minutes=minutes)


@pytest.fixture(scope="module")
def who(runtime: Runtime) -> dict[str, object]:
    """Stores the script; alice's person id and the stranger's unknown id."""
    with runtime.uow() as uow:
        for camera, zone in CAMERAS.items():
            uow.cameras.add(camera, name=camera.title(), zone=zone, latitude=1.5, longitude=2.5)
        alice = uow.people.add("alice")
        stranger = uow.unknowns.add("test-model", np.zeros(4, np.float32), at(15))
        for minutes, camera, name in SCRIPT:
            if name == "alice":
                add_sighting(uow, at(minutes), camera, person_id=alice.id)
            else:
                add_sighting(uow, at(minutes), camera, unknown_id=stranger.id)
        uow.commit()
        return {"alice": alice.id, "stranger": stranger.id}


def get(client: TestClient, admin: dict[str, str], path: str, **params: object) -> object:
    response = client.get(f"{REPORTS}/{path}", params=params, headers=admin)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        (
            "camera",
            [("gate", 0, 4, 3), ("hall", 6, 6, 1), ("gate", 30, 30, 1), ("dock", 70, 70, 1)],
        ),
        ("zone", [("north", 0, 6, 4), ("north", 30, 30, 1), ("south", 70, 70, 1)]),
    ],
)
def test_a_persons_detections_become_visits_by_camera_or_zone(
    client: TestClient,
    admin: dict[str, str],
    who: dict[str, object],
    group_by: str,
    expected: list[tuple[str, float, float, int]],
) -> None:
    found = get(client, admin, "visits", person_id=who["alice"], group_by=group_by)
    assert isinstance(found, list)
    assert [
        (
            v["place"],
            (datetime.fromisoformat(v["arrival"]) - at(0)).total_seconds() / 60,
            (datetime.fromisoformat(v["departure"]) - at(0)).total_seconds() / 60,
            v["detections"],
        )
        for v in found
    ] == expected
    assert {v["name"] for v in found} == {"alice"}


def test_a_strangers_visit_carries_their_unknown_id_and_duration(
    client: TestClient, admin: dict[str, str], who: dict[str, object]
) -> None:
    [visit] = get(client, admin, "visits", unknown_id=who["stranger"])  # type: ignore[misc]
    assert (visit["place"], visit["duration_seconds"], visit["detections"]) == ("dock", 60.0, 2)


def test_the_trail_lists_stops_across_cameras_with_where_they_stand(
    client: TestClient, admin: dict[str, str], who: dict[str, object]
) -> None:
    stops = get(client, admin, "trail", person_id=who["alice"])
    assert isinstance(stops, list)
    assert [s["place"] for s in stops] == ["gate", "hall", "gate", "dock"]
    assert stops[-1]["camera_name"] == "Dock"
    assert (stops[-1]["zone"], stops[-1]["latitude"]) == ("south", 1.5)


@pytest.mark.parametrize(
    ("key", "camera", "minutes"), [("alice", "dock", 70), ("stranger", "dock", 16)]
)
def test_the_last_known_location_is_the_latest_sighting(
    client: TestClient,
    admin: dict[str, str],
    who: dict[str, object],
    key: str,
    camera: str,
    minutes: int,
) -> None:
    param = "person_id" if key == "alice" else "unknown_id"
    seen = get(client, admin, "last-location", **{param: who[key]})
    assert isinstance(seen, dict)
    assert seen["camera_id"] == camera
    assert datetime.fromisoformat(seen["captured_at"]) == at(minutes)
    assert (seen["latitude"], seen["longitude"]) == (1.5, 2.5)


def test_presence_counts_unique_people_and_strangers_per_camera_and_hour(
    client: TestClient, admin: dict[str, str], who: dict[str, object]
) -> None:
    rows = get(client, admin, "presence", period="hour")
    assert isinstance(rows, list)
    table = {
        (r["camera_id"], datetime.fromisoformat(r["period_start"]).hour): (
            r["unique_people"],
            r["unique_strangers"],
            r["detections"],
        )
        for r in rows
    }
    assert table == {
        ("gate", 9): (1, 0, 4),
        ("hall", 9): (1, 0, 1),
        ("dock", 9): (0, 1, 2),
        ("dock", 10): (1, 0, 1),
    }
    [day_dock] = [
        r for r in get(client, admin, "presence", period="day") if r["camera_id"] == "dock"
    ]  # type: ignore[union-attr]
    assert (day_dock["unique_people"], day_dock["unique_strangers"]) == (1, 1)


def read_export(
    client: TestClient, admin: dict[str, str], what: str, fmt: str
) -> list[dict[str, object]]:
    response = client.get(f"{REPORTS}/{what}/export", params={"format": fmt}, headers=admin)
    assert response.status_code == 200, response.text
    assert what in response.headers["content-disposition"]
    data = io.BytesIO(response.content)
    table = pa_csv.read_csv(data) if fmt == "csv" else pq.read_table(data)
    rows: list[dict[str, object]] = table.to_pylist()
    return rows


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_detections_export_opens_with_pyarrow_and_holds_every_row(
    client: TestClient, admin: dict[str, str], who: dict[str, object], fmt: str
) -> None:
    rows = read_export(client, admin, "detections", fmt)
    assert len(rows) == len(SCRIPT)
    assert [r["camera_id"] for r in rows] == [camera for _, camera, _ in SCRIPT]
    assert [r["unknown_id"] for r in rows].count(who["stranger"]) == 2
    assert {r["name"] for r in rows if r["person_id"] is not None} == {"alice"}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_visits_export_opens_with_pyarrow_and_holds_every_visit(
    client: TestClient, admin: dict[str, str], who: dict[str, object], fmt: str
) -> None:
    rows = read_export(client, admin, "visits", fmt)
    assert len(rows) == 5  # alice: gate, hall, gate, dock; the stranger: dock
    assert sorted(float(str(r["duration_seconds"])) for r in rows) == [0, 0, 0, 60, 240]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("trail", {}),
        ("last-location", {"person_id": 1, "unknown_id": "unknown-x"}),
        ("visits", {"since": "2026-11-21T00:00:00Z", "until": "2026-11-20T00:00:00Z"}),
        ("detections/export", {"format": "xlsx"}),
    ],
    ids=["no identity", "two identities", "backwards range", "unknown format"],
)
def test_bad_report_requests_are_refused(
    client: TestClient, admin: dict[str, str], path: str, params: dict[str, object]
) -> None:
    response = client.get(f"{REPORTS}/{path}", params=params, headers=admin)
    assert response.status_code in (400, 422)
    assert_error(response, response.status_code)


def test_the_summary_feeds_charts_per_hour_and_busiest_camera_first(
    client: TestClient, admin: dict[str, str], who: dict[str, object]
) -> None:
    found = get(client, admin, "summary", period="hour")
    assert isinstance(found, dict)
    periods = [
        (datetime.fromisoformat(p["period_start"]).hour, p["detections"], p["known"], p["unknown"])
        for p in found["periods"]
    ]
    assert periods == [(9, 7, 5, 2), (10, 1, 1, 0)]
    assert [(p["unique_people"], p["unique_strangers"]) for p in found["periods"]] == [
        (1, 1),
        (1, 0),
    ]
    assert [(c["camera_id"], c["detections"]) for c in found["cameras"]] == [
        ("gate", 4),
        ("dock", 3),
        ("hall", 1),
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # alice is in both hours: the range counts her once, the periods once each
        ({}, {"detections": 8, "known": 6, "unknown": 2, "unique_people": 1}),
        ({"camera_id": "dock"}, {"detections": 3, "known": 1, "unknown": 2, "unique_people": 1}),
        ({"camera_id": "hall"}, {"detections": 1, "known": 1, "unknown": 0, "unique_people": 1}),
    ],
    ids=["every camera", "dock", "hall"],
)
def test_the_summary_totals_the_whole_range_for_one_camera_or_all(
    client: TestClient,
    admin: dict[str, str],
    who: dict[str, object],
    params: dict[str, str],
    expected: dict[str, int],
) -> None:
    found = get(client, admin, "summary", period="hour", **params)
    assert isinstance(found, dict)
    assert {key: found["totals"][key] for key in expected} == expected
    cameras = {c["camera_id"] for c in found["cameras"]}
    assert cameras == ({params["camera_id"]} if params else set(CAMERAS))

"""Event rules through the real app: types, zones, cooldown, strangers, the stored contract."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integration.events.live import LiveServer

EVENTS = "/api/v1/events"
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

Ingest = Callable[..., dict[str, Any]]
WaitForEvents = Callable[..., list[dict[str, Any]]]


def make_zone(live: LiveServer, camera_id: str, **fields: Any) -> str:
    zone_id = f"zone-{uuid.uuid4().hex[:8]}"
    body = {"id": zone_id, "name": zone_id, "cameras": [camera_id], **fields}
    created = live.client.post("/api/v1/zones", json=body, headers=live.admin)
    assert created.status_code == 201, created.text
    return zone_id


def test_a_recognised_person_raises_one_event_with_every_field_of_the_contract(
    live: LiveServer,
    ingest: Ingest,
    wait_for_events: WaitForEvents,
    enrolled: dict[str, int],
    camera: Callable[[], str],
    read_key: dict[str, str],
) -> None:
    cam = camera()
    detection = ingest("obama", cam, T0)

    [event] = wait_for_events(1, camera_id=cam)
    assert uuid.UUID(event["id"])
    assert event["type"] == "person.recognized"
    assert event["severity"] == "info"
    assert datetime.fromisoformat(event["time"]) == T0
    assert event["camera_id"] == cam
    assert event["zone"] is None
    assert (event["person_id"], event["person_name"]) == (enrolled["obama"], "obama")
    assert event["category"] == "staff"
    assert event["unknown_id"] is None
    assert event["detection_id"] == detection["id"]
    assert event["crop_url"] == f"/api/v1/detections/{detection['id']}/crop"
    assert event["acknowledged_at"] is None

    crop = live.client.get(event["crop_url"], headers=read_key)
    assert crop.status_code == 200
    assert crop.headers["content-type"] == "image/jpeg"
    # The crop's blob name: a keyed hash of its bytes (docs/security.md), not its SHA-256.
    assert live.runtime.blobs.key_for(crop.content) == detection["crop_sha256"]
    assert hashlib.sha256(crop.content).hexdigest() != detection["crop_sha256"]


# who, zone of the camera (None: no zone), expected type and severity
RULES = {
    "watchlist person": ("biden", None, "watchlist.match", "critical"),
    "stranger": ("stranger_kit", None, "person.unknown", "warning"),
    "person outside their zones": (
        "alex_lacamoire",
        {"restricted": True},
        "zone.unauthorized",
        "critical",
    ),
    "person authorised by name": (
        "alex_lacamoire",
        {"restricted": True, "people": ["alex_lacamoire"]},
        "person.recognized",
        "info",
    ),
    "person authorised by category": (
        "obama",
        {"restricted": True, "categories": ["staff"]},
        "person.recognized",
        "info",
    ),
    "other category than the authorised one": (
        "obama",
        {"restricted": True, "categories": ["authorized"]},
        "zone.unauthorized",
        "critical",
    ),
    "person in an open zone": (
        "alex_lacamoire",
        {"restricted": False},
        "person.recognized",
        "info",
    ),
    "watchlist person even where authorised": (
        "biden",
        {"restricted": True, "people": ["biden"]},
        "watchlist.match",
        "critical",
    ),
    "stranger in a restricted zone": (
        "stranger_rose",
        {"restricted": True},
        "person.unknown",
        "critical",
    ),
}


@pytest.mark.parametrize(("who", "zone", "expected", "severity"), RULES.values(), ids=RULES)
def test_each_rule_raises_its_event_type(
    live: LiveServer,
    ingest: Ingest,
    wait_for_events: WaitForEvents,
    enrolled: dict[str, int],
    camera: Callable[[], str],
    who: str,
    zone: dict[str, Any] | None,
    expected: str,
    severity: str,
) -> None:
    cam = camera()
    zone_id = None
    if zone is not None:
        people = [enrolled[name] for name in zone.get("people", [])]
        zone_id = make_zone(live, cam, **{**zone, "people": people})
    ingest(who, cam, T0)

    [event] = wait_for_events(1, camera_id=cam)
    assert (event["type"], event["severity"]) == (expected, severity)
    assert event["zone"] == zone_id


def test_a_stranger_event_carries_a_stranger_id_and_no_person(
    ingest: Ingest, wait_for_events: WaitForEvents, camera: Callable[[], str]
) -> None:
    cam = camera()
    ingest("stranger_kit", cam, T0)
    [event] = wait_for_events(1, camera_id=cam)
    assert event["unknown_id"].startswith("unknown-")
    assert (event["person_id"], event["person_name"], event["category"]) == (None, None, None)
    assert event["crop_url"]


# seconds after T0, camera (a or b), whether an event is raised; cooldown 60 s
COOLDOWN = [
    (0, "a", True),
    (10, "a", False),  # standing in view
    (10, "b", True),  # another camera has its own cooldown
    (65, "a", False),  # 55 s after the last sighting: the window restarted at +10
    (200, "a", True),  # left and came back
]


def test_the_cooldown_raises_one_event_per_person_and_camera_while_they_stay(
    ingest: Ingest,
    wait_for_events: WaitForEvents,
    settle: Callable[[], None],
    camera: Callable[[str], str],
) -> None:
    cams = {"a": camera("a"), "b": camera("b")}
    for seconds, cam, _ in COOLDOWN:
        ingest("obama", cams[cam], T0 + timedelta(seconds=seconds))
    settle()

    for name, cam in cams.items():
        expected = sorted(
            T0 + timedelta(seconds=s) for s, c, raises in COOLDOWN if raises and c == name
        )
        events = wait_for_events(len(expected), camera_id=cam)
        assert sorted(datetime.fromisoformat(e["time"]) for e in events) == expected


def test_one_stranger_keeps_one_id_across_cameras_and_another_gets_their_own(
    ingest: Ingest,
    wait_for_events: WaitForEvents,
    settle: Callable[[], None],
    camera: Callable[[str], str],
) -> None:
    a, b = camera("a"), camera("b")
    ingest("stranger_kit", a, T0)
    ingest("stranger_kit", b, T0 + timedelta(seconds=5))
    ingest("stranger_kit", a, T0 + timedelta(seconds=8))  # within the cooldown: no event
    ingest("stranger_rose", a, T0 + timedelta(seconds=9))  # someone else: an event
    settle()

    on_a = wait_for_events(2, camera_id=a)
    [on_b] = wait_for_events(1, camera_id=b)
    kit_on_a = next(e for e in on_a if e["time"].startswith("2026-11-24T09:00:00"))
    rose_on_a = next(e for e in on_a if e is not kit_on_a)
    assert len(on_a) == 2
    assert kit_on_a["unknown_id"] == on_b["unknown_id"]
    assert rose_on_a["unknown_id"] != kit_on_a["unknown_id"]


def test_an_operator_acknowledges_an_event_once(
    live: LiveServer,
    ingest: Ingest,
    wait_for_events: WaitForEvents,
    camera: Callable[[], str],
) -> None:
    cam = camera()
    ingest("stranger_kit", cam, T0)
    [event] = wait_for_events(1, camera_id=cam)
    operator = live.key("admin")

    first = live.client.post(f"{EVENTS}/{event['id']}/ack", headers=operator)
    again = live.client.post(f"{EVENTS}/{event['id']}/ack", headers=live.admin)

    assert first.status_code == 200, first.text
    prefix = operator["Authorization"].split("_")[1]
    assert first.json()["acknowledged_by"] == f"api-key:{prefix}"
    assert first.json()["acknowledged_at"] is not None
    assert again.json() == first.json()
    assert wait_for_events(0, camera_id=cam, acknowledged=False) == []
    assert [e["id"] for e in wait_for_events(1, camera_id=cam, acknowledged=True)] == [event["id"]]


def test_the_events_list_filters_by_type_zone_and_time(
    live: LiveServer,
    ingest: Ingest,
    wait_for_events: WaitForEvents,
    settle: Callable[[], None],
    camera: Callable[[str], str],
) -> None:
    inside, outside = camera("in"), camera("out")
    zone_id = make_zone(live, inside, restricted=False)
    ingest("obama", inside, T0)
    ingest("stranger_kit", inside, T0 + timedelta(minutes=5))
    ingest("stranger_rose", outside, T0 + timedelta(minutes=10))
    settle()

    by_zone = wait_for_events(2, zone=zone_id)
    unknown_inside = wait_for_events(1, zone=zone_id, type="person.unknown")
    both_cameras = wait_for_events(3, camera_id=[inside, outside])
    later = wait_for_events(
        1,
        camera_id=[inside, outside],
        since=(T0 + timedelta(minutes=5)).isoformat(),
        until=(T0 + timedelta(minutes=10)).isoformat(),
    )
    assert sorted(e["camera_id"] for e in by_zone) == [inside, inside]
    assert [e["type"] for e in unknown_inside] == ["person.unknown"]
    assert [e["time"] for e in both_cameras] == sorted(
        (e["time"] for e in both_cameras), reverse=True
    )
    assert [e["camera_id"] for e in later] == [inside]


BAD_REQUESTS = {
    "unknown event type": ("get", EVENTS, {"type": "person.dancing"}, 422),
    "since after until": (
        "get",
        EVENTS,
        {"since": "2026-11-24T10:00:00Z", "until": "2026-11-24T09:00:00Z"},
        400,
    ),
    "missing event": ("get", f"{EVENTS}/no-such-event", {}, 404),
    "acknowledging a missing event": ("post", f"{EVENTS}/no-such-event/ack", {}, 404),
}


@pytest.mark.parametrize(
    ("method", "path", "params", "status"), BAD_REQUESTS.values(), ids=BAD_REQUESTS
)
def test_bad_event_requests_get_a_clear_4xx(
    live: LiveServer, method: str, path: str, params: dict[str, str], status: int
) -> None:
    response = live.client.request(method, path, params=params, headers=live.admin)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


SCOPES = {
    "listing needs a key": ("get", EVENTS, None, 401),
    "an ingest key cannot list": ("get", EVENTS, "ingest", 403),
    "a read key can list": ("get", EVENTS, "read", 200),
    "a read key cannot acknowledge": ("post", f"{EVENTS}/x/ack", "read", 403),
    "a read key can read the counters": ("get", f"{EVENTS}/stats", "read", 200),
    "the stream needs a key": ("get", f"{EVENTS}/stream", None, 401),
    "an ingest key cannot stream": ("get", f"{EVENTS}/stream", "ingest", 403),
}


@pytest.mark.parametrize(("method", "path", "scope", "status"), SCOPES.values(), ids=SCOPES)
def test_event_routes_check_the_key_scope(
    live: LiveServer, method: str, path: str, scope: str | None, status: int
) -> None:
    headers = live.key(scope) if scope else {}
    response = live.client.request(method, path, headers=headers)
    assert response.status_code == status, response.text


def test_the_counters_show_every_detection_handled_and_none_dropped(
    live: LiveServer, ingest: Ingest, settle: Callable[[], None], camera: Callable[[], str]
) -> None:
    ingest("obama", camera(), T0)
    settle()
    stats = live.client.get(f"{EVENTS}/stats", headers=live.admin).json()
    assert stats["dispatcher"]["handled"] >= 1
    assert stats["dispatcher"]["dropped"] == 0
    assert {sink["name"] for sink in stats["sinks"]} == {"events-webhooks", "events-mqtt"}

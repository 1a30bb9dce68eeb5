"""GET /metrics through the real app: requests, latencies, faces, gallery, edges, replicas."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from facewatch.config import Settings
from facewatch.server.app import create_app
from facewatch.wire import EDGE_ID_HEADER, OUTBOX_DEPTH_HEADER

KNN_TEST = "face_recognition_examples/examples/knn_examples/test"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("metrics"))
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def admin(client: TestClient) -> dict[str, str]:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.uow() as uow:
        _, secret = uow.api_keys.create("metrics test", ["admin"])
        uow.commit()
    return {"Authorization": f"Bearer {secret}"}


def scrape(client: TestClient, **kwargs: object) -> Samples:
    response = client.get("/metrics", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def grows_by(client: TestClient, name: str, action: Callable[[], object], **labels: str) -> float:
    before = value(scrape(client), name, **labels)
    action()
    return value(scrape(client), name, **labels) - before


def test_requests_are_counted_by_route_template_not_by_raw_path(
    client: TestClient, admin: dict[str, str]
) -> None:
    labels = {"method": "GET", "route": "/api/v1/people/{person_id}", "status": "404"}
    grown = grows_by(
        client,
        "facewatch_http_requests_total",
        lambda: [client.get(f"/api/v1/people/{n}", headers=admin) for n in (11, 12, 13)],
        **labels,
    )
    assert grown == 3


def test_unknown_paths_share_one_series(client: TestClient) -> None:
    labels = {"method": "GET", "route": "unmatched", "status": "404"}
    grown = grows_by(
        client,
        "facewatch_http_requests_total",
        lambda: [client.get(f"/no/such/{n}") for n in range(4)],
        **labels,
    )
    assert grown == 4


def test_latencies_land_in_a_histogram(client: TestClient) -> None:
    labels = {"method": "GET", "route": "/healthz"}
    grown = grows_by(
        client,
        "facewatch_http_request_duration_seconds_count",
        lambda: client.get("/healthz"),
        **labels,
    )
    assert grown == 1


def test_faces_recognised_are_counted(
    client: TestClient, admin: dict[str, str], testdata: Path
) -> None:
    photo = testdata / KNN_TEST / "obama_and_biden.jpg"
    found: list[int] = []

    def recognise() -> None:
        files = {"image": (photo.name, photo.read_bytes())}
        response = client.post("/api/v1/recognize", files=files, headers=admin)
        assert response.status_code == 200, response.text
        found.append(len(response.json()["faces"]))

    grown = grows_by(client, "facewatch_faces_total", recognise, route="/api/v1/recognize")
    assert found[0] >= 2
    assert grown == found[0]


def test_the_gallery_size_and_readiness_are_exported(client: TestClient) -> None:
    samples = scrape(client)
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    assert value(samples, "facewatch_ready") == 1
    assert value(samples, "facewatch_gallery_templates") == len(runtime.gallery)
    assert value(samples, "facewatch_scheduler_leader") == 1  # the only replica


def test_an_edge_agent_reports_its_outbox_depth_in_headers(client: TestClient) -> None:
    client.get("/healthz", headers={EDGE_ID_HEADER: "site-7", OUTBOX_DEPTH_HEADER: "42"})
    assert value(scrape(client), "facewatch_edge_outbox_depth", edge="site-7") == 42


def test_queues_registered_by_a_subsystem_are_exported(client: TestClient) -> None:
    class Stats:
        name, accepted, dropped, queued = "events", 10, 1, 3

    client.app.state.metrics.watch_queues(lambda: [Stats()])  # type: ignore[attr-defined]
    samples = scrape(client)
    assert value(samples, "facewatch_queue_depth", queue="events") == 3
    assert value(samples, "facewatch_queue_dropped_total", queue="events") == 1


def test_events_are_counted_by_kind(client: TestClient) -> None:
    metrics = client.app.state.metrics  # type: ignore[attr-defined]
    grown = grows_by(
        client, "facewatch_events_total", lambda: metrics.count_event("unknown"), kind="unknown"
    )
    assert grown == 1


def test_each_event_the_server_raises_is_counted_by_its_type(
    client: TestClient, admin: dict[str, str], testdata: Path
) -> None:
    photo = testdata / KNN_TEST / "alex_lacamoire1.jpg"  # nobody is enrolled: a stranger
    name, kind = "facewatch_events_total", "person.unknown"
    before = value(scrape(client), name, kind=kind)
    files = {"image": (photo.name, photo.read_bytes())}
    data = {"camera_id": "metrics-events"}
    response = client.post("/api/v1/detections", files=files, data=data, headers=admin)
    assert response.status_code == 201, response.text
    assert [d["status"] for d in response.json()["detections"]] == ["unknown"]
    # Events are raised on the dispatcher thread, after the answer.
    deadline = time.monotonic() + 20
    while value(scrape(client), name, kind=kind) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # a second, wrong increment would show by now
    assert value(scrape(client), name, kind=kind) - before == 1


@pytest.mark.parametrize(
    ("authorization", "status"),
    [(None, 401), ("Bearer wrong", 401), ("Basic s3cret", 401), ("Bearer s3cret", 200)],
)
def test_a_metrics_token_guards_the_endpoint(
    tmp_path: Path, authorization: str | None, status: int
) -> None:
    settings = Settings(data_dir=tmp_path, metrics_token="s3cret")  # type: ignore[arg-type]
    headers = {"Authorization": authorization} if authorization else {}
    with TestClient(create_app(settings, warm_up=False)) as test_client:
        response = test_client.get("/metrics", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.json()["code"] == "unauthorized"


def test_the_event_paths_queues_are_exported(client: TestClient) -> None:
    stats = client.app.state.runtime.events.stats()  # type: ignore[attr-defined]
    names = [q.name for q in (stats.dispatcher, *stats.sinks) if q is not None]
    samples = scrape(client)
    depth = "facewatch_queue_depth"
    exported = {dict(labels).get("queue") for name, labels in samples if name == depth}
    assert names
    assert set(names) <= exported

"""Mode local: the agent keeps a copy of the gallery, recognises on site, and goes on
recognising with the server down; plus ``--record`` and the health headers on /metrics.

The server runs with encryption at rest on, so the gallery copy goes through the store's
decryption. The Hamilton clip (640x360, 9 s) shows Lin-Manuel Miranda, who is enrolled from
his photo in face_recognition's examples, next to Alex Lacamoire.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from facewatch.config import Settings
from facewatch.edge.agent import EdgeAgent, RunSummary
from facewatch.edge.config import EdgeConfig
from facewatch.edge.gallery_copy import GalleryCopy
from facewatch.edge.overlay import Verdict
from facewatch.security.crypto import new_master_key
from facewatch.server.infra.runtime import Runtime
from facewatch.vision.embedders.factory import MODEL_SPECS

from .conftest import LiveServer, RecordingTransport

EXAMPLES = "face_recognition_examples/examples"
HAMILTON = f"{EXAMPLES}/short_hamilton_clip.mp4"
LIN = "Lin-Manuel Miranda"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("edge-local-server"), encryption_key=new_master_key()
    )
    live = LiveServer(settings)
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {server.key('admin')}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
        yield client


def enrol(admin: httpx.Client, name: str, photo: Path, category: str) -> int:
    person = admin.post("/api/v1/people", json={"name": name, "category": category}).json()
    files = [("images", (photo.name, photo.read_bytes()))]
    response = admin.post(f"/api/v1/people/{person['id']}/faces", files=files)
    assert response.status_code == 201, response.text
    person_id: int = person["id"]
    return person_id


@pytest.fixture(scope="module")
def people(admin: httpx.Client, testdata: Path) -> dict[str, int]:
    return {
        LIN: enrol(admin, LIN, testdata / EXAMPLES / "lin-manuel-miranda.png", "staff"),
        "Alex Lacamoire": enrol(
            admin, "Alex Lacamoire", testdata / EXAMPLES / "alex-lacamoire.png", "authorized"
        ),
    }


@pytest.fixture(scope="module")
def hamilton(testdata: Path) -> Path:
    return testdata / HAMILTON


def local_config(server: LiveServer, folder: Path, camera_id: str, **extra: Any) -> EdgeConfig:
    data: dict[str, Any] = {
        "server": server.url,
        "api_key": server.key("ingest", "gallery"),
        "edge_id": "local-site",
        "mode": "local",
        "fps": 6,
        "cameras": [{"id": camera_id, "source": extra.pop("source")}],
        "outbox": {"path": str(folder / f"{camera_id}-outbox.db")},
        "local": {"gallery_path": str(folder / "gallery.npz"), "sync_interval": 30},
        "uplink": {"backoff_initial": 0.05, "backoff_max": 0.5},
        "drain_timeout": 60,
        **extra,
    }
    return EdgeConfig.model_validate(data)


def stored_embeddings(settings: Settings) -> dict[int, np.ndarray]:
    runtime = Runtime.open(settings)
    try:
        with runtime.uow() as uow:
            return {
                row.template_id: row.embedding
                for row in uow.templates.all_for_model(runtime.serving_model)
            }
    finally:
        runtime.close()


# --- the route ----------------------------------------------------------------------------
def gallery(client: httpx.Client, **params: str) -> httpx.Response:
    return client.get("/api/v1/edge/gallery", params=params)


@pytest.mark.parametrize(("scopes", "status"), [((), 401), (("ingest",), 403), (("read",), 403)])
def test_the_gallery_copy_needs_the_gallery_scope(
    server: LiveServer, scopes: tuple[str, ...], status: int
) -> None:
    headers = {"Authorization": f"Bearer {server.key(*scopes)}"} if scopes else {}
    with httpx.Client(base_url=server.url, headers=headers) as client:
        assert gallery(client).status_code == status


def test_the_gallery_copy_holds_people_and_decrypted_embeddings_but_no_photos(
    server: LiveServer, people: dict[str, int]
) -> None:
    headers = {"Authorization": f"Bearer {server.key('gallery')}"}
    with httpx.Client(base_url=server.url, headers=headers) as client:
        response = gallery(client)
        assert response.status_code == 200, response.text
        body = response.json()
        copy = GalleryCopy.from_answer(body)
        assert response.headers["etag"] == body["version"]
        assert gallery(client, since=body["version"]).status_code == 304
        assert gallery(client, since="an-old-version").status_code == 200
    assert {(p["name"], p["category"]) for p in body["people"]} == {
        (LIN, "staff"),
        ("Alex Lacamoire", "authorized"),
    }
    assert set(body) == {"version", "model_id", "dim", "top_k", "thresholds", "people", "templates"}
    assert set(body["templates"][0]) == {"id", "person_id", "embedding"}
    assert copy.embeddings.shape == (2, 512)  # EdgeFace, the server's default model
    # The templates as the server decrypts them (stored sealed), not ciphertext.
    stored = stored_embeddings(server.settings)
    assert sorted(copy.template_ids.tolist()) == sorted(stored)
    for template_id, vector in zip(copy.template_ids.tolist(), copy.embeddings, strict=True):
        np.testing.assert_array_equal(vector, stored[template_id])
    defaults = MODEL_SPECS[copy.model_id].defaults  # the serving model's calibrated values
    assert copy.thresholds.match == server.settings.recognition(defaults).match_threshold


def test_each_gallery_copy_taken_is_in_the_audit_log_and_a_304_poll_is_not(
    server: LiveServer, admin: httpx.Client, people: dict[str, int]
) -> None:
    key = server.key("gallery")
    headers = {"Authorization": f"Bearer {key}"}
    actor = f"key:{key[3:11]}"  # fw_<prefix>_<secret>

    def copies() -> list[dict[str, Any]]:
        entries = admin.get("/api/v1/audit", params={"action": "gallery.copied", "limit": 500})
        assert entries.status_code == 200, entries.text
        return [e for e in entries.json()["items"] if e["actor"] == actor]

    with httpx.Client(base_url=server.url, headers=headers) as client:
        version = gallery(client).json()["version"]
        assert gallery(client, since=version).status_code == 304
    (entry,) = copies()
    assert entry["target"] == f"gallery:{version}"
    assert entry["details"] == {"templates": 2, "people": 2}


def test_a_change_to_the_gallery_gives_a_new_version(
    server: LiveServer, admin: httpx.Client, people: dict[str, int]
) -> None:
    before = gallery(admin).json()["version"]
    changed = admin.patch(f"/api/v1/people/{people[LIN]}", json={"category": "watchlist"})
    assert changed.status_code == 200, changed.text
    try:
        after = gallery(admin, since=before)
        assert after.status_code == 200
        assert {p["category"] for p in after.json()["people"] if p["name"] == LIN} == {"watchlist"}
    finally:
        admin.patch(f"/api/v1/people/{people[LIN]}", json={"category": "staff"})


# --- the agent ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def first_run(
    server: LiveServer,
    people: dict[str, int],
    hamilton: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[EdgeConfig, RunSummary, EdgeAgent]:
    folder = tmp_path_factory.mktemp("local-agent")
    config = local_config(
        server, folder, "stage-online", source=str(hamilton), record=str(folder / "run.mp4")
    )
    agent = EdgeAgent(config, transport=RecordingTransport())
    return config, agent.run(), agent


def test_the_agent_recognises_on_site_and_sends_only_embeddings(
    server: LiveServer, people: dict[str, int], first_run: tuple[EdgeConfig, RunSummary, EdgeAgent]
) -> None:
    config, summary, agent = first_run
    counts = summary.cameras["stage-online"]
    assert counts.recognised_on_site == counts.shots > 0
    assert counts.alerts >= 1
    assert summary.outbox_left == 0
    assert counts.payload_bytes / counts.sent < 1200  # 512 float16 values and a few fields
    results = agent.track_results("stage-online")
    assert any(r.verdict is Verdict.KNOWN and r.name == LIN for r in results.values())
    # Upstream: detections without any image, re-matched by the server.
    detections = server.detections(camera_id="stage-online")
    assert len(detections) == counts.sent
    assert all(d["crop_sha256"] is None and d["edge_id"] == "local-site" for d in detections)
    assert people[LIN] in {d["person_id"] for d in detections}
    # The server re-matched the same embeddings by the same rule: the same verdict per track.
    rank = {"unknown": 0, "uncertain": 1, "known": 2}
    upstream: dict[int, str] = {}
    for d in detections:
        track = int(d["track_id"].rsplit("-", 1)[1])
        if rank[d["status"]] >= rank[upstream.get(track, "unknown")]:
            upstream[track] = d["status"]
    assert upstream == {track: r.verdict.value for track, r in results.items()}
    assert config.local.gallery_path.stat().st_mode & 0o777 == 0o600


def test_record_writes_a_playable_mp4_with_one_frame_per_sampled_frame(
    first_run: tuple[EdgeConfig, RunSummary, EdgeAgent],
) -> None:
    config, summary, _ = first_run
    assert config.record is not None
    video = cv2.VideoCapture(str(config.record))
    try:
        assert video.isOpened()
        frames = 0
        while True:
            ok, image = video.read()
            if not ok:
                break
            frames += 1
            assert image.shape == (360, 640, 3)
    finally:
        video.release()
    counts = summary.cameras["stage-online"]
    # every sampled frame is written, those the motion gate let pass without a search too
    assert frames == counts.frames_processed + counts.frames_still == 55  # 9 s at 6 fps


def test_with_the_server_down_a_restarted_agent_recognises_from_the_copy_on_disk(
    server: LiveServer,
    first_run: tuple[EdgeConfig, RunSummary, EdgeAgent],
    hamilton: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, _, _ = first_run
    config = local_config(
        server,
        tmp_path,
        "stage-offline",
        source=str(hamilton),
        local={"gallery_path": str(first.local.gallery_path)},
        drain_timeout=0.5,
    )
    caplog.set_level(logging.WARNING, logger="facewatch.edge.alerts")
    server.stop()
    try:
        agent = EdgeAgent(config, transport=RecordingTransport())
        summary = agent.run()
    finally:
        server.start()
    counts = summary.cameras["stage-offline"]
    assert counts.sent == 0
    assert summary.outbox_left == counts.queued > 0  # waiting for the link, on disk
    assert counts.recognised_on_site == counts.shots
    results = agent.track_results("stage-offline")
    assert any(r.verdict is Verdict.KNOWN and r.name == LIN for r in results.values())
    alerts = [r.getMessage() for r in caplog.records if "ALERT" in r.getMessage()]
    assert any(f"{LIN} (staff) recognised" in line for line in alerts)


# --- edge health ----------------------------------------------------------------------------
def test_each_agents_outbox_depth_reaches_the_servers_metrics(
    server: LiveServer, first_run: tuple[EdgeConfig, RunSummary, EdgeAgent]
) -> None:
    seen: list[httpx.Request] = []

    class Spy(RecordingTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return super().handle_request(request)

    config, _, _ = first_run
    # The same gallery file: the copy is current, so the sync is one 304 answer.
    camera = config.cameras[0].model_copy(update={"id": "health-cam"})
    changes = {"edge_id": "health-site", "record": None, "fps": 1.0, "cameras": [camera]}
    agent = EdgeAgent(config.model_copy(update=changes), transport=Spy())
    agent.run()
    assert seen
    assert all(r.headers["x-facewatch-edge-id"] == "health-site" for r in seen)
    assert all(r.headers["x-facewatch-outbox-depth"].isdigit() for r in seen)
    metrics = httpx.get(f"{server.url}/metrics").text
    reported = re.search(r'facewatch_edge_outbox_depth\{edge="health-site"\} (\S+)', metrics)
    assert reported is not None
    assert float(reported.group(1)) == 0.0  # the last report, after delivery, said empty


# --- colours in mode crops ------------------------------------------------------------------
def test_in_mode_crops_the_servers_answers_colour_the_tracks(
    server: LiveServer, people: dict[str, int], hamilton: Path, tmp_path: Path
) -> None:
    config = local_config(server, tmp_path, "stage-crops", source=str(hamilton), mode="crops")
    agent = EdgeAgent(config, transport=RecordingTransport())
    summary = agent.run()
    assert summary.outbox_left == 0
    results = agent.track_results("stage-crops")
    assert any(r.verdict is Verdict.KNOWN and r.name == LIN for r in results.values())
    assert summary.cameras["stage-crops"].recognised_on_site == 0

"""Changing the embedder of an install: the stored faces are re-embedded in the background
while the old model keeps answering, then every request is answered by the new model."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from facewatch.config import Settings
from facewatch.server.app import create_app
from facewatch.server.infra.runtime import Runtime
from facewatch.server.services.models import Reembedder, read_status, record_target
from facewatch.store.repositories.models import CURSOR_PREFIX
from support import add_sighting, upload

KNN = "face_recognition_examples/examples/knn_examples"
DLIB, EDGEFACE = "dlib_resnet_v1", "edgeface_xs_int8"
PROBES = {"obama1.jpg": ["obama"], "kit_with_rose.jpg": ["kit_harington", "rose_leslie"]}


@pytest.fixture(scope="module")
def data_settings(
    tmp_path_factory: pytest.TempPathFactory, app_database_url: str | None
) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("switch-data"),
        database_url=app_database_url,
        embedder="dlib",
        analysis_workers=0,
        gallery_sync_interval=0.5,
    )


@pytest.fixture(scope="module")
def dlib_install(data_settings: Settings, testdata: Path) -> dict[str, int]:
    """The five knn_examples people enrolled with dlib's model, and a stranger's sighting."""
    knn = testdata / KNN
    ids: dict[str, int] = {}
    with TestClient(create_app(data_settings), raise_server_exceptions=False) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        headers = _admin(runtime)
        for folder in sorted((knn / "train").iterdir()):
            created = client.post("/api/v1/people", json={"name": folder.name}, headers=headers)
            person_id = created.json()["id"]
            files = [("images", (p.name, p.read_bytes())) for p in sorted(folder.iterdir())]
            added = client.post(f"/api/v1/people/{person_id}/faces", files=files, headers=headers)
            assert added.status_code == 201, added.text
            ids[folder.name] = person_id
        stored = client.post(
            "/api/v1/detections",
            files=upload(knn / "test" / "obama_and_biden.jpg"),
            data={"camera_id": "gate-1", "idempotency_key": "switch-1"},
            headers=headers,
        )
        assert stored.status_code == 201, stored.text
        assert runtime.serving_model == DLIB
    return ids


@pytest.fixture(scope="module")
def switched(data_settings: Settings, dlib_install: dict[str, int]) -> Iterator[TestClient]:
    """The same install started with EdgeFace configured."""
    settings = data_settings.model_copy(update={"embedder": "edgeface"})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_the_old_model_answers_until_the_new_one_covers_everyone_then_it_switches(
    switched: TestClient, dlib_install: dict[str, int], testdata: Path
) -> None:
    runtime: Runtime = switched.app.state.runtime  # type: ignore[attr-defined]
    headers = _admin(runtime)
    probes = {name: (testdata / KNN / "test" / name).read_bytes() for name in PROBES}
    answers: list[tuple[int, str | None, str, list[str]]] = []
    stop = threading.Event()

    def recognise() -> None:
        while not stop.is_set():
            for name, data in probes.items():
                response = switched.post(
                    "/api/v1/recognize", files={"image": (name, data)}, headers=headers
                )
                body = response.json() if response.status_code == 200 else {}
                names = sorted(f["name"] for f in body.get("faces", []) if f["status"] == "known")
                answers.append((response.status_code, body.get("model"), name, names))

    worker = threading.Thread(target=recognise)
    worker.start()
    try:
        ready = _wait_for_switch(switched)
    finally:
        time.sleep(1.0)  # a few answers by the new model too
        stop.set()
        worker.join(timeout=60)

    assert ready["models"]["state"] == "current"
    assert ready["model"] == EDGEFACE
    assert Counter(status for status, *_ in answers) == Counter({200: len(answers)})
    by_model = Counter(model for _, model, *_ in answers)
    assert by_model[DLIB] > 0, "the old model answered while re-embedding"
    assert by_model[EDGEFACE] > 0, "the new model answers after the switch"
    for _, model, probe, names in answers:
        assert names == PROBES[probe], f"{probe} by {model}: {names}"


def test_after_the_switch_every_person_has_a_template_of_the_new_model(
    switched: TestClient, dlib_install: dict[str, int]
) -> None:
    runtime: Runtime = switched.app.state.runtime  # type: ignore[attr-defined]
    _wait_for_switch(switched)
    with runtime.uow() as uow:
        assert uow.models.people_without(EDGEFACE) == []
        counts = uow.models.template_counts()
        assert counts[EDGEFACE] == counts[DLIB]  # beside the old ones, one per photo
        assert uow.models.detection_counts() == {EDGEFACE: 3}  # the three faces of the photo
        assert uow.models.pending_count(EDGEFACE) == 0
        assert uow.models.serving() == EDGEFACE
    assert runtime.loaded_gallery is not None
    assert runtime.loaded_gallery.model_id == EDGEFACE
    assert runtime.loaded_gallery.people_count == len(dlib_install)


def test_a_stranger_seen_before_the_switch_is_recognised_as_the_same_stranger_after(
    switched: TestClient, testdata: Path
) -> None:
    runtime: Runtime = switched.app.state.runtime  # type: ignore[attr-defined]
    _wait_for_switch(switched)
    with runtime.uow() as uow:
        before = {d.unknown_id for d in uow.detections.by_idempotency_key("switch-1")}
    stored = switched.post(
        "/api/v1/detections",
        files=upload(testdata / KNN / "test" / "obama_and_biden.jpg"),
        data={"camera_id": "gate-1", "idempotency_key": "switch-2"},
        headers=_admin(runtime),
    )
    assert stored.status_code == 201, stored.text
    strangers = [d for d in stored.json()["detections"] if d["status"] == "unknown"]
    assert len(strangers) == 1
    assert strangers[0]["unknown_id"] in before


def _wait_for_switch(client: TestClient, timeout: float = 240.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, object] = client.get("/readyz").json()
        models = body.get("models")
        if isinstance(models, dict) and models.get("state") == "current":
            return body
        time.sleep(0.5)
    raise AssertionError(f"no switch within {timeout} s: {client.get('/readyz').json()}")


def _admin(runtime: Runtime) -> dict[str, str]:
    with runtime.uow() as uow:
        _, secret = uow.api_keys.create("switch-test", ["admin"])
        uow.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_a_replica_left_on_the_old_model_never_reembeds_back(tmp_path: Path) -> None:
    old = Runtime.open(Settings(data_dir=tmp_path, embedder="dlib"))
    new = Runtime.open(Settings(data_dir=tmp_path, embedder="edgeface"))
    try:
        with old.uow() as uow:
            person = uow.people.add("enrolled with dlib")
            uow.templates.add(person.id, np.full(128, 0.1, np.float32), DLIB, 0.9, [0, 0, 9, 9])
            uow.commit()
        assert old.serving_model == DLIB
        record_target(new.uow, EDGEFACE)  # the newer configuration starts (a rolling update)
        assert Reembedder(new).needed
        for replica in (old, new):  # both report the re-embed the newest configuration asks
            status = read_status(replica)
            assert (status.serving, status.configured, status.state) == (
                DLIB,
                EDGEFACE,
                "reembedding",
            )
            assert [p.name for p in status.people_without_photo] == ["enrolled with dlib"]
        with new.uow() as uow:  # ... and its re-embed completes
            uow.models.set_serving(EDGEFACE)
            uow.commit()
        assert old.follow_serving_model()  # the old replica follows the switch
        assert old.serving_model == EDGEFACE
        assert not Reembedder(old).needed  # and does not re-embed back to dlib
        new.follow_serving_model()
        assert not Reembedder(new).needed
    finally:
        old.close()
        new.close()


def test_a_reembed_abandoned_for_another_model_leaves_no_vectors_behind(tmp_path: Path) -> None:
    runtime = Runtime.open(Settings(data_dir=tmp_path, embedder="dlib"))
    try:
        with runtime.uow() as uow:
            uow.cameras.ensure("gate-1")
            sighting = add_sighting(uow, datetime.now(UTC), "gate-1")
            uow.commit()
            sighting_id = sighting.id
        assert runtime.serving_model == DLIB
        record_target(runtime.uow, EDGEFACE)  # a re-embed toward EdgeFace starts ...
        with runtime.uow() as uow:  # ... and gets as far as one detection
            uow.models.add_pending(sighting_id, EDGEFACE, np.full(512, 0.04, np.float32))
            uow.models.set_cursor_state(CURSOR_PREFIX + EDGEFACE, {"after": sighting_id})
            uow.commit()
            assert uow.models.pending_count(EDGEFACE) == 1
        record_target(runtime.uow, DLIB)  # the operator goes back to dlib before it ends
        with runtime.uow() as uow:
            assert uow.models.pending_count(EDGEFACE) == 0
            assert uow.models.cursor_state(CURSOR_PREFIX + EDGEFACE) == {}
        assert not Reembedder(runtime).needed
    finally:
        runtime.close()

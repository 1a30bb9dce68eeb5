"""First sightings of a new camera may race; an idempotency key names one request only.

* Several first detections from a camera nobody registered yet, sent at the same moment,
  are all stored (the camera is registered once, by whichever request comes first).
* A key sent again with the same content is a retry (the first answer, ``replayed``); with
  other content it is refused with 409 ``idempotency_key_reused``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from facewatch.server.infra.runtime import Runtime
from support import assert_error

PARALLEL = 4
ROUNDS = 10


@pytest.fixture(scope="module")
def ingest_key(make_key: Callable[..., dict[str, str]]) -> dict[str, str]:
    return make_key("ingest")


def _vector(runtime: Runtime, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.05, runtime.analyzer.embedding_dim).astype("<f4").tobytes()


def post_embedding(
    client: TestClient, runtime: Runtime, headers: dict[str, str], seed: int, **fields: str
) -> httpx.Response:
    data = {"camera_id": "edge-cam", "model": runtime.model_id, "box": "10,20,110,120"} | fields
    files = {"embedding": ("e", _vector(runtime, seed), "application/octet-stream")}
    return client.post("/api/v1/edge/embeddings", data=data, files=files, headers=headers)


def test_parallel_first_sightings_of_a_new_camera_are_all_stored(
    client: TestClient, runtime: Runtime, ingest_key: dict[str, str]
) -> None:
    def first_sighting(job: tuple[int, int]) -> int:
        round_no, number = job
        camera = f"new-cam-{round_no}"
        answer = post_embedding(client, runtime, ingest_key, number, camera_id=camera)
        return answer.status_code

    with ThreadPoolExecutor(PARALLEL) as pool:
        statuses = [
            status
            for r in range(ROUNDS)
            for status in pool.map(first_sighting, [(r, n) for n in range(PARALLEL)])
        ]
    assert statuses.count(201) == ROUNDS * PARALLEL, statuses
    cameras = client.get("/api/v1/cameras", params={"limit": 500}, headers=ingest_key)
    if cameras.status_code == 200:  # an ingest key may not read cameras; the rows say it
        ids = {c["id"] for c in cameras.json()["items"]}
        assert {f"new-cam-{r}" for r in range(ROUNDS)} <= ids


def test_an_embedding_key_sent_again_with_the_same_content_is_replayed(
    client: TestClient, runtime: Runtime, ingest_key: dict[str, str]
) -> None:
    fields = {"idempotency_key": "same-twice", "captured_at": "2026-11-24T08:00:00Z"}
    first = post_embedding(client, runtime, ingest_key, 1, **fields)
    again = post_embedding(client, runtime, ingest_key, 1, **fields)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["replayed"] is True
    assert again.json()["detections"] == first.json()["detections"]


@pytest.mark.parametrize(
    ("seed", "changed"),
    [
        (2, {}),  # another vector
        (1, {"camera_id": "other-cam"}),
        (1, {"captured_at": "2026-11-24T08:00:01Z"}),
        (1, {"box": "11,20,110,120"}),
    ],
)
def test_an_embedding_key_reused_for_other_content_is_a_conflict(
    client: TestClient,
    runtime: Runtime,
    ingest_key: dict[str, str],
    seed: int,
    changed: dict[str, str],
) -> None:
    key = f"reused-{seed}-{'-'.join(changed) or 'vector'}"
    fields = {"idempotency_key": key, "captured_at": "2026-11-24T08:00:00Z"}
    assert post_embedding(client, runtime, ingest_key, 1, **fields).status_code == 201
    answer = post_embedding(client, runtime, ingest_key, seed, **(fields | changed))
    assert_error(answer, 409, "idempotency_key_reused")
    assert key in answer.json()["detail"]


def _jpeg(path: Path, box: tuple[int, int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.open(path).convert("RGB").crop(box).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_an_image_key_reused_for_another_image_is_a_conflict(
    client: TestClient, ingest_key: dict[str, str], knn: Path
) -> None:
    photo = knn / "test" / "obama1.jpg"
    width, height = Image.open(photo).size
    first, other = photo.read_bytes(), _jpeg(photo, (1, 0, width, height))
    data = {"camera_id": "lobby-keys", "idempotency_key": "image-key-1"}
    stored = client.post(
        "/api/v1/detections", files={"image": ("a.jpg", first)}, data=data, headers=ingest_key
    )
    assert stored.status_code == 201, stored.text
    retry = client.post(
        "/api/v1/detections", files={"image": ("a.jpg", first)}, data=data, headers=ingest_key
    )
    assert retry.status_code == 201
    assert retry.json()["replayed"] is True
    reused = client.post(
        "/api/v1/detections", files={"image": ("b.jpg", other)}, data=data, headers=ingest_key
    )
    assert_error(reused, 409, "idempotency_key_reused")


def test_a_batch_answers_a_reused_key_with_409_for_that_item_only(
    client: TestClient, runtime: Runtime, ingest_key: dict[str, str]
) -> None:
    def batch(seed: int, key: str) -> dict[str, Any]:
        item = {
            "kind": "embedding",
            "camera_id": "batch-cam",
            "idempotency_key": key,
            "vector": 0,
            "model": runtime.model_id,
            "box": [1, 2, 30, 40],
            "captured_at": "2026-11-24T09:00:00Z",
        }
        files = {"vectors": ("v", _vector(runtime, seed), "application/octet-stream")}
        data = {"manifest": json.dumps({"items": [item]})}
        answer = client.post("/api/v1/edge/batch", data=data, files=files, headers=ingest_key)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()["results"][0]
        return result

    assert batch(5, "batch-key")["status"] == 201
    assert batch(5, "batch-key")["replayed"] is True
    reused = batch(6, "batch-key")
    assert (reused["status"], reused["code"]) == (409, "idempotency_key_reused")

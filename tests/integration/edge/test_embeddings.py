"""Embeddings mode: the agent embeds on site, the server matches the vectors it receives.

POST /api/v1/edge/embeddings takes a little-endian float32 vector, the model that made it,
the face box and the usual ingest fields; it stores a detection like the image ingest does.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from facewatch.config import Settings
from facewatch.edge.agent import EdgeAgent
from facewatch.edge.config import EdgeConfig
from facewatch.types import Embedding
from facewatch.vision.image import encode_jpeg, load_image
from facewatch.vision.pipeline import create_analyzer
from facewatch.wire import quantise_unit

from .conftest import LiveServer, RecordingTransport

KNN = "face_recognition_examples/examples/knn_examples"
MODEL = "edgeface_xs_int8"  # the server's default embedder


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {server.key('admin')}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def obama(admin: httpx.Client, testdata: Path) -> int:
    """Obama enrolled from his knn_examples training photos; his person id."""
    person = admin.post("/api/v1/people", json={"name": "obama-edge"}).json()
    folder = testdata / KNN / "train" / "obama"
    files = [("images", (p.name, p.read_bytes())) for p in sorted(folder.iterdir())]
    assert admin.post(f"/api/v1/people/{person['id']}/faces", files=files).status_code == 201
    person_id: int = person["id"]
    return person_id


@pytest.fixture(scope="module")
def obama_vector(testdata: Path) -> Embedding:
    """An embedding of an Obama photo not used for enrolment, made as the edge would."""
    analyzer = create_analyzer(Settings())
    image = load_image(testdata / KNN / "test" / "obama1.jpg", max_pixels=40_000_000)
    (face,) = analyzer.analyze(image)
    assert face.embedding is not None
    return face.embedding


def post(client: httpx.Client, vector: Embedding, **fields: Any) -> httpx.Response:
    data = {
        "camera_id": "edge-cam",
        "model": MODEL,
        "box": "10,20,110,120",
        "captured_at": datetime(2026, 11, 23, 9, 0, tzinfo=UTC).isoformat(),
        **fields,
    }
    payload = np.asarray(vector, dtype="<f4").tobytes()
    files = {"embedding": ("embedding", payload, "application/octet-stream")}
    return client.post("/api/v1/edge/embeddings", data=data, files=files)


def test_an_enrolled_persons_embedding_is_named_and_stored(
    admin: httpx.Client, obama: int, obama_vector: Embedding
) -> None:
    response = post(admin, obama_vector, idempotency_key="emb-1", track_id="t1", edge_id="e")
    assert response.status_code == 201, response.text
    (detection,) = response.json()["detections"]
    assert (detection["status"], detection["person_id"]) == ("known", obama)
    assert detection["box"] == [10, 20, 110, 120]
    assert detection["crop_sha256"] is None


def test_a_vector_sent_as_int8_is_matched_as_its_float_self(
    admin: httpx.Client, obama: int, obama_vector: Embedding
) -> None:
    data = {
        "camera_id": "edge-cam",
        "model": MODEL,
        "box": "10,20,110,120",
        "dtype": "int8",
    }
    payload = quantise_unit(obama_vector).tobytes()
    assert len(payload) == 512  # a quarter of float32's bytes
    files = {"embedding": ("embedding", payload, "application/octet-stream")}
    sent = admin.post("/api/v1/edge/embeddings", data=data, files=files)
    assert sent.status_code == 201, sent.text
    float_sent = post(admin, obama_vector)
    [as_int8], [as_float] = sent.json()["detections"], float_sent.json()["detections"]
    assert as_int8["person_id"] == obama
    assert abs(as_int8["distance"] - as_float["distance"]) < 0.01


def test_replaying_a_key_returns_the_first_result(
    admin: httpx.Client, obama: int, obama_vector: Embedding
) -> None:
    first = post(admin, obama_vector, idempotency_key="emb-replay").json()
    again = post(admin, obama_vector, idempotency_key="emb-replay").json()
    assert again["replayed"] is True, again
    assert again["detections"] == first["detections"]


def test_a_stranger_is_unknown(admin: httpx.Client, obama: int) -> None:
    random = np.random.default_rng(3).normal(0, 1, 512)
    stranger = (random / np.linalg.norm(random)).astype(np.float32)  # as unit as EdgeFace's
    (detection,) = post(admin, stranger).json()["detections"]
    assert detection["status"] == "unknown"
    assert detection["person_id"] is None


def post_with_thumbnail(client: httpx.Client, vector: Embedding, jpeg: bytes) -> httpx.Response:
    data = {"camera_id": "edge-cam", "model": MODEL, "box": "1,1,50,50"}
    files = {
        "embedding": ("e", np.asarray(vector, "<f4").tobytes(), "application/octet-stream"),
        "thumbnail": ("t.jpg", jpeg, "image/jpeg"),
    }
    return client.post("/api/v1/edge/embeddings", data=data, files=files)


def test_a_thumbnail_is_kept_as_the_crop(
    admin: httpx.Client, obama_vector: Embedding, testdata: Path
) -> None:
    photo = load_image(testdata / KNN / "test" / "obama1.jpg", max_pixels=40_000_000)
    thumbnail = encode_jpeg(np.ascontiguousarray(photo[::12, ::12]))
    response = post_with_thumbnail(admin, obama_vector, thumbnail)
    assert response.status_code == 201, response.text
    assert response.json()["detections"][0]["crop_sha256"]


def test_a_thumbnail_that_is_a_whole_photo_is_refused(
    admin: httpx.Client, obama_vector: Embedding, testdata: Path
) -> None:
    photo = (testdata / KNN / "test" / "obama1.jpg").read_bytes()
    response = post_with_thumbnail(admin, obama_vector, photo)
    assert response.status_code == 413, response.text


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"model": "another-model-v2"}, 409, "model_mismatch"),
        ({"model": "dlib_resnet_v1", "vector": np.ones(128, np.float32)}, 409, "model_mismatch"),
        ({"vector": np.zeros(64, np.float32)}, 400, "invalid_input"),
        ({"vector": np.full(512, np.nan, np.float32)}, 400, "invalid_input"),
        ({"box": "1,2,3"}, 400, "invalid_input"),
        ({"box": "50,50,10,10"}, 400, "invalid_input"),
        ({"camera_id": "bad camera!"}, 422, None),
        ({"quality": "2"}, 422, None),
    ],
)
def test_bad_input_is_refused_with_a_clear_4xx(
    admin: httpx.Client, obama_vector: Embedding, change: dict[str, Any], status: int, code: str
) -> None:
    vector = change.pop("vector", obama_vector)
    response = post(admin, vector, **change)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    if code is not None:
        assert response.json()["code"] == code


@pytest.mark.parametrize(("scope", "status"), [(None, 401), ("read", 403)])
def test_the_route_needs_an_ingest_key(
    server: LiveServer, obama_vector: Embedding, scope: str | None, status: int
) -> None:
    headers = {"Authorization": f"Bearer {server.key(scope)}"} if scope else {}
    with httpx.Client(base_url=server.url, headers=headers) as client:
        assert post(client, obama_vector).status_code == status


def test_the_agent_in_embeddings_mode_sends_vectors_a_fraction_of_the_crops_size(
    server: LiveServer, make_config: Callable[..., EdgeConfig], clip: Path
) -> None:
    transport = RecordingTransport()
    config = make_config("street-emb", clip, mode="embeddings", fps=3)
    agent = EdgeAgent(config, transport=transport)
    summary = agent.run()
    counts = summary.cameras["street-emb"]
    assert summary.outbox_left == 0
    assert counts.sent == counts.queued > 0
    assert counts.payload_bytes / counts.sent < 1200  # 512 float16 values and a few fields
    detections = server.detections(camera_id="street-emb")
    assert len(detections) == counts.sent
    assert all(d["crop_sha256"] is None and d["track_id"] for d in detections)


def test_an_agent_embedding_with_another_model_than_the_servers_falls_back_to_crops(
    server: LiveServer,
    make_config: Callable[..., EdgeConfig],
    clip: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    crops = {"thumbnail_size": 112}
    config = make_config(
        "street-dlib", clip, mode="embeddings", embedder="dlib", fps=3, crops=crops
    )
    agent = EdgeAgent(config)
    with caplog.at_level("ERROR", logger="facewatch.edge.agent"):
        summary = agent.run()
    counts = summary.cameras["street-dlib"]
    assert summary.outbox_left == 0
    assert counts.rejected == 0  # nothing dropped: each refused vector went again as a crop
    assert "refuses this agent's embeddings" in caplog.text
    detections = server.detections(camera_id="street-dlib")
    assert detections, "the crops were stored"
    assert all(d["crop_sha256"] for d in detections)  # crops, analysed by the server's model


def test_an_agent_left_to_choose_embeds_with_the_servers_model(
    server: LiveServer, make_config: Callable[..., EdgeConfig], clip: Path
) -> None:
    agent = EdgeAgent(make_config("street-auto", clip, mode="embeddings"))
    assert agent._embedder is not None
    assert agent._embedder.model_id == MODEL
    agent.outbox.close()


def batch(client: httpx.Client, items: list[dict[str, Any]], **parts: Any) -> httpx.Response:
    encoding = {"vectors": "gzip"} if "vectors_gz" in parts else {}
    manifest = json.dumps({"items": items, "dtype": "float16", **encoding}).encode()
    files: list[tuple[str, tuple[str, bytes, str]]] = [
        ("manifest_gz", ("m", gzip.compress(manifest), "application/gzip"))
    ]
    files += [("files", ("f", data, "image/jpeg")) for data in parts.get("files", [])]
    if "vectors" in parts:
        files.append(("vectors", ("v", parts["vectors"], "application/octet-stream")))
    if "vectors_gz" in parts:
        files.append(("vectors", ("v", parts["vectors_gz"], "application/gzip")))
    return client.post("/api/v1/edge/batch", files=files)


def test_a_batch_answers_each_item_on_its_own(
    admin: httpx.Client, obama: int, obama_vector: Embedding, testdata: Path
) -> None:
    photo = load_image(testdata / KNN / "test" / "obama1.jpg", max_pixels=40_000_000)
    crop = encode_jpeg(np.ascontiguousarray(photo[100:700, 500:1000]))
    base = {"camera_id": "batch-cam", "edge_id": "e"}
    items = [
        {**base, "kind": "crop", "idempotency_key": "b-crop", "image": 0},
        {**base, "kind": "crop", "idempotency_key": "b-broken", "image": 1},
        {**base, "kind": "embedding", "idempotency_key": "b-emb", "vector": 0,
         "model": MODEL, "box": [1, 2, 30, 40], "quality": 0.4},
        {**base, "kind": "embedding", "idempotency_key": "b-nomodel", "vector": 1,
         "model": "other", "box": [1, 2, 30, 40]},
    ]  # fmt: skip
    vectors = np.stack([obama_vector, obama_vector]).astype("<f2").tobytes()
    response = batch(admin, items, files=[crop, b"\xff\xd8\xff broken"], vectors=vectors)
    assert response.status_code == 200, response.text
    results = {r["idempotency_key"]: r for r in response.json()["results"]}
    assert results["b-crop"]["status"] == 201
    assert results["b-crop"]["detections"][0]["person_id"] == obama
    assert (results["b-broken"]["status"], results["b-broken"]["code"]) == (400, "invalid_image")
    assert results["b-emb"]["detections"][0]["person_id"] == obama
    assert results["b-nomodel"]["status"] == 409
    again = batch(admin, items[:1], files=[crop]).json()["results"][0]
    assert again["replayed"] is True, again
    assert again["detections"] == results["b-crop"]["detections"]


def test_a_batch_of_crops_keeps_its_order_and_stores_a_repeated_key_once(
    admin: httpx.Client, obama: int, testdata: Path
) -> None:
    photo = load_image(testdata / KNN / "test" / "obama1.jpg", max_pixels=40_000_000)
    crop = encode_jpeg(np.ascontiguousarray(photo[100:700, 500:1000]))
    empty = encode_jpeg(np.full((120, 120, 3), 128, dtype=np.uint8))
    base = {"camera_id": "order-cam", "kind": "crop"}
    first = batch(admin, [{**base, "idempotency_key": "o-seen", "image": 0}], files=[crop])
    keys = ["o-seen", "o-new", "o-empty", "o-new", "o-late"]
    images = [0, 0, 1, 0, 0]
    items = [{**base, "idempotency_key": k, "image": i} for k, i in zip(keys, images, strict=True)]

    results = batch(admin, items, files=[crop, empty]).json()["results"]

    assert [r["idempotency_key"] for r in results] == keys
    assert [r["replayed"] for r in results] == [True, False, False, True, False]
    assert results[0]["detections"] == first.json()["results"][0]["detections"]
    assert results[3]["detections"] == results[1]["detections"]
    assert results[2]["detections"] == []
    assert {r["detections"][0]["person_id"] for r in results if r["detections"]} == {obama}
    stored = admin.get("/api/v1/detections", params={"camera_id": "order-cam", "limit": 50})
    assert stored.json()["total"] == 3


def test_a_crops_face_box_is_checked_and_a_bad_one_fails_its_item_alone(
    admin: httpx.Client, obama: int, testdata: Path
) -> None:
    photo = load_image(testdata / KNN / "test" / "obama1.jpg", max_pixels=40_000_000)
    (face,) = create_analyzer(Settings()).analyze(photo, embed=False)
    top, left = 100, 500
    crop = encode_jpeg(np.ascontiguousarray(photo[top:700, left:1000]))
    box = face.box
    inside = [box.left - left, box.top - top, box.right - left, box.bottom - top]
    base = {"camera_id": "box-cam", "kind": "crop", "image": 0}
    items = [
        {**base, "idempotency_key": "x-box", "box": inside},
        {**base, "idempotency_key": "x-empty-box", "box": [50, 50, 50, 90]},
        {**base, "idempotency_key": "x-far-box", "box": [4000, 4000, 4100, 4100]},
    ]

    results = {r["idempotency_key"]: r for r in batch(admin, items, files=[crop]).json()["results"]}

    (named,) = results["x-box"]["detections"]
    assert named["person_id"] == obama
    found = named["box"]
    assert abs(found[0] - inside[0]) < 0.2 * (inside[2] - inside[0])
    assert (results["x-empty-box"]["status"], results["x-empty-box"]["code"]) == (
        400,
        "invalid_input",
    )
    # A box beside the image is no hint: the crop is searched as if none had been given.
    assert results["x-far-box"]["detections"][0]["person_id"] == obama


def test_a_gzipped_vector_table_is_read_as_its_rows_and_a_bomb_is_refused(
    admin: httpx.Client, obama: int, obama_vector: Embedding
) -> None:
    item = {"camera_id": "gz-cam", "edge_id": "e", "kind": "embedding", "model": MODEL,
            "box": [1, 2, 30, 40], "vector": 0}  # fmt: skip
    rows = np.stack([obama_vector]).astype("<f2").tobytes()

    sent = batch(admin, [{**item, "idempotency_key": "gz-1"}], vectors_gz=gzip.compress(rows))
    bomb = batch(
        admin, [{**item, "idempotency_key": "gz-2"}], vectors_gz=gzip.compress(b"\0" * 10**6)
    )
    cut = batch(admin, [{**item, "idempotency_key": "gz-3"}], vectors_gz=gzip.compress(rows)[:-12])

    assert sent.status_code == 200, sent.text
    assert sent.json()["results"][0]["detections"][0]["person_id"] == obama
    assert (bomb.status_code, cut.status_code) == (413, 400), (bomb.text, cut.text)
    assert "vectors" in bomb.json()["detail"]
    assert "vectors" in cut.json()["detail"]


@pytest.mark.parametrize(
    ("files", "status"),
    [
        ([("manifest_gz", ("m", b"not gzip", "application/gzip"))], 400),
        ([("manifest_gz", ("m", gzip.compress(b'{"items": []}'), "application/gzip"))], 400),
        ([("manifest_gz", ("m", gzip.compress(b"\0" * 5_000_000), "application/gzip"))], 413),
        ([("vectors", ("v", b"\0" * 256, "application/octet-stream"))], 400),
    ],
)
def test_a_bad_batch_is_refused_whole_with_a_clear_4xx(
    admin: httpx.Client, files: list[Any], status: int
) -> None:
    response = admin.post("/api/v1/edge/batch", files=files)
    assert response.status_code == status, response.text
    assert response.json()["detail"]

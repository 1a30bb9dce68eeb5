"""The batch manifest both sides share: what an agent writes, the server reads, and back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from facewatch.types import Box
from facewatch.wire import BatchItem, BatchManifest, ItemKind, face_results, results_by_key

T0 = datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC)

PREVIOUS_AGENT_MANIFEST = {
    "items": [
        {
            "kind": "crop",
            "camera_id": "gate-1",
            "idempotency_key": "gate-1:r:7:0",
            "captured_at": "2026-11-23T09:00:00.123456+00:00",
            "edge_id": "site-a",
            "track_id": "r-7",
            "image": 0,
            "box": [3, 4, 50, 60],
        },
        {
            "kind": "embedding",
            "camera_id": "gate-1",
            "idempotency_key": "gate-1:r:8:0",
            "captured_at": "2026-11-23T09:00:00.123456+00:00",
            "edge_id": "site-a",
            "model": "edgeface_xs_int8",
            "box": [1, 2, 30, 40],
            "quality": 0.5123,
            "vector": 0,
            "thumbnail": 1,
        },
    ],
    "dtype": "int8",
}
"""A manifest exactly as the uplink of Facewatch 0.1 built it by hand."""


def this_agents_manifest() -> BatchManifest:
    crop = BatchItem.of(
        ItemKind.CROP, "gate-1", "gate-1:r:7:0", T0,
        edge_id="site-a", track_id="r-7", box=Box(3, 4, 50, 60), image=0,
    )  # fmt: skip
    embedding = BatchItem.of(
        ItemKind.EMBEDDING, "gate-1", "gate-1:r:8:0", T0, edge_id="site-a",
        box=Box(1, 2, 30, 40), model="edgeface_xs_int8", quality=0.5123, vector=0, thumbnail=1,
    )  # fmt: skip
    return BatchManifest.model_construct(items=[crop, embedding], dtype="int8")


def test_the_server_reads_the_previous_agents_manifest_as_this_agents() -> None:
    previous = BatchManifest.model_validate(PREVIOUS_AGENT_MANIFEST)
    current = BatchManifest.model_validate_json(this_agents_manifest().to_json())

    assert previous == current
    assert previous.items[0].captured_at == T0


def test_the_manifest_leaves_out_what_the_server_takes_by_default() -> None:
    written = json.loads(this_agents_manifest().to_json())

    assert "quality" not in written["items"][0]  # a crop has none
    assert "track_id" not in written["items"][1]  # the embedding came without one
    assert None not in [value for item in written["items"] for value in item.values()]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"kind": "video"}, "kind"),
        ({"camera_id": "no spaces"}, "camera_id"),
        ({"idempotency_key": "has space"}, "idempotency_key"),
        ({"box": [1, 2, 3]}, "box"),
        ({"quality": 1.5}, "quality"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_item_is_refused_by_the_server_side_model(
    change: dict[str, object], where: str
) -> None:
    item = {**PREVIOUS_AGENT_MANIFEST["items"][0], **change}  # type: ignore[dict-item]

    with pytest.raises(ValidationError) as refused:
        BatchManifest.model_validate({"items": [item]})

    assert refused.value.errors()[0]["loc"][:3] == ("items", 0, where)


def test_an_agent_reads_each_result_by_key_and_skips_what_it_cannot_read() -> None:
    body = {
        "results": [
            {"idempotency_key": "a", "status": 201, "detections": [
                {"status": "known", "name": "Ada"}, {"status": "unknown", "name": None}, "junk",
            ]},
            "junk",
            {"idempotency_key": "b", "status": 400, "detail": "bad", "code": "invalid_input"},
        ]
    }  # fmt: skip

    found = results_by_key(body)

    assert sorted(found) == ["a", "b"]
    assert [(f.status, f.name) for f in face_results(found["a"]["detections"])] == [
        ("known", "Ada"),
        ("unknown", None),
    ]
    assert face_results(found["b"].get("detections")) == ()
    assert results_by_key({"results": "nothing"}) == {}

"""Five look-alike Johns, none enrolled: ingested one by one they become five strangers, and
re-clustering keeps them (and puts back together a stranger that was cut in two)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from facewatch.gallery.clustering import score
from facewatch.server.infra.runtime import Runtime
from integration.unknowns.faces import Ingest


@pytest.fixture(scope="module")
def sightings(ingest: Ingest, johns: dict[str, list[Path]]) -> list[tuple[str, dict[str, Any]]]:
    """Every chip of every John, interleaved across five cameras: (true name, detection)."""
    seen = []
    rounds = max(len(chips) for chips in johns.values())
    for n in range(rounds):
        for camera, (name, chips) in enumerate(johns.items()):
            if n < len(chips):
                [face] = ingest(chips[n].read_bytes(), camera_id=f"cam-{(camera + n) % 5}")
                seen.append((name, face))
    return seen


def current_ids(client: TestClient, admin: dict[str, str], ids: list[int]) -> list[str]:
    """The unknown_id each detection carries now."""
    found: dict[int, str] = {}
    page = client.get("/api/v1/detections", params={"limit": 500}, headers=admin).json()
    for detection in page["items"]:
        found[detection["id"]] = detection["unknown_id"]
    return [found[i] for i in ids]


def test_the_five_johns_unenrolled_become_five_strangers_with_little_error(
    sightings: list[tuple[str, dict[str, Any]]],
) -> None:
    truth = [name for name, _ in sightings]
    labels = [face["unknown_id"] for _, face in sightings]
    result = score(truth, labels)
    assert None not in labels
    assert result.purity >= 0.95  # a cluster almost never mixes two Johns
    assert 5 <= result.clusters <= 7  # and a John is rarely cut in two


def test_reclustering_keeps_the_johns_and_their_ids(
    client: TestClient, admin: dict[str, str], sightings: list[tuple[str, dict[str, Any]]]
) -> None:
    before = [face["unknown_id"] for _, face in sightings]
    response = client.post("/api/v1/unknowns/recluster", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["faces"] == len(sightings)
    after = current_ids(client, admin, [face["id"] for _, face in sightings])
    result = score([name for name, _ in sightings], after)
    assert (result.purity, result.clusters) == (1.0, 5)
    assert set(after) <= set(before)  # ids persist


def test_reclustering_merges_a_stranger_that_was_cut_in_two(
    client: TestClient,
    admin: dict[str, str],
    runtime: Runtime,
    sightings: list[tuple[str, dict[str, Any]]],
) -> None:
    ids = [face["id"] for _, face in sightings]
    salley = [i for (name, _), i in zip(sightings, ids, strict=True) if name == "John_Salley"]
    original = current_ids(client, admin, salley[:1])[0]
    with runtime.uow() as uow:  # what a bad start of the incremental assignment makes
        cut = uow.unknowns.add(runtime.model_id, np.zeros(128, np.float32), datetime.now(UTC))
        uow.unknowns.move(salley[:4], cut.id)
        uow.commit()
    report = client.post("/api/v1/unknowns/recluster", headers=admin).json()
    assert report["merged"] == 1
    assert report["identities_after"] == 5
    assert set(current_ids(client, admin, salley)) == {original}
    assert client.get(f"/api/v1/unknowns/{cut.id}", headers=admin).status_code == 404

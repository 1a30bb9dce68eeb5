"""The analysis workers: the same faces as in-process analysis, batches under load, crashes."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from facewatch.config import Settings
from facewatch.errors import InvalidImage
from facewatch.server.infra.runtime import Runtime
from facewatch.server.infra.workers import AnalysisPool, analyze_all
from facewatch.types import RGBImage
from facewatch.vision.image import load_image
from facewatch.vision.pipeline import FaceAnalyzer, create_analyzer

EXAMPLES = "face_recognition_examples/examples"
PHOTOS = ["obama.jpg", "biden.jpg", "two_people.jpg", "obama-240p.jpg", "alex-lacamoire.png"]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), analysis_workers=1)


@pytest.fixture(scope="module")
def pool(settings: Settings) -> Iterator[AnalysisPool]:
    started = AnalysisPool(settings)
    started.warm_up()
    yield started
    started.close()


@pytest.fixture(scope="module")
def images(testdata: Path) -> list[RGBImage]:
    return [load_image(testdata / EXAMPLES / name, max_pixels=10**7) for name in PHOTOS]


@pytest.fixture(scope="module")
def local(settings: Settings) -> FaceAnalyzer:
    return create_analyzer(settings)


def test_workers_find_the_same_faces_and_embeddings_as_this_process(
    pool: AnalysisPool, local: FaceAnalyzer, images: list[RGBImage]
) -> None:
    with ThreadPoolExecutor(len(images)) as threads:
        pooled = list(threads.map(pool.analyze, images))

    for image, faces in zip(images, pooled, strict=True):
        expected = local.analyze(image)
        assert [f.box for f in faces] == [f.box for f in expected]
        for face, reference in zip(faces, expected, strict=True):
            assert face.embedding is not None
            assert reference.embedding is not None
            np.testing.assert_allclose(face.embedding, reference.embedding, atol=1e-5)


def test_images_queued_while_the_worker_is_busy_share_a_batch(
    pool: AnalysisPool, images: list[RGBImage]
) -> None:
    before = pool.stats
    with ThreadPoolExecutor(8) as threads:
        list(threads.map(pool.analyze, images * 4))

    after = pool.stats
    assert after.images - before.images == len(images) * 4
    assert after.batches - before.batches < len(images) * 4
    assert after.largest_batch > 1


def test_embed_false_leaves_the_embeddings_out(pool: AnalysisPool, images: list[RGBImage]) -> None:
    faces = pool.analyze(images[0], embed=False)

    assert faces
    assert all(face.embedding is None for face in faces)


def test_a_bad_image_fails_alone_and_the_others_of_its_batch_go_on(
    pool: AnalysisPool, images: list[RGBImage]
) -> None:
    bad = np.zeros((10, 10), dtype=np.uint8)
    futures = [pool.submit(image) for image in (images[0], bad, images[1])]

    with pytest.raises(InvalidImage, match="RGB"):
        futures[1].result()
    assert futures[0].result()
    assert futures[2].result()


def test_analyze_all_queues_every_image_at_once_and_answers_in_order(
    pool: AnalysisPool, local: FaceAnalyzer, images: list[RGBImage]
) -> None:
    bad = np.zeros((10, 10), dtype=np.uint8)
    before = pool.stats

    found = analyze_all(pool, [*images, bad, *images])

    assert pool.stats.images - before.images == 2 * len(images) + 1
    assert isinstance(found[len(images)], InvalidImage)
    for image, faces in zip(
        [*images, *images], found[: len(images)] + found[-len(images) :], strict=False
    ):
        assert not isinstance(faces, InvalidImage)
        assert [f.box for f in faces] == [f.box for f in local.analyze(image)]


def test_analyze_all_without_workers_gives_the_same_answers(
    local: FaceAnalyzer, images: list[RGBImage]
) -> None:
    bad = np.zeros((10, 10), dtype=np.uint8)

    found = analyze_all(local, [images[0], bad])

    assert isinstance(found[1], InvalidImage)
    assert not isinstance(found[0], InvalidImage)
    assert [f.box for f in found[0]] == [f.box for f in local.analyze(images[0])]


@pytest.mark.parametrize("analyse_in", ["pool", "local"])
def test_face_boxes_reach_the_analysis_each_with_its_image(
    pool: AnalysisPool, local: FaceAnalyzer, images: list[RGBImage], analyse_in: str
) -> None:
    two = images[2]  # two_people.jpg
    left, right = local.analyze(two)
    analyzer = pool if analyse_in == "pool" else local

    found = analyze_all(analyzer, [two, two, two], [right.box, None, left.box])

    assert not any(isinstance(faces, Exception) for faces in found)
    first, both, last = found
    assert [f.box.iou(right.box) > 0.5 for f in first] == [True]
    assert len(both) == 2
    assert [f.box.iou(left.box) > 0.5 for f in last] == [True]


def test_analyze_all_wants_one_face_box_per_image(
    local: FaceAnalyzer, images: list[RGBImage]
) -> None:
    with pytest.raises(ValueError, match="shorter"):
        analyze_all(local, images[:2], [None])


def _wait_until_dead(pid: int) -> None:
    deadline = time.monotonic() + 10
    stat = Path(f"/proc/{pid}/stat")
    while time.monotonic() < deadline:
        if not stat.exists() or stat.read_text().split()[2] == "Z":
            return
        time.sleep(0.05)
    raise AssertionError(f"worker {pid} is still alive")


def test_a_worker_killed_while_idle_is_replaced_and_costs_no_image(
    pool: AnalysisPool, images: list[RGBImage]
) -> None:
    [pid] = pool.worker_pids()
    os.kill(pid, signal.SIGKILL)
    _wait_until_dead(pid)

    assert pool.analyze(images[0])
    assert pool.worker_pids() != [pid]


def test_the_server_analyses_in_its_workers(client: TestClient, runtime: Runtime) -> None:
    assert isinstance(runtime.analyzer, AnalysisPool)
    assert len(runtime.analyzer.worker_pids()) == runtime.analyzer.size >= 1


def test_the_cli_runtime_analyses_in_its_own_process(settings: Settings) -> None:
    runtime = Runtime.open(settings)
    try:
        assert isinstance(runtime.analyzer, FaceAnalyzer)
    finally:
        runtime.close()

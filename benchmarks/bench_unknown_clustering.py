"""Unknown-face clustering: quality on real faces and time to cluster 10,000 faces.

* The five Johns (dlib_faces/johns, 55 aligned chips, none enrolled): incremental
  assignment (each face joins the nearest stranger centroid within the threshold, else a
  new stranger; the code path of ingest, without the database) over several arrival
  orders, then the re-clustering (Chinese Whispers with constraints) of all 55.
* LFW DevTrain (9,525 photos of 4,038 people; the face nearest each photo's centre): the
  same two, for purity at scale (most LFW people have one photo: a hard, many-singleton set).
* Time: re-clustering every face found in the LFW photos (10,012), and one incremental
  assignment against 10,000 stranger centroids; with ``--database``, also the whole job
  (``services.unknowns.recluster``: read the faces, cluster, move them, recentre the
  strangers, commit) on a SQLite database holding those 10,012 faces as detections.

Embeddings come from the real pipeline (HOG, 5-point landmarks, the embedder of
``--embedder``, default the configured one), cached in the evaluation tools' embedding cache
(the first run embeds LFW: many minutes). The threshold defaults to the model's calibrated
clustering threshold (its ``ModelSpec``; dlib 0.45).

    python benchmarks/bench_unknown_clustering.py [--embedder edgeface] [--threshold T]
        [--orders 5] [--database]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from platformdirs import user_cache_dir

from _shared import machine_line, testdata_dir
from facewatch.config import Settings
from facewatch.evaluation.embeddings import EmbeddingCache, embed_images
from facewatch.gallery.clustering import (
    ClusteringScore,
    assign_frame,
    cluster,
    running_mean,
    score,
)
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas_unknowns import ReclusterOut
from facewatch.server.services.unknowns import recluster
from facewatch.types import MatchStatus
from facewatch.vision.pipeline import FaceAnalyzer, create_analyzer


def incremental(faces: np.ndarray, threshold: float) -> list[int]:
    """Stranger labels as ingest gives them, one face at a time in the given order."""
    centroids = np.zeros_like(faces)
    counts: list[int] = []
    labels = []
    for face in faces:
        [pick] = assign_frame(face[None, :], centroids[: len(counts)], threshold)
        if pick is None:
            centroids[len(counts)] = face
            counts.append(1)
            labels.append(len(counts) - 1)
        else:
            centroids[pick] = running_mean(centroids[pick], counts[pick], face)
            counts[pick] += 1
            labels.append(pick)
    return labels


def incremental_over_orders(
    faces: np.ndarray, truth: Sequence[str], threshold: float, orders: int
) -> list[ClusteringScore]:
    rng = np.random.default_rng(7)
    results = []
    for _ in range(orders):
        order = rng.permutation(len(faces))
        labels = incremental(faces[order], threshold)
        results.append(score([truth[i] for i in order], labels))
    return results


def johns(analyzer: FaceAnalyzer, cache: EmbeddingCache) -> tuple[np.ndarray, list[str]]:
    root = testdata_dir() / "dlib_faces/johns"
    paths = sorted(root.glob("*/*.jpg"))
    found = embed_images(paths, analyzer, cache, max_pixels=10_000_000)
    faces, truth = [], []
    for path in paths:
        entry = found[path]
        if entry.count:
            faces.append(entry.embeddings[0])
            truth.append(path.parent.name)
    return np.stack(faces), truth


def lfw(analyzer: FaceAnalyzer, cache: EmbeddingCache) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Centre faces with their person, and every face of every photo."""
    root = testdata_dir() / "lfw_devtrain/lfw"
    paths = sorted(root.glob("*/*.jpg"))
    found = embed_images(paths, analyzer, cache, max_pixels=10_000_000)
    centre, truth, every = [], [], []
    for path in paths:
        entry = found[path]
        if not entry.count:
            continue
        middle = np.array([entry.width / 2, entry.height / 2])
        boxes = entry.boxes.astype(np.float32)
        centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], 1)
        nearest = int(np.argmin(np.linalg.norm(centres - middle, axis=1)))
        centre.append(entry.embeddings[nearest])
        truth.append(path.parent.name)
        every.extend(entry.embeddings)
    return np.stack(centre), truth, np.stack(every)


def row(name: str, result: ClusteringScore) -> str:
    return (
        f"| {name} | {result.identities} | {result.clusters} | {result.purity:.3f} "
        f"| {result.inverse_purity:.3f} |"
    )


def mean_row(name: str, results: list[ClusteringScore]) -> str:
    clusters = [r.clusters for r in results]
    return (
        f"| {name} | {results[0].identities} | {statistics.mean(clusters):.1f} "
        f"({min(clusters)}-{max(clusters)}) | {statistics.mean(r.purity for r in results):.3f} "
        f"| {statistics.mean(r.inverse_purity for r in results):.3f} |"
    )


def timed(function: object, repeats: int) -> float:
    assert callable(function)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def database_recluster(
    faces: np.ndarray, threshold: float, embedder: str | None
) -> tuple[float, ReclusterOut]:
    """Seconds of one re-clustering job over ``faces`` stored as strangers' detections
    (given the identities incremental assignment made, in a new SQLite database)."""
    chosen: dict[str, Any] = {"embedder": embedder} if embedder else {}
    settings = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="bench-unknowns-")),
        analysis_workers=0,
        unknown_cluster_threshold=threshold,
        **chosen,
    )
    runtime = Runtime.open(settings)
    try:
        _store_strangers(runtime, faces, incremental(faces, threshold))
        started = time.perf_counter()
        report = recluster(runtime)
        return time.perf_counter() - started, report
    finally:
        runtime.close()


def _store_strangers(runtime: Runtime, faces: np.ndarray, labels: list[int]) -> None:
    model = runtime.model_id
    start = datetime(2026, 11, 20, tzinfo=UTC)
    with runtime.uow() as uow:
        uow.cameras.add("cam", name="cam")
        ids: dict[int, str] = {}
        for n, (face, label) in enumerate(zip(faces, labels, strict=True)):
            seen = start + timedelta(seconds=n)
            if label not in ids:
                ids[label] = uow.unknowns.add(model, face, seen).id
            row = uow.detections.add(
                captured_at=seen,
                status=MatchStatus.UNKNOWN,
                confidence=1.0,
                box=[0, 0, 100, 100],
                quality=0.5,
                camera_id="cam",
                embedding=face,
                model=model,
            )
            row.unknown_id = ids[label]
        uow.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embedder", default=None, help="Embedder (default: the configured one).")
    parser.add_argument(
        "--threshold", type=float, default=None, help="Default: the model's cluster threshold."
    )
    parser.add_argument("--orders", type=int, default=5, help="Arrival orders tried.")
    parser.add_argument("--repeats", type=int, default=3, help="Timed runs (median).")
    parser.add_argument("--database", action="store_true", help="Also time the whole job.")
    args = parser.parse_args()

    chosen: dict[str, Any] = {"embedder": args.embedder} if args.embedder else {}
    settings = Settings(analysis_workers=0, **chosen)
    analyzer = create_analyzer(settings)
    cache = EmbeddingCache.for_analyzer(Path(user_cache_dir("facewatch")) / "embeddings", analyzer)
    defaults = analyzer.embedder.spec.defaults
    t = args.threshold or settings.recognition(defaults).cluster_threshold

    john_faces, john_truth = johns(analyzer, cache)
    lfw_faces, lfw_truth, lfw_every = lfw(analyzer, cache)

    print(f"{analyzer.model_id}, threshold {t}")
    print("| set | true identities | strangers found | purity | inverse purity |")
    print("|---|---|---|---|---|")
    print(
        mean_row(
            f"Johns, incremental ({args.orders} orders)",
            incremental_over_orders(john_faces, john_truth, t, args.orders),
        )
    )
    print(row("Johns, re-clustered", score(john_truth, cluster(john_faces, t))))
    print(
        mean_row(
            "LFW DevTrain, incremental (1 order)",
            incremental_over_orders(lfw_faces, lfw_truth, t, 1),
        )
    )
    print(row("LFW DevTrain, re-clustered", score(lfw_truth, cluster(lfw_faces, t))))

    seconds = timed(lambda: cluster(lfw_every, t), args.repeats)
    centroids = lfw_every[:10_000]
    probe = lfw_every[-1:]
    per_face = timed(lambda: assign_frame(probe, centroids, t), 50)
    print()
    print(f"re-cluster {len(lfw_every)} faces: {seconds:.2f} s (median of {args.repeats})")
    print(f"assign one face against {len(centroids)} centroids: {per_face * 1000:.2f} ms")
    if args.database:
        seconds, report = database_recluster(lfw_every, t, args.embedder)
        print(f"re-clustering job on SQLite, {len(lfw_every)} faces: {seconds:.2f} s; {report}")
    print(machine_line())


if __name__ == "__main__":
    main()

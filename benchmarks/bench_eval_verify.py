"""LFW verification through Facewatch's pipeline: the figure behind `facewatch eval verify`.

The protocol of `facewatch eval verify` (10 folds, threshold chosen on 9, accuracy on the
10th) on lfw_devtrain/pairsDevTrain.txt (View 1 DevTrain: 1,100 matched and 1,100
mismatched pairs, split into 10 folds here). Every photo goes through the configured
pipeline (HOG detector, 5-point alignment, dlib ResNet); embeddings are cached in the
user cache dir, as the CLI does, so a second run takes seconds.

Run from the repository root (embedding ~3,400 photos takes a while the first time):

    python benchmarks/bench_eval_verify.py
"""

from __future__ import annotations

import json
import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from _shared import machine_line, testdata_dir
from facewatch.config import Settings
from facewatch.evaluation.cli import default_cache_dir
from facewatch.evaluation.embeddings import EmbeddingCache
from facewatch.evaluation.runs import Embedder, run_verification
from facewatch.vision.pipeline import create_analyzer

err = Console(stderr=True)


class _Log:
    """Progress as plain lines (the run goes to a log file in the background)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("embedding", total=None)

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=total)

    def advance(self, count: int) -> None:
        self._progress.advance(self._task, count)


def main() -> None:
    lfw = testdata_dir() / "lfw_devtrain"
    settings = Settings()
    analyzer = create_analyzer(settings)
    embedder = Embedder(
        analyzer,
        EmbeddingCache.for_analyzer(default_cache_dir(), analyzer),
        settings.max_image_pixels,
    )
    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err) as progress:
        result = run_verification(lfw / "pairsDevTrain.txt", lfw / "lfw", embedder, _Log(progress))
    elapsed = time.perf_counter() - started
    print(f"# LFW verification (pairsDevTrain.txt, 10 folds), {analyzer.model_id}")
    print(f"machine: {machine_line()}; run time {elapsed:.0f} s (cached embeddings are reused)")
    print(
        f"accuracy {result.accuracy:.4f} ± {result.std:.4f}; threshold {result.threshold:.3f} "
        f"(folds: {min(result.fold_thresholds):.3f}..{max(result.fold_thresholds):.3f}); "
        f"{result.pairs} pairs, {result.failed} without a face"
    )
    print("fold accuracies: " + ", ".join(f"{a:.3f}" for a in result.fold_accuracies))
    sys.stdout.write(json.dumps(result.summary()) + "\n")


if __name__ == "__main__":
    main()

"""Milliseconds per face of dlib's ResNet embedder: dlib-bin vs onnxruntime, side by side.

The same aligned 150x150 chips (dlib_faces/johns: 5 men, 11 chips each) go through:

* dlib-bin's ``face_recognition_model_v1.compute_face_descriptor`` (one thread, no BLAS);
* the ONNX graph converted from the same ``.dat`` file, run by onnxruntime on the CPU with
  every graph optimisation on, with 1 and 2 intra-op threads.

Each runtime embeds batches of 1 and of 16 chips. Timing is in rounds: every round runs each
(runtime, threads, batch) once for ``--round-seconds`` seconds, in an order that rotates,
so that load from other processes hits all of them alike; the figure is the median over
rounds of wall-clock ms per face (CPU ms per face beside it). The largest difference between
the two runtimes' descriptors is printed too.

    python benchmarks/bench_embedder.py                 # markdown table on stdout
    python benchmarks/bench_embedder.py --rounds 7 --round-seconds 3

Test data comes from FACEWATCH_TESTDATA (default ../shared/testdata).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from _shared import machine_line, testdata_dir
from facewatch.types import RGBImage
from facewatch.vision.embedders.base import Embedder
from facewatch.vision.embedders.dlib_resnet import DlibResNetEmbedder
from facewatch.vision.embedders.onnx_resnet import OnnxResNetEmbedder
from facewatch.vision.image import load_image

JOHNS = "dlib_faces/johns"
BATCHES = (1, 16)


@dataclass
class Contender:
    """One runtime at one thread count and one batch size."""

    runtime: str
    threads: int
    batch: int
    embed: Callable[[Sequence[RGBImage]], np.ndarray]
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def time_once(self, chips: Sequence[RGBImage], seconds: float) -> None:
        """Embed batches for ``seconds``; record ms per face (wall and CPU)."""
        faces, start, cpu_start = 0, time.perf_counter(), time.process_time()
        offset = 0
        while faces == 0 or time.perf_counter() - start < seconds:
            batch = [chips[(offset + i) % len(chips)] for i in range(self.batch)]
            self.embed(batch)
            faces += self.batch
            offset += self.batch
        self.wall.append(1000 * (time.perf_counter() - start) / faces)
        self.cpu.append(1000 * (time.process_time() - cpu_start) / faces)


def contenders() -> list[Contender]:
    dlib = DlibResNetEmbedder(batch_size=max(BATCHES))
    found = [Contender("dlib-bin", 1, batch, dlib.embed) for batch in BATCHES]
    for threads in (1, 2):
        onnx: Embedder = OnnxResNetEmbedder(threads=threads, batch_size=max(BATCHES))
        found += [Contender("onnxruntime", threads, batch, onnx.embed) for batch in BATCHES]
    return found


def parity(chips: Sequence[RGBImage]) -> float:
    """Largest absolute difference between the two runtimes' descriptors of ``chips``."""
    dlib = DlibResNetEmbedder().embed(chips)
    onnx = OnnxResNetEmbedder(threads=1).embed(chips)
    return float(np.abs(dlib - onnx).max())


def run(chips: Sequence[RGBImage], rounds: int, seconds: float) -> list[Contender]:
    runners = contenders()
    for runner in runners:  # load the models, warm the caches
        runner.embed(list(chips[: runner.batch]))
    for number in range(rounds):
        shift = number % len(runners)
        for runner in runners[shift:] + runners[:shift]:
            runner.time_once(chips, seconds)
        print(f"round {number + 1}/{rounds} done (load {os.getloadavg()[0]:.1f})", file=sys.stderr)
    return runners


def markdown(runners: Sequence[Contender], worst: float, load: tuple[float, float]) -> str:
    dlib_at = {r.batch: statistics.median(r.wall) for r in runners if r.runtime == "dlib-bin"}
    lines = [
        "| runtime | threads | batch | ms per face (wall) | CPU ms per face | vs dlib-bin |",
        "|---|---|---|---|---|---|",
    ]
    for r in runners:
        wall = statistics.median(r.wall)
        lines.append(
            f"| {r.runtime} | {r.threads} | {r.batch} | {wall:.2f} "
            f"| {statistics.median(r.cpu):.2f} | {dlib_at[r.batch] / wall:.1f}x |"
        )
    command = "python benchmarks/bench_embedder.py " + " ".join(sys.argv[1:])
    return "\n".join(
        [
            *lines,
            "",
            f"`{command.strip()}`; largest |dlib - onnx| over the chips: {worst:.1e}; "
            f"1-minute load before / after: {load[0]:.1f} / {load[1]:.1f}.",
            f"Machine: {machine_line()}.",
        ]
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--round-seconds", type=float, default=2.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    folder = testdata_dir() / JOHNS
    chips = [load_image(p, max_pixels=10**6) for p in sorted(folder.glob("*/*.jpg"))]
    load_before = os.getloadavg()[0]
    worst = parity(chips)
    runners = run(chips, args.rounds, args.round_seconds)
    print(markdown(runners, worst, (load_before, os.getloadavg()[0])))


if __name__ == "__main__":
    main()

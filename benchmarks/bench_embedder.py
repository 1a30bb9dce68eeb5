"""Milliseconds per face of each embedder: dlib's ResNet (dlib-bin, onnxruntime), EdgeFace.

The same faces (dlib_faces/johns: 5 men, 11 aligned 150x150 chips each) go through:

* dlib-bin's ``face_recognition_model_v1.compute_face_descriptor`` (one thread, no BLAS);
* the ONNX graph converted from the same ``.dat`` file, run by onnxruntime on the CPU with
  every graph optimisation on, with 1 and 2 intra-op threads;
* EdgeFace-XS on onnxruntime, one thread, on 112x112 ArcFace chips re-aligned from the same
  faces (HOG and the 5 landmarks found on each 150 chip): the shipped int8 file as the
  server runs it (one chip per call, so a vector never depends on its batch), the int8 file
  with whole batches in one call (``exact_batches=False``), and the float file of
  ../shared/models (``--shared-models``; left out when it is missing).

Each runtime embeds batches of 1 and of 16 chips. Timing is in rounds: every round runs each
(runtime, threads, batch) once for ``--round-seconds`` seconds, in an order that rotates,
so that load from other processes hits all of them alike; the figure is the median over
rounds of wall-clock ms per face (CPU ms per face beside it). The largest difference between
the two runtimes' descriptors is printed too.

    python benchmarks/bench_embedder.py                 # markdown table on stdout
    python benchmarks/bench_embedder.py --rounds 7 --round-seconds 3
    python benchmarks/bench_embedder.py --only edgeface      # EdgeFace and onnxruntime dlib

Test data comes from FACEWATCH_TESTDATA (default ../shared/testdata).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from _shared import REPO_ROOT, machine_line, testdata_dir
from facewatch.types import RGBImage
from facewatch.vision.detectors import HogDetector
from facewatch.vision.embedders.base import Embedder
from facewatch.vision.embedders.dlib_resnet import DlibResNetEmbedder
from facewatch.vision.embedders.edgeface import EdgeFaceEmbedder, EdgeFaceFloatEmbedder
from facewatch.vision.embedders.onnx_resnet import OnnxResNetEmbedder
from facewatch.vision.image import load_image
from facewatch.vision.landmarks import Landmarker

JOHNS = "dlib_faces/johns"
BATCHES = (1, 16)


@dataclass
class Contender:
    """One runtime at one thread count and one batch size."""

    runtime: str
    threads: int
    batch: int
    embed: Callable[[Sequence[RGBImage]], np.ndarray]
    chips: str = "dlib"
    """Which chips it reads: ``dlib`` (150x150) or ``arcface`` (112x112)."""
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


def contenders(only: str, float_model: Path | None) -> list[Contender]:
    found: list[Contender] = []
    if only == "all":
        dlib = DlibResNetEmbedder(batch_size=max(BATCHES))
        found += [Contender("dlib-bin", 1, batch, dlib.embed) for batch in BATCHES]
    for threads in (1, 2) if only == "all" else (1,):
        onnx: Embedder = OnnxResNetEmbedder(threads=threads, batch_size=max(BATCHES))
        found += [Contender("onnxruntime", threads, batch, onnx.embed) for batch in BATCHES]
    edgeface: list[tuple[str, Embedder]] = [
        ("edgeface int8", EdgeFaceEmbedder(threads=1, batch_size=max(BATCHES))),
        (
            "edgeface int8, whole batches",
            EdgeFaceEmbedder(threads=1, batch_size=max(BATCHES), exact_batches=False),
        ),
    ]
    if float_model is not None and float_model.is_file():
        float_embedder = EdgeFaceFloatEmbedder(float_model, threads=1, batch_size=max(BATCHES))
        edgeface.append(("edgeface float", float_embedder))
    for name, embedder in edgeface:
        batches = BATCHES[1:] if "whole" in name else BATCHES
        found += [Contender(name, 1, batch, embedder.embed, "arcface") for batch in batches]
    return found


def arcface_chips(chips: Sequence[RGBImage]) -> list[RGBImage]:
    """EdgeFace's 112x112 chips of the faces HOG finds in dlib's 150x150 chips."""
    hog, landmarker, edgeface = HogDetector(), Landmarker(), EdgeFaceEmbedder()
    found = []
    for chip in chips:
        for face in hog.detect(chip)[:1]:
            found.append(edgeface.align(chip, face.box, landmarker.locate(chip, face.box)))
    return found


def parity(chips: Sequence[RGBImage]) -> float:
    """Largest absolute difference between the two runtimes' descriptors of ``chips``."""
    dlib = DlibResNetEmbedder().embed(chips)
    onnx = OnnxResNetEmbedder(threads=1).embed(chips)
    return float(np.abs(dlib - onnx).max())


def run(
    chips: Mapping[str, Sequence[RGBImage]], runners: list[Contender], rounds: int, seconds: float
) -> list[Contender]:
    for runner in runners:  # load the models, warm the caches
        runner.embed(list(chips[runner.chips][: runner.batch]))
    for number in range(rounds):
        shift = number % len(runners)
        for runner in runners[shift:] + runners[:shift]:
            runner.time_once(chips[runner.chips], seconds)
        print(f"round {number + 1}/{rounds} done (load {os.getloadavg()[0]:.1f})", file=sys.stderr)
    return runners


def markdown(runners: Sequence[Contender], worst: float, load: tuple[float, float]) -> str:
    base = "dlib-bin" if any(r.runtime == "dlib-bin" for r in runners) else "onnxruntime"
    base_at = {
        r.batch: statistics.median(r.wall) for r in runners if (r.runtime, r.threads) == (base, 1)
    }
    lines = [
        f"| runtime | threads | batch | ms per face (wall) | CPU ms per face | vs {base} |",
        "|---|---|---|---|---|---|",
    ]
    for r in runners:
        wall = statistics.median(r.wall)
        lines.append(
            f"| {r.runtime} | {r.threads} | {r.batch} | {wall:.2f} "
            f"| {statistics.median(r.cpu):.2f} | {base_at[r.batch] / wall:.1f}x |"
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
    parser.add_argument(
        "--only",
        choices=["all", "edgeface"],
        default="all",
        help="edgeface: leave out dlib-bin and two-thread onnxruntime (quicker)",
    )
    parser.add_argument(
        "--shared-models",
        type=Path,
        default=Path(
            os.environ.get("FACEWATCH_SHARED_MODELS") or REPO_ROOT.parent / "shared" / "models"
        ),
        help="folder of edgeface_xs.onnx, the float model (not shipped)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    folder = testdata_dir() / JOHNS
    dlib_chips = [load_image(p, max_pixels=10**6) for p in sorted(folder.glob("*/*.jpg"))]
    chips = {"dlib": dlib_chips, "arcface": arcface_chips(dlib_chips)}
    print(f"{len(chips['arcface'])} of {len(dlib_chips)} faces re-aligned", file=sys.stderr)
    load_before = os.getloadavg()[0]
    worst = parity(dlib_chips) if args.only == "all" else float("nan")
    runners = contenders(args.only, args.shared_models / "edgeface_xs.onnx")
    run(chips, runners, args.rounds, args.round_seconds)
    print(markdown(runners, worst, (load_before, os.getloadavg()[0])))


if __name__ == "__main__":
    main()

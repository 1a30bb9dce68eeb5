"""Face detector recall and speed on dlib's annotated photos: HOG vs MMOD CNN (dlib and ONNX).

The 11 photos of ../shared/testdata/dlib_faces with their ground-truth face boxes
(testing.xml and training.xml; faces from 37 px) go through:

* dlib's HOG detector (``HogDetector``, upsampled once, as Facewatch's auto mode does here);
* dlib-bin's own MMOD CNN (``cnn_face_detection_model_v1``, upsampled once);
* the same MMOD network converted to ONNX (``MmodCnnDetector``, upsampled once), on 1 and
  on 2 onnxruntime threads.

A detection matches a ground-truth box when their intersection over union is at least
``--iou`` (greedy, best score first; each box matched once). Reported per detector: recall
(matched / annotated), false positives, and the median CPU and wall ms per photo.

    python benchmarks/bench_mmod.py                # markdown on stdout
    python benchmarks/bench_mmod.py --skip-dlib    # without dlib-bin's slow CNN

Test data comes from FACEWATCH_TESTDATA (default ../shared/testdata).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dlib

from _shared import machine_line, testdata_dir
from facewatch.types import Box, RGBImage
from facewatch.vision.detectors import HogDetector
from facewatch.vision.detectors.mmod_cnn import MmodCnnDetector
from facewatch.vision.image import load_image
from facewatch.vision.models import cnn_face_detector_path

FOLDER = "dlib_faces"
ANNOTATIONS = ("testing.xml", "training.xml")

Detect = Callable[[RGBImage], list[tuple[Box, float]]]


@dataclass
class Tally:
    name: str
    detect: Detect
    matched: int = 0
    annotated: int = 0
    false_positives: int = 0
    cpu_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)


def annotated_photos(folder: Path) -> list[tuple[Path, list[Box]]]:
    photos = []
    for name in ANNOTATIONS:
        for image in ET.parse(folder / name).getroot().iter("image"):
            boxes = [
                Box(
                    int(b.get("left", 0)),
                    int(b.get("top", 0)),
                    int(b.get("left", 0)) + int(b.get("width", 0)),
                    int(b.get("top", 0)) + int(b.get("height", 0)),
                )
                for b in image.iter("box")
                if b.get("ignore") != "1"
            ]
            photos.append((folder / str(image.get("file")), boxes))
    return photos


def match(found: Sequence[tuple[Box, float]], truth: Sequence[Box], iou: float) -> int:
    """How many ground-truth boxes a detection claims (best score first, once each)."""
    free = list(truth)
    hits = 0
    for box, _ in sorted(found, key=lambda f: f[1], reverse=True):
        best = max(free, key=box.iou, default=None)
        if best is not None and box.iou(best) >= iou:
            free.remove(best)
            hits += 1
    return hits


def detectors(skip_dlib: bool) -> list[Tally]:
    hog = HogDetector(upsample=1)
    tallies = [
        Tally("HOG (dlib, upsample 1)", lambda im: [(f.box, f.score) for f in hog.detect(im)])
    ]
    if not skip_dlib:
        cnn = dlib.cnn_face_detection_model_v1(str(cnn_face_detector_path()))

        def dlib_cnn(image: RGBImage) -> list[tuple[Box, float]]:
            return [
                (
                    Box(d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1),
                    d.confidence,
                )
                for d in cnn(image, 1)
            ]

        tallies.append(Tally("MMOD CNN (dlib-bin, upsample 1)", dlib_cnn))
    for threads in (1, 2):
        mmod = MmodCnnDetector(threads=threads, upsample=1)
        tallies.append(
            Tally(
                f"MMOD CNN (onnxruntime, {threads} thread{'s' if threads > 1 else ''}, upsample 1)",
                lambda im, d=mmod: [(f.box, f.score) for f in d.detect(im)],
            )
        )
    return tallies


def run(tallies: list[Tally], photos: list[tuple[Path, list[Box]]], iou: float) -> None:
    for tally in tallies:  # load every model before timing
        tally.detect(load_image(photos[0][0], max_pixels=10**8))
    for path, truth in photos:
        image = load_image(path, max_pixels=10**8)
        for tally in tallies:
            wall, cpu = time.perf_counter(), time.process_time()
            found = tally.detect(image)
            tally.wall_ms.append(1000 * (time.perf_counter() - wall))
            tally.cpu_ms.append(1000 * (time.process_time() - cpu))
            hits = match(found, truth, iou)
            tally.matched += hits
            tally.annotated += len(truth)
            tally.false_positives += len(found) - hits
        print(f"{path.name}: done (load {os.getloadavg()[0]:.1f})", file=sys.stderr)


def markdown(tallies: Sequence[Tally], args: argparse.Namespace, photos: int) -> str:
    lines = [
        "| detector | recall | false positives | CPU ms / photo (median) | wall ms / photo |",
        "|---|---|---|---|---|",
    ]
    for t in tallies:
        lines.append(
            f"| {t.name} | {t.matched}/{t.annotated} ({t.matched / t.annotated:.0%}) "
            f"| {t.false_positives} | {statistics.median(t.cpu_ms):.0f} "
            f"| {statistics.median(t.wall_ms):.0f} |"
        )
    command = "python benchmarks/bench_mmod.py " + " ".join(sys.argv[1:])
    return "\n".join(
        [
            *lines,
            "",
            f"`{command.strip()}`: {photos} photos of dlib_faces ({', '.join(ANNOTATIONS)}), "
            f"a match needs IoU >= {args.iou}; 1-minute load at the end "
            f"{os.getloadavg()[0]:.1f}.",
            f"Machine: {machine_line()}.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--iou", type=float, default=0.5)
    parser.add_argument("--skip-dlib", action="store_true", help="leave out dlib-bin's CNN")
    args = parser.parse_args(argv)
    photos = annotated_photos(testdata_dir() / FOLDER)
    tallies = detectors(args.skip_dlib)
    run(tallies, photos, args.iou)
    print(markdown(tallies, args, len(photos)))


if __name__ == "__main__":
    main()

"""Re-detecting faces in face crops: the analyzer's scaled pass beside the former strategy.

The server detects again on every crop an edge agent sends (false candidates are dropped
there). Crops are small and nearly filled by the face, with little context around it, which
HOG was not trained on. Two strategies, on the same crops, one after the other per crop set:

* ``former``: HOG on the crop upsampled once; when nothing is found, again on a copy with a
  replicated 25% border, doubled when the crop's shorter side is at most 100 px, and
  upsampled once more by HOG (4x the pixels of the first pass, and more);
* ``scaled`` (``FaceAnalyzer.detect`` now): the crop with a 25% border scaled so that its
  shorter side is 128 px, searched at that scale only; then a 15% border at 160 px; then
  HOG's own pass on the crop as it is;
* ``given box`` (``FaceAnalyzer.detect`` with ``face_box``, what the edge agent sends): the
  region of the face box the client found (15% around it) scaled so that the box is 90 px,
  searched at that scale only; when no face is confirmed there, the ``scaled`` passes.
  The box is the one HOG found in the frame, mapped into the crop (for ``lfw``: HOG's box
  on the whole photo, upsampled once; none when it finds none).

Crop sets (every crop holds one face by construction): the faces HOG (upsampled once) finds
in frames 0, 8, ..., 96 of facenet_pytorch/examples/video.mp4 cut as bench_throughput.py
cuts them (``tight``: the box, 7 px wider on each side, as the older system's crops), as the
edge agent cuts them (``edge``: a 40% margin, at most 150 px), the same scaled to 90 px
(``edge90``), and 150 LFW photos' centres, 90 x 82 px (``lfw``).

    python benchmarks/bench_crop_detection.py

Test data comes from FACEWATCH_TESTDATA (default ../shared/testdata).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from _shared import STREET_CLIP, STREET_FRAMES, machine_line, testdata_dir, video_faces
from facewatch.config import Settings
from facewatch.types import Box, DetectedFace, RGBImage
from facewatch.vision.detectors import HogDetector
from facewatch.vision.embedders import create_embedder
from facewatch.vision.image import crop_region
from facewatch.vision.landmarks import Landmarker
from facewatch.vision.pipeline import FaceAnalyzer

VIDEO = STREET_CLIP
LFW = "lfw_devtrain/lfw"
FRAMES = STREET_FRAMES
ROUNDS = 3


def _jpeg(image: RGBImage, quality: int = 90) -> RGBImage:
    """The crop as the server sees it: through a JPEG round trip."""
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB))


def _scaled(image: RGBImage, long_side: int) -> RGBImage:
    scale = long_side / max(image.shape[:2])
    if scale >= 1:
        return image
    return np.ascontiguousarray(
        cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    )


Crop = tuple[RGBImage, Box | None]
"""A crop and the face box within it that a client would send (None: not known)."""


def crop_sets(testdata: Path) -> dict[str, list[Crop]]:
    sets: dict[str, list[Crop]] = {"tight": [], "edge": [], "edge90": [], "lfw": []}
    for rgb, box in video_faces(testdata / VIDEO, FRAMES):
        height, width = rgb.shape[:2]
        cut = Box(max(box.left - 7, 0), max(box.top, 0), box.right + 7, box.bottom).clip(
            width, height
        )
        tight = rgb[cut.top : cut.bottom, cut.left : cut.right]
        sets["tight"].append((_jpeg(np.ascontiguousarray(tight)), box.moved(-cut.left, -cut.top)))
        region = crop_region(box, 0.4, width, height)
        edge = np.ascontiguousarray(rgb[region.top : region.bottom, region.left : region.right])
        inside = box.moved(-region.left, -region.top)
        to_150 = min(150 / max(edge.shape[:2]), 1.0)
        sets["edge"].append((_jpeg(_scaled(edge, 150)), inside.scaled(to_150)))
        to_90 = 90 / max(edge.shape[:2])
        edge90 = np.ascontiguousarray(cv2.resize(edge, None, fx=to_90, fy=to_90))
        sets["edge90"].append((_jpeg(edge90), inside.scaled(to_90)))
    photos = sorted((testdata / LFW).glob("*/*.jpg"))
    random.Random(0).shuffle(photos)
    detector = HogDetector(upsample=1)
    for photo in photos[:150]:
        image = np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB))
        found = detector.detect(image)
        box = found[0].box.moved(-80, -84) if found else None
        sets["lfw"].append((np.ascontiguousarray(image[84:166, 80:170]), box))
    return sets


Strategy = Callable[[RGBImage, Box | None], list[DetectedFace]]


def former(detector: HogDetector) -> Strategy:
    """The strategy before: an upsampled pass, then a padded (and doubled) retry."""

    def detect(image: RGBImage, _: Box | None) -> list[DetectedFace]:
        found = detector.detect(image)
        if found:
            return found
        shorter = min(image.shape[:2])
        pad = round(shorter * 0.25)
        larger = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        if shorter <= 100:
            larger = cv2.resize(larger, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_LINEAR)
        return detector.detect(np.ascontiguousarray(larger))

    return detect


def measure(detect: Strategy, crops: Sequence[Crop]) -> tuple[int, float]:
    """Crops with a face found, and CPU ms per crop (best of ``ROUNDS``)."""
    found = sum(bool(detect(crop, box)) for crop, box in crops)
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for crop, box in crops:
            detect(crop, box)
        best = min(best, (time.process_time() - started) * 1000 / len(crops))
    return found, best


def main() -> None:
    sets = crop_sets(testdata_dir())
    detector = HogDetector()
    analyzer = FaceAnalyzer(detector, Landmarker(), create_embedder(Settings()))
    strategies: dict[str, Strategy] = {
        "former": former(detector),
        "scaled": lambda image, _: analyzer.detect(image),
        "given box": analyzer.detect,
    }
    header = " | ".join(f"{name}: found | CPU ms/crop" for name in strategies)
    print(f"| crops | n | with a box | median size | {header} |")
    print("|---|---|---|---|" + "---|---|" * len(strategies))
    totals = {name: [0, 0.0] for name in strategies}
    count = 0
    for name, crops in sets.items():
        widths = sorted(c.shape[1] for c, _ in crops)
        heights = sorted(c.shape[0] for c, _ in crops)
        boxes = sum(box is not None for _, box in crops)
        size = f"{widths[len(widths) // 2]}x{heights[len(heights) // 2]}"
        cells = []
        for strategy, detect in strategies.items():
            found, ms = measure(detect, crops)
            totals[strategy][0] += found
            totals[strategy][1] += ms * len(crops)
            cells.append(f"{found} ({found / len(crops):.0%}) | {ms:.1f}")
        count += len(crops)
        print(f"| {name} | {len(crops)} | {boxes} | {size} | {' | '.join(cells)} |")
    cells = [f"{f} ({f / count:.0%}) | {ms / count:.1f}" for f, ms in totals.values()]
    print(f"| all | {count} | | | {' | '.join(cells)} |")
    print()
    print(f"Command: `python benchmarks/bench_crop_detection.py`. Machine: {machine_line()}.")


if __name__ == "__main__":
    main()

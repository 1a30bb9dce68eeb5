"""Faces HOG misses on LFW DevTrain, and how many a fallback detector still misses.

Every photo of ../shared/testdata/lfw_devtrain (9,525, 250 x 250, deep-funneled: the
labelled face is centred) goes through ``FaceAnalyzer.detect`` with HOG alone (upsampled
once, then the padded retry of small images: what the server did before). Each photo HOG
misses then goes through the same analyzer with a fallback detector behind HOG:

* ``ultra-light``: the packaged Ultra-Light RFB-640, the image padded to its aspect ratio
  (``keep_aspect``: what ``create_analyzer`` wires);
* ``ultra-light-stretch``: the same model on the image stretched to 640 x 480;
* ``mmod``: dlib's MMOD CNN on onnxruntime (``MmodCnnDetector``, no upsampling).

A face counts as *the* face when its box centre lies within 45 px of the photo's centre;
other faces found are counted apart (a face in the background, or a false one).

With ``--crops`` the same is done on face crops: the centre 120 x 120 of every
``--crop-every``-th photo and of every photo HOG missed, the size of crop an edge agent
sends, which takes the analyzer's crop path (bordered, scaled passes, then the fallback on
a copy with a wide border).

CPU per photo (``time.process_time``, all threads; onnxruntime on one thread): HOG alone
over all photos, and what the fallback adds on a photo HOG missed (its full ``detect``
minus HOG's part).

    python benchmarks/bench_detection_misses.py                 # all 9,525 photos
    python benchmarks/bench_detection_misses.py --every 10 --crops

Test data comes from FACEWATCH_TESTDATA (default ../shared/testdata).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _shared import machine_line, testdata_dir
from facewatch.types import DetectedFace, RGBImage
from facewatch.vision.detectors import FaceDetector, HogDetector, UltraLightOnnxDetector
from facewatch.vision.detectors.mmod_cnn import MmodCnnDetector
from facewatch.vision.embedders import DlibResNetEmbedder
from facewatch.vision.image import load_image
from facewatch.vision.landmarks import Landmarker
from facewatch.vision.pipeline import FaceAnalyzer

LFW = Path("lfw_devtrain/lfw")
CENTRE_TOLERANCE = 45
"""A face whose box centre is this close (px, each axis) to the photo's is the labelled one."""
CROP_SIDE = 120

FALLBACKS: dict[str, Callable[[], FaceDetector]] = {
    "ultra-light": lambda: UltraLightOnnxDetector(threads=1, keep_aspect=True),
    "ultra-light-stretch": lambda: UltraLightOnnxDetector(threads=1),
    "mmod": lambda: MmodCnnDetector(threads=1),
}


@dataclass
class Tally:
    """One detector setup over one image set."""

    images: int = 0
    missed: list[str] = field(default_factory=list)
    central: int = 0
    """Images whose faces include the centred one."""
    others_only: int = 0
    """Images with faces found, none of them the centred one."""
    cpu_ms: list[float] = field(default_factory=list)


def analyzer(fallback: FaceDetector | None) -> FaceAnalyzer:
    # Only ``detect`` runs: the embedder is never loaded.
    return FaceAnalyzer(HogDetector(), Landmarker(), DlibResNetEmbedder(), fallback=fallback)


def centred(faces: Sequence[DetectedFace], image: RGBImage) -> bool:
    height, width = image.shape[:2]
    return any(
        abs((f.box.left + f.box.right) / 2 - width / 2) <= CENTRE_TOLERANCE
        and abs((f.box.top + f.box.bottom) / 2 - height / 2) <= CENTRE_TOLERANCE
        for f in faces
    )


def crop_of(image: RGBImage) -> RGBImage:
    height, width = image.shape[:2]
    top, left = (height - CROP_SIDE) // 2, (width - CROP_SIDE) // 2
    return image[top : top + CROP_SIDE, left : left + CROP_SIDE].copy()


def timed(analyzer: FaceAnalyzer, image: RGBImage) -> tuple[list[DetectedFace], float]:
    started = time.process_time()
    faces = analyzer.detect(image)
    return faces, (time.process_time() - started) * 1000


def note(tally: Tally, name: str, image: RGBImage, faces: list[DetectedFace], ms: float) -> None:
    tally.images += 1
    tally.cpu_ms.append(ms)
    if not faces:
        tally.missed.append(name)
    elif centred(faces, image):
        tally.central += 1
    else:
        tally.others_only += 1


def run(images: Sequence[tuple[str, RGBImage]], fallbacks: Sequence[str]) -> dict[str, Tally]:
    """HOG on every image; each fallback on HOG's misses (its CPU: HOG's part taken off)."""
    hog = analyzer(None)
    with_fallback = {name: analyzer(FALLBACKS[name]()) for name in fallbacks}
    for candidate in with_fallback.values():
        candidate.warm_up()
    hog.warm_up()
    tallies = {"hog": Tally(), **{name: Tally() for name in fallbacks}}
    for number, (name, image) in enumerate(images, 1):
        faces, hog_ms = timed(hog, image)
        note(tallies["hog"], name, image, faces, hog_ms)
        if not faces:
            for fallback, candidate in with_fallback.items():
                found, ms = timed(candidate, image)
                note(tallies[fallback], name, image, found, max(ms - hog_ms, 0.0))
        if number % 500 == 0:
            print(
                f"{number}/{len(images)}: HOG missed {len(tallies['hog'].missed)}", file=sys.stderr
            )
    return tallies


def load_photos(root: Path, every: int) -> list[tuple[str, RGBImage]]:
    paths = sorted(root.glob("*/*.jpg"))[::every]
    return [(str(p.relative_to(root)), load_image(p, max_pixels=1_000_000)) for p in paths]


def markdown(title: str, tallies: dict[str, Tally]) -> str:
    hog = tallies["hog"]
    lines = [
        f"**{title}**: {hog.images} images",
        "",
        "| detector | images without a face | ... with the centred face found | with only other "
        "faces | CPU ms per image: mean (HOG: all images; fallback: added on a miss) |",
        "|---|---|---|---|---|",
    ]
    for name, tally in tallies.items():
        setup = "HOG alone" if name == "hog" else f"HOG, then {name} on HOG's misses"
        missed = len(tally.missed) if name == "hog" else f"{len(tally.missed)} of {tally.images}"
        cpu = statistics.fmean(tally.cpu_ms) if tally.cpu_ms else 0.0
        lines.append(f"| {setup} | {missed} | {tally.central} | {tally.others_only} | {cpu:.1f} |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--every", type=int, default=1, help="take every n-th photo")
    parser.add_argument("--crops", action="store_true", help="also centre crops of photos")
    parser.add_argument("--crop-every", type=int, default=5, help="crops of every n-th photo")
    parser.add_argument("--fallbacks", type=lambda text: text.split(","), default=list(FALLBACKS))
    parser.add_argument("--list-missed", action="store_true", help="print the missed photos")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    photos = load_photos(testdata_dir() / LFW, args.every)
    tallies = run(photos, args.fallbacks)
    print(markdown("LFW DevTrain photos", tallies))
    if args.list_missed:
        for name, tally in tallies.items():
            print(f"\n{name} missed: {' '.join(tally.missed)}")
    if args.crops:
        missed = set(tallies["hog"].missed)
        crops = [
            (name, crop_of(image))
            for number, (name, image) in enumerate(photos)
            if number % args.crop_every == 0 or name in missed
        ]
        print()
        print(markdown(f"Centre {CROP_SIDE} x {CROP_SIDE} crops", run(crops, args.fallbacks)))
    print(f"\n{machine_line()}")


if __name__ == "__main__":
    main()

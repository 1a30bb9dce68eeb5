"""What Facewatch's HOG upsampling costs and finds, per frame size (detection only).

Facewatch's HOG detector upsamples an image `hog_upsample` times; unset (auto), it upsamples
once images of at most `hog_auto_upsample_pixels` (1 Mpx) and not at all above. This script
times `HogDetector.detect` (Facewatch's own wrapper over dlib) and counts the faces found:

1. on the same photo at 240p, 480p, 720p and 1080p
   (face_recognition_examples/examples/obama-*.jpg), at upsample 0, 1 and auto;
2. on every ``--stride``-th frame of facenet_pytorch/examples/video.mp4 (1920x1080,
   pedestrians whose faces are about 74 px), at upsample 0 and 1: detections per frame, the
   smallest box and how many boxes are under 70 px. Counts are the detector's boxes, not
   checked against ground truth.

Times are CPU milliseconds of the detecting process (see ``time_detect``).

Run from the repository root:

    python benchmarks/bench_hog_upsample.py            # markdown on stdout
    python benchmarks/bench_hog_upsample.py --reps 10 --stride 5

Test data comes from FACEWATCH_TESTDATA (default ../shared/testdata).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from _shared import machine_line, testdata_dir
from facewatch.config import Settings
from facewatch.types import RGBImage
from facewatch.vision.detectors.hog import HogDetector
from facewatch.vision.image import load_image

PHOTOS = ("obama-240p.jpg", "obama-480p.jpg", "obama-720p.jpg", "obama-1080p.jpg")
PHOTO_DIR = "face_recognition_examples/examples"
VIDEO = "facenet_pytorch/examples/video.mp4"
SMALL_BOX = 70
"""Box side (px) under which, in this clip, only an upsampled detector found faces."""


def detectors(settings: Settings) -> dict[str, HogDetector]:
    """HOG detectors at upsample 0, 1 and auto, loaded."""
    auto = settings.hog_auto_upsample_pixels
    found = {
        "0": HogDetector(upsample=0, auto_upsample_pixels=auto),
        "1": HogDetector(upsample=1, auto_upsample_pixels=auto),
        "auto": HogDetector(upsample=None, auto_upsample_pixels=auto),
    }
    for detector in found.values():
        detector.load()
    return found


def time_detect(detector: HogDetector, image: RGBImage, reps: int) -> tuple[float, list[int]]:
    """Median CPU milliseconds of ``reps`` detections after one warm-up, and the box sides.

    CPU time, not wall time: dlib's HOG runs on one thread, so on an idle machine the two
    agree, and CPU time stays put when other processes load the machine.
    """
    sides = [min(f.box.width, f.box.height) for f in detector.detect(image)]
    durations = []
    for _ in range(reps):
        start = time.process_time()
        detector.detect(image)
        durations.append(time.process_time() - start)
    return float(np.median(durations) * 1000), sides


def photo_table(testdata: Path, hogs: dict[str, HogDetector], reps: int) -> list[str]:
    lines = [
        "| image | pixels | auto picks | CPU ms at 0 (faces) | CPU ms at 1 (faces) "
        "| CPU ms at auto (faces) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in PHOTOS:
        image = load_image(testdata / PHOTO_DIR / name, max_pixels=40_000_000)
        height, width = image.shape[:2]
        cells = []
        for key in ("0", "1", "auto"):
            ms, sides = time_detect(hogs[key], image, reps)
            cells.append(f"{ms:.0f} ({len(sides)})")
        picks = hogs["auto"].upsample_for(image)
        lines.append(
            f"| {name} {width}x{height} | {width * height / 1e6:.2f} Mpx | {picks} | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def video_frames(video: Path, stride: int) -> list[tuple[int, RGBImage]]:
    """Every ``stride``-th frame of the clip, as RGB."""
    capture = cv2.VideoCapture(str(video))
    frames = []
    index = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % stride == 0:
                frames.append((index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)))
            index += 1
    finally:
        capture.release()
    return frames


def video_table(testdata: Path, hogs: dict[str, HogDetector], stride: int) -> list[str]:
    frames = video_frames(testdata / VIDEO, stride)
    sides: dict[str, list[int]] = {"0": [], "1": []}
    total_ms = {"0": 0.0, "1": 0.0}
    per_frame = []
    for index, frame in frames:
        counts = []
        for key in ("0", "1"):
            ms, found = time_detect(hogs[key], frame, 1)
            sides[key] += found
            total_ms[key] += ms
            counts.append(len(found))
        per_frame.append(f"{index}: {counts[0]}/{counts[1]}")
    n = len(frames)
    rows = [
        f"| {key} | {len(sides[key])} | {min(sides[key], default=0)} "
        f"| {sum(1 for s in sides[key] if s < SMALL_BOX)} "
        f"| {len(sides[key]) / n:.2f} | {total_ms[key] / n:.0f} |"
        for key in ("0", "1")
    ]
    return [
        f"{n} frames (every {stride}th) of {VIDEO}, 1920x1080; auto picks upsample "
        f"{hogs['auto'].upsample_for(frames[0][1])}.",
        "",
        f"| upsample | detections (all frames) | smallest box side px | boxes under {SMALL_BOX} px "
        "| mean detections per frame | mean CPU ms per frame |",
        "|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Detections per frame at upsample 0/1 (not checked against ground truth): "
        + ", ".join(per_frame),
    ]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="timed detections per photo (5)")
    parser.add_argument("--stride", type=int, default=5, help="use every Nth video frame (5)")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.stride < 1:
        parser.error("--reps and --stride must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    given = sys.argv[1:] if argv is None else list(argv)
    testdata = testdata_dir()
    load_before = os.getloadavg()[0]
    hogs = detectors(Settings())
    lines = [
        *photo_table(testdata, hogs, args.reps),
        "",
        *video_table(testdata, hogs, args.stride),
        "",
        f"Command: `{' '.join(['python benchmarks/bench_hog_upsample.py', *given])}`  ",
        f"Machine: {machine_line()}; load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()

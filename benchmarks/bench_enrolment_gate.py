"""Calibrating the enrolment gate on LFW DevTrain: which blurry faces and which photos of
several faces really cost recognition.

Every photo of ../shared/testdata/lfw_devtrain goes once through the server's analyzer
(``create_analyzer``: HOG, the Ultra-Light fallback, the configured embedder, EdgeFace by
default); the faces are cached in benchmarks/out/ (``--refresh`` analyses again), so the
reports below re-run in seconds. The labelled face of a (deep-funneled) LFW photo is the one
whose box centre lies nearest the photo's centre, within 45 px.

**Sharpness.** ``facewatch.vision.quality.face_sharpness``: the variance of the Laplacian of
the aligned chip in grey, brought to 112 x 112 first, so that the figure means the same
whatever chip size the embedder takes (dlib: 150, EdgeFace: 112). Beside it, the measure
the gate used before (the same on dlib's own 150 x 150 chip).

**Accuracy against sharpness.** Each labelled face of a person with two photos or more is
taken as a one-photo enrolment template; the person's other photos are its probes; the
other people's labelled faces are its strangers. The distance threshold is the one at which
1% of all (template, stranger) pairs match (``--far``). Per band of the template's
sharpness: the share of its genuine probes matched (TAR), and the share of strangers matched.

**Blurred on purpose** (``--synthetic N``): N templates (sharpness 80 or more) blurred with
a Gaussian of sigma ``SIGMAS`` and saved as JPEG (quality 75, as a phone would), analysed
again: their sharpness, and the share of their person's other photos they still name at
the same threshold. A dense curve where the real photos hold few blurred faces.

**Several faces.** Photos with two faces or more of at least ``min_face_size`` px (which the
gate refused): the area of the largest face over the second's, and whether the largest is the
labelled person; per band of that ratio.

**Refused before, accepted now.** The photos the former gate refused (several faces at
least 60 px, or sharpness under 15 on dlib's chip) and what the gate of
``facewatch.vision.quality`` says now; ``--list`` lists those it now accepts.

    python benchmarks/bench_enrolment_gate.py            # analyse (once), then report
    python benchmarks/bench_enrolment_gate.py --list 20  # also 20 photos refused before

Test data comes from FACEWATCH_TESTDATA (default ../shared/testdata).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from _shared import machine_line, testdata_dir
from facewatch.config import Settings
from facewatch.types import Box, Face, RGBImage
from facewatch.vision.align import align_face
from facewatch.vision.image import decode_image, load_image
from facewatch.vision.pipeline import FaceAnalyzer, create_analyzer
from facewatch.vision.quality import (
    DOMINANT_AREA_RATIO,
    MIN_ENROLMENT_SHARPNESS,
    WARN_ENROLMENT_SHARPNESS,
    enrolment_face,
    face_sharpness,
    laplacian_variance,
)

LFW = Path("lfw_devtrain/lfw")
OUT = Path(__file__).resolve().parent / "out"
CENTRE_TOLERANCE = 45
MIN_FACE_SIZE = 60
"""The server's default ``min_face_size``."""
MAX_YAW = 40.0
"""The server's default ``max_yaw``."""
FORMER_MIN_SHARPNESS = 15.0
"""The former gate: Laplacian variance of dlib's 150 x 150 chip."""
SHARPNESS_BANDS = (0, 10, 15, 20, 25, 30, 40, 60, 80, 120, 200, 10_000)
RATIO_BANDS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 1_000.0)
SIGMAS = (1.0, 2.0, 3.0, 4.0, 5.0)


@dataclass(frozen=True, slots=True)
class Photo:
    """What the analyzer found in one photo (faces largest first)."""

    name: str
    person: str
    boxes: list[list[int]]
    """[left, top, right, bottom] of each face, largest first."""
    labelled: int
    """Index of the labelled (centred) face; -1: none found."""
    sharpness: float
    """``face_sharpness`` of the labelled face (nan: none)."""
    former_sharpness: float
    """The former measure on the labelled face (dlib's 150 chip)."""
    yaw: float

    @property
    def areas(self) -> list[int]:
        return [Box(*box).area for box in self.boxes]

    @property
    def sizes(self) -> list[int]:
        return [min(Box(*box).width, Box(*box).height) for box in self.boxes]


def labelled_index(faces: Sequence[Face], image: RGBImage) -> int:
    height, width = image.shape[:2]
    best, index = float("inf"), -1
    for number, face in enumerate(faces):
        dx = abs((face.box.left + face.box.right) / 2 - width / 2)
        dy = abs((face.box.top + face.box.bottom) / 2 - height / 2)
        if dx <= CENTRE_TOLERANCE and dy <= CENTRE_TOLERANCE and dx + dy < best:
            best, index = dx + dy, number
    return index


def analyse(
    analyzer: FaceAnalyzer, path: Path, root: Path
) -> tuple[Photo, npt.NDArray[np.float32]]:
    image = load_image(path, max_pixels=1_000_000)
    faces = sorted(analyzer.analyze(image), key=lambda face: -face.box.area)
    index = labelled_index(faces, image)
    dim = analyzer.embedding_dim
    vector = np.full(dim, np.nan, dtype=np.float32)
    sharpness = former = yaw = float("nan")
    if index >= 0:
        face = faces[index]
        assert face.embedding is not None
        vector = np.asarray(face.embedding, dtype=np.float32)
        sharpness = face_sharpness(face.chip)
        former = laplacian_variance(align_face(image, face.box, face.landmarks))
        yaw = face.quality.yaw
    relative = path.relative_to(root)
    photo = Photo(
        str(relative),
        relative.parent.name,
        [face.box.as_list() for face in faces],
        index,
        sharpness,
        former,
        yaw,
    )
    return photo, vector


def load_or_analyse(
    refresh: bool, people_every: int
) -> tuple[list[Photo], npt.NDArray[np.float32], str]:
    root = testdata_dir() / LFW
    with tempfile.TemporaryDirectory() as tmp:
        analyzer = create_analyzer(Settings(data_dir=Path(tmp)))
    cache = OUT / f"enrolment_gate_{analyzer.model_id}_every{people_every}.npz"
    if cache.exists() and not refresh:
        data = np.load(cache, allow_pickle=True)
        photos = [Photo(**row) for row in data["photos"]]
        return photos, data["vectors"], analyzer.model_id
    folders = sorted(folder for folder in root.iterdir() if folder.is_dir())[::people_every]
    paths = [path for folder in folders for path in sorted(folder.glob("*.jpg"))]
    photos, vectors = [], []
    for number, path in enumerate(paths, 1):
        photo, vector = analyse(analyzer, path, root)
        photos.append(photo)
        vectors.append(vector)
        if number % 500 == 0:
            print(f"analysed {number}/{len(paths)}", file=sys.stderr)
    matrix = np.stack(vectors)
    OUT.mkdir(exist_ok=True)
    rows = np.array([photo_dict(p) for p in photos], dtype=object)
    np.savez(cache, photos=rows, vectors=matrix)
    return photos, matrix, analyzer.model_id


def photo_dict(photo: Photo) -> dict[str, object]:
    return {name: getattr(photo, name) for name in Photo.__dataclass_fields__}


def distances(
    vectors: npt.NDArray[np.float32], rows: Sequence[int], cols: Sequence[int]
) -> npt.NDArray[np.float64]:
    """Cosine distances (1 - cosine) between the L2-normalised rows and columns."""
    a = vectors[list(rows)]
    b = vectors[list(cols)]
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return 1.0 - a @ b.T


def accuracy_by_sharpness(
    photos: Sequence[Photo], vectors: npt.NDArray[np.float32], far: float, measure: str
) -> str:
    usable = [i for i, p in enumerate(photos) if p.labelled >= 0]
    by_person: dict[str, list[int]] = {}
    for i in usable:
        by_person.setdefault(photos[i].person, []).append(i)
    templates = [i for members in by_person.values() if len(members) > 1 for i in members]
    rng = np.random.default_rng(0)
    strangers = rng.choice(usable, size=min(2000, len(usable)), replace=False)
    impostor = distances(vectors, templates, strangers)
    same = np.array([[photos[t].person == photos[s].person for s in strangers] for t in templates])
    threshold = float(np.quantile(impostor[~same], far))
    genuine: dict[int, list[float]] = {}
    for t in templates:
        others = [j for j in by_person[photos[t].person] if j != t]
        genuine[t] = list(distances(vectors, [t], others)[0])
    lines = [
        f"Templates: {len(templates)} labelled faces of people with 2+ photos; threshold "
        f"{threshold:.3f} (cosine distance) names {far:.0%} of (template, stranger) pairs.",
        "",
        f"| template sharpness ({measure}) | templates | genuine probes | TAR | strangers named |",
        "|---|---|---|---|---|",
    ]
    value = {"new": lambda p: p.sharpness, "former": lambda p: p.former_sharpness}[measure]
    for low, high in itertools.pairwise(SHARPNESS_BANDS):
        band = [n for n, t in enumerate(templates) if low <= value(photos[t]) < high]
        if not band:
            continue
        scores = [d for n in band for d in genuine[templates[n]]]
        tar = float(np.mean(np.asarray(scores) <= threshold))
        named = float(np.mean(impostor[band][~same[band]] <= threshold))
        lines.append(f"| {low}-{high} | {len(band)} | {len(scores)} | {tar:.3f} | {named:.4f} |")
    scores = [d for t in templates for d in genuine[t]]
    lines.append(
        f"| all | {len(templates)} | {len(scores)} | "
        f"{float(np.mean(np.asarray(scores) <= threshold)):.3f} | {far:.4f} |"
    )
    return "\n".join(lines)


def threshold_and_genuine(
    photos: Sequence[Photo], vectors: npt.NDArray[np.float32], far: float
) -> tuple[float, dict[str, list[int]]]:
    """The distance naming ``far`` of stranger pairs, and each person's labelled photos."""
    usable = [i for i, p in enumerate(photos) if p.labelled >= 0]
    by_person: dict[str, list[int]] = {}
    for i in usable:
        by_person.setdefault(photos[i].person, []).append(i)
    rng = np.random.default_rng(0)
    sample = rng.choice(usable, size=min(2000, len(usable)), replace=False)
    pairs = distances(vectors, sample, sample)
    same = np.array([[photos[a].person == photos[b].person for b in sample] for a in sample])
    return float(np.quantile(pairs[~same], far)), by_person


def blurred_on_purpose(
    photos: Sequence[Photo], vectors: npt.NDArray[np.float32], far: float, count: int
) -> str:
    threshold, by_person = threshold_and_genuine(photos, vectors, far)
    rng = np.random.default_rng(1)
    candidates = [
        i
        for members in by_person.values()
        if len(members) > 1
        for i in members
        if photos[i].sharpness >= 80
    ]
    chosen = rng.choice(candidates, size=min(count, len(candidates)), replace=False)
    root = testdata_dir() / LFW
    with tempfile.TemporaryDirectory() as tmp:
        analyzer = create_analyzer(Settings(data_dir=Path(tmp)))
    rows: list[tuple[float, float]] = []  # (sharpness, share of probes named)
    for index in chosen:
        photo = photos[index]
        image = load_image(root / photo.name, max_pixels=1_000_000)
        others = [j for j in by_person[photo.person] if j != index]
        for sigma in SIGMAS:
            blurred = cv2.GaussianBlur(image, (0, 0), sigma)
            ok, encoded = cv2.imencode(".jpg", blurred[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 75])
            assert ok
            faces = analyzer.analyze(decode_image(encoded.tobytes(), max_pixels=1_000_000))
            centre = labelled_index(faces, image)
            if centre < 0:
                rows.append((0.0, 0.0))
                continue
            face = faces[centre]
            probe = np.asarray(face.embedding, dtype=np.float32)[np.newaxis]
            stacked = np.concatenate([probe, vectors[others]])
            named = distances(stacked, [0], list(range(1, len(stacked))))[0] <= threshold
            rows.append((face.quality.sharpness, float(np.mean(named))))
    lines = [
        f"{len(chosen)} templates x sigma {', '.join(str(s) for s in SIGMAS)}; threshold "
        f"{threshold:.3f}; a blurred face no longer found counts as sharpness 0, nothing named.",
        "",
        "| sharpness of the blurred template | templates | their probes named (mean) |",
        "|---|---|---|",
    ]
    values = np.array(rows)
    for low, high in itertools.pairwise(SHARPNESS_BANDS):
        band = values[(values[:, 0] >= low) & (values[:, 0] < high)]
        if len(band):
            lines.append(f"| {low}-{high} | {len(band)} | {band[:, 1].mean():.3f} |")
    return "\n".join(lines)


def several_faces(photos: Sequence[Photo]) -> str:
    crowded = [p for p in photos if sum(size >= MIN_FACE_SIZE for size in p.sizes) > 1]
    lines = [
        f"Photos with 2+ faces of at least {MIN_FACE_SIZE} px: {len(crowded)} of {len(photos)}.",
        "",
        "| largest / second face area | photos | largest is the labelled person | second "
        "face side (px): max |",
        "|---|---|---|---|",
    ]
    for low, high in itertools.pairwise(RATIO_BANDS):
        band = [p for p in crowded if low <= p.areas[0] / max(p.areas[1], 1) < high]
        if not band:
            continue
        right = sum(p.labelled == 0 for p in band)
        lines.append(f"| {low}-{high} | {len(band)} | {right} | {max(p.sizes[1] for p in band)} |")
    return "\n".join(lines)


def now_accepted(photos: Sequence[Photo], listed: int) -> str:
    """Photos the former gate refused, with the new gate's answer."""
    lines = [
        "| photo | former refusal | faces (sides, px) | sharpness: new, former | now |",
        "|---|---|---|---|---|",
    ]
    counts: dict[tuple[str, str], int] = {}
    for photo in photos:
        if photo.labelled < 0:
            continue
        if sum(size >= MIN_FACE_SIZE for size in photo.sizes) > 1:
            former = "several_faces"
        elif photo.former_sharpness < FORMER_MIN_SHARPNESS:
            former = "too_blurry"
        else:
            continue
        choice = enrolment_face([Box(*b) for b in photo.boxes], min_size=MIN_FACE_SIZE)
        if choice is None or choice != photo.labelled:
            now = "several_faces" if choice is None else "other face"
        elif abs(photo.yaw) > MAX_YAW:
            now = "not_frontal"
        elif photo.sharpness < MIN_ENROLMENT_SHARPNESS:
            now = "too_blurry"
        elif photo.sharpness < WARN_ENROLMENT_SHARPNESS or len(photo.sizes) > 1:
            now = "accepted, warned"
        else:
            now = "accepted"
        counts[former, now] = counts.get((former, now), 0) + 1
        if listed > 0 and now.startswith("accepted"):
            listed -= 1
            sides = ",".join(str(s) for s in photo.sizes)
            lines.append(
                f"| {photo.name} | {former} | {sides} | {photo.sharpness:.1f}, "
                f"{photo.former_sharpness:.1f} | {now} |"
            )
    summary = ["| former refusal | now | photos |", "|---|---|---|"] + [
        f"| {former} | {now} | {n} |" for (former, now), n in sorted(counts.items())
    ]
    return "\n".join(summary + (["", *lines] if len(lines) > 2 else []))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--refresh", action="store_true", help="analyse the photos again")
    parser.add_argument(
        "--synthetic", type=int, default=0, help="templates blurred on purpose (0: none)"
    )
    parser.add_argument("--far", type=float, default=0.01, help="strangers named (threshold)")
    parser.add_argument("--list", type=int, default=0, help="photos refused before to list")
    parser.add_argument(
        "--people-every", type=int, default=1, help="take every n-th person (all their photos)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    photos, vectors, model = load_or_analyse(args.refresh, args.people_every)
    missed = sum(p.labelled < 0 for p in photos)
    print(f"model {model}; {len(photos)} photos, {missed} without a labelled face found\n")
    print(accuracy_by_sharpness(photos, vectors, args.far, "new"))
    print()
    print(accuracy_by_sharpness(photos, vectors, args.far, "former"))
    print()
    if args.synthetic:
        print(blurred_on_purpose(photos, vectors, args.far, args.synthetic))
        print()
    print(several_faces(photos))
    print(
        f"\nGate now: refuse under {MIN_ENROLMENT_SHARPNESS}, warn under "
        f"{WARN_ENROLMENT_SHARPNESS}; the largest face enrolled when it is "
        f"{DOMINANT_AREA_RATIO}x the area of every other face\n"
    )
    print(now_accepted(photos, args.list))
    print(f"\n{machine_line()}")


if __name__ == "__main__":
    main()

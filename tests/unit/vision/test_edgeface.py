"""EdgeFace-XS: the packaged model, its ArcFace-style chip, and what its vectors promise."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from facewatch.edge.bestshot import ShotMaker
from facewatch.edge.types import Frame, TrackedFace
from facewatch.errors import InvalidImage, ModelUnavailable
from facewatch.types import Box, Landmarks, RGBImage
from facewatch.vision.align import ARCFACE_112, similarity_transform
from facewatch.vision.augment import IDENTITY, Jitter, enrolment_template, template_jittered_chips
from facewatch.vision.detectors import HogDetector
from facewatch.vision.embedders import EdgeFaceEmbedder
from facewatch.vision.embedders.edgeface import EDGEFACE_XS_INT8_SHA256, packaged_weights
from facewatch.vision.embedders.specs import EDGEFACE_XS_INT8
from facewatch.vision.landmarks import Landmarker
from facewatch.vision.pipeline import FaceAnalyzer
from facewatch.vision.quality import estimate_roll

from .conftest import EXAMPLES, ImageLoader

PHOTOS = ("obama.jpg", "obama2.jpg", "obama-480p.jpg", "biden.jpg")
OBAMAS = ("obama.jpg", "obama2.jpg", "obama-480p.jpg")
DEFAULTS = EDGEFACE_XS_INT8.defaults
EYE_TOLERANCE_PX = 4.0


@pytest.fixture(scope="module")
def edgeface() -> EdgeFaceEmbedder:
    return EdgeFaceEmbedder(threads=1)


@pytest.fixture(scope="module")
def faces(
    hog: HogDetector, landmarker: Landmarker, load: ImageLoader
) -> dict[str, tuple[RGBImage, Box, Landmarks]]:
    """Photo, face box and landmarks of the one face of each photo, by photo name."""
    found = {}
    for name in PHOTOS:
        image = load(f"{EXAMPLES}/{name}")
        box = hog.detect(image)[0].box
        found[name] = (image, box, landmarker.locate(image, box))
    return found


@pytest.fixture(scope="module")
def chips(
    edgeface: EdgeFaceEmbedder, faces: dict[str, tuple[RGBImage, Box, Landmarks]]
) -> dict[str, RGBImage]:
    return {name: edgeface.align(*face) for name, face in faces.items()}


@pytest.fixture(scope="module")
def vectors(edgeface: EdgeFaceEmbedder, chips: dict[str, RGBImage]) -> dict[str, np.ndarray]:
    return dict(zip(chips, edgeface.embed(list(chips.values())), strict=True))


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def eye_centres(points: np.ndarray) -> np.ndarray:
    return np.array([points[0:2].mean(axis=0), points[2:4].mean(axis=0)])


# --- the chip -----------------------------------------------------------------------------


def test_the_chip_is_a_112_pixel_square_rgb_image(chips: dict[str, RGBImage]) -> None:
    for chip in chips.values():
        assert chip.shape == (112, 112, 3)
        assert chip.dtype == np.uint8


@pytest.mark.parametrize("name", PHOTOS)
def test_the_eyes_land_on_the_template_in_the_chip(
    hog: HogDetector, landmarker: Landmarker, chips: dict[str, RGBImage], name: str
) -> None:
    chip = chips[name]
    [found] = hog.detect(chip)

    in_chip = np.array(landmarker.locate(chip, found.box).points)

    offsets = eye_centres(in_chip) - eye_centres(np.array(ARCFACE_112.points))
    assert np.linalg.norm(offsets, axis=1).max() < EYE_TOLERANCE_PX


def test_a_tilted_face_comes_out_upright(
    hog: HogDetector, landmarker: Landmarker, edgeface: EdgeFaceEmbedder, load: ImageLoader
) -> None:
    image = load(f"{EXAMPLES}/obama-480p.jpg")
    height, width = image.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), 20, 1.0)
    tilted: RGBImage = np.ascontiguousarray(cv2.warpAffine(image, turn, (width, height)))
    box = hog.detect(tilted)[0].box
    landmarks = landmarker.locate(tilted, box)

    chip = edgeface.align(tilted, box, landmarks)
    upright = landmarker.locate(chip, hog.detect(chip)[0].box)

    assert abs(estimate_roll(landmarks)) > 15
    assert abs(estimate_roll(upright)) < 3


def test_the_similarity_fit_recovers_a_known_transform() -> None:
    template = np.array(ARCFACE_112.points)
    angle, scale, shift = np.radians(25), 2.5, np.array([40.0, -7.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    photo_points = template @ rotation.T + shift

    matrix = similarity_transform(photo_points, template)

    np.testing.assert_allclose(photo_points @ matrix[:, :2].T + matrix[:, 2], template, atol=1e-9)


# --- the vectors --------------------------------------------------------------------------


@pytest.mark.parametrize("other", ["obama2.jpg", "obama-480p.jpg"])
def test_two_photos_of_obama_are_named_the_same_by_the_defaults(
    vectors: dict[str, np.ndarray], other: str
) -> None:
    assert distance(vectors["obama.jpg"], vectors[other]) <= DEFAULTS.match_threshold


@pytest.mark.parametrize("obama", OBAMAS)
def test_obama_and_biden_are_strangers_to_each_other(
    vectors: dict[str, np.ndarray], obama: str
) -> None:
    assert distance(vectors[obama], vectors["biden.jpg"]) >= DEFAULTS.unknown_threshold


@pytest.mark.parametrize("obama", OBAMAS)
def test_every_obama_is_nearer_obama_than_biden(vectors: dict[str, np.ndarray], obama: str) -> None:
    others = [vectors[name] for name in OBAMAS if name != obama]
    nearest_obama = min(distance(vectors[obama], other) for other in others)

    assert nearest_obama < distance(vectors[obama], vectors["biden.jpg"]) - 0.4


def test_vectors_are_512_float32_of_unit_length(
    edgeface: EdgeFaceEmbedder, chips: dict[str, RGBImage]
) -> None:
    batch = edgeface.embed(list(chips.values()))

    assert batch.shape == (len(chips), 512)
    assert batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


def test_a_batch_gives_each_chip_its_own_vector_alone(
    edgeface: EdgeFaceEmbedder, chips: dict[str, RGBImage]
) -> None:
    batch = edgeface.embed(list(chips.values()))
    one_by_one = np.vstack([edgeface.embed([chip]) for chip in chips.values()])
    reversed_rows = edgeface.embed(list(chips.values())[::-1])[::-1]

    np.testing.assert_array_equal(batch, one_by_one)
    np.testing.assert_array_equal(batch, reversed_rows)


def test_whole_batches_in_one_call_stay_close_to_the_exact_vectors(
    edgeface: EdgeFaceEmbedder, chips: dict[str, RGBImage]
) -> None:
    bulk = EdgeFaceEmbedder(threads=1, batch_size=4, exact_batches=False)
    exact = edgeface.embed(list(chips.values()))

    fast = bulk.embed(list(chips.values()))

    assert bulk.run_size == 4
    assert edgeface.run_size == 1
    assert np.linalg.norm(fast - exact, axis=1).max() < 0.25


def test_no_chips_give_an_empty_matrix_without_loading_the_model(tmp_path: Path) -> None:
    unread = EdgeFaceEmbedder(tmp_path / "missing.onnx")

    assert unread.embed([]).shape == (0, 512)


def test_a_chip_of_dlibs_size_is_refused(edgeface: EdgeFaceEmbedder) -> None:
    with pytest.raises(InvalidImage, match="112x112"):
        edgeface.embed([np.zeros((150, 150, 3), dtype=np.uint8)])


# --- the packaged file --------------------------------------------------------------------


def test_the_packaged_file_is_the_one_the_model_id_names() -> None:
    path = packaged_weights("edgeface_xs_int8.onnx")

    assert hashlib.sha256(path.read_bytes()).hexdigest() == EDGEFACE_XS_INT8_SHA256
    assert (path.parent / "EDGEFACE_LICENSE").read_text().startswith("BSD 3-Clause License")
    assert "WebFace12M" in (path.parent / "EDGEFACE_NOTICE").read_text()


@pytest.mark.parametrize(
    "damage", [lambda data: data[:-1], lambda data: data[:100] + b"x" + data[101:]]
)
def test_a_file_whose_sha256_differs_is_refused(
    tmp_path: Path, damage: object, chips: dict[str, RGBImage]
) -> None:
    good = packaged_weights("edgeface_xs_int8.onnx").read_bytes()
    damaged = tmp_path / "edgeface_xs_int8.onnx"
    damaged.write_bytes(damage(good))  # type: ignore[operator]

    with pytest.raises(ModelUnavailable, match="sha256"):
        EdgeFaceEmbedder(damaged).embed([chips["obama.jpg"]])


def test_a_missing_file_is_refused_clearly(tmp_path: Path, chips: dict[str, RGBImage]) -> None:
    with pytest.raises(ModelUnavailable, match="cannot read"):
        EdgeFaceEmbedder(tmp_path / "missing.onnx").embed([chips["obama.jpg"]])


# --- the chip everywhere it is cut --------------------------------------------------------


def test_the_analyzer_describes_faces_with_edgefaces_chip_and_vector(
    hog: HogDetector, landmarker: Landmarker, edgeface: EdgeFaceEmbedder, load: ImageLoader
) -> None:
    analyzer = FaceAnalyzer(hog, landmarker, edgeface)

    [face] = analyzer.analyze(load(f"{EXAMPLES}/obama.jpg"))

    assert face.chip.shape == (112, 112, 3)
    assert face.embedding is not None
    assert face.embedding.shape == (512,)
    assert analyzer.model_id == "edgeface_xs_int8"


def test_an_edge_shot_carries_the_embedders_chip(
    landmarker: Landmarker,
    edgeface: EdgeFaceEmbedder,
    faces: dict[str, tuple[RGBImage, Box, Landmarks]],
) -> None:
    image, box, landmarks = faces["obama.jpg"]
    frame = Frame(
        camera_id="cam", index=0, position=0.0, captured_at=datetime.now(UTC), image=image
    )
    maker = ShotMaker(landmarker, margin=0.4, min_size=20, align=edgeface.align)

    [shot] = maker.shots(frame, [TrackedFace(track_id=1, box=box, score=1.0)])

    np.testing.assert_array_equal(shot.chip, edgeface.align(image, box, landmarks))


def test_the_unmoved_jitter_copy_is_the_aligned_chip(
    edgeface: EdgeFaceEmbedder, faces: dict[str, tuple[RGBImage, Box, Landmarks]]
) -> None:
    image, box, landmarks = faces["obama.jpg"]

    plain, mirrored = template_jittered_chips(
        image, landmarks, ARCFACE_112, [IDENTITY, Jitter(flip=True)]
    )

    np.testing.assert_array_equal(plain, edgeface.align(image, box, landmarks))
    np.testing.assert_array_equal(mirrored, plain[:, ::-1])


def test_a_shifted_jitter_copy_moves_by_the_same_fraction_of_the_chip(
    faces: dict[str, tuple[RGBImage, Box, Landmarks]],
) -> None:
    image, _, landmarks = faces["obama.jpg"]
    step = 4  # pixels of the 112-px chip: 4 * 150 / 112 of dlib's 150-px chip

    plain, moved = template_jittered_chips(
        image, landmarks, ARCFACE_112, [IDENTITY, Jitter(dx=step * 150 / 112)]
    )

    difference = np.abs(moved[10:100, 10 + step : 100 + step].astype(int) - plain[10:100, 10:100])
    assert difference.mean() < 2.0


def test_an_enrolment_template_of_jittered_copies_stays_near_the_face(
    edgeface: EdgeFaceEmbedder,
    hog: HogDetector,
    landmarker: Landmarker,
    vectors: dict[str, np.ndarray],
    load: ImageLoader,
) -> None:
    image = load(f"{EXAMPLES}/obama.jpg")
    [face] = FaceAnalyzer(hog, landmarker, edgeface).analyze(image)

    template = enrolment_template(edgeface, image, face)

    assert template.shape == (512,)
    assert distance(template, vectors["obama.jpg"]) < 0.5
    assert distance(template, vectors["obama2.jpg"]) <= DEFAULTS.match_threshold

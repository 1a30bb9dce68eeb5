"""FaceAnalyzer: every face of a photo, described and embedded, in reading order."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from facewatch.config import Settings
from facewatch.types import Box, DetectedFace, Face, RGBImage
from facewatch.vision.detectors import HaarDetector, HogDetector, UltraLightOnnxDetector
from facewatch.vision.embedders import DlibResNetEmbedder
from facewatch.vision.image import crop_face
from facewatch.vision.landmarks import Landmarker
from facewatch.vision.pipeline import HINT_MARGIN, HINT_SIDE, FaceAnalyzer, create_analyzer

from .conftest import EXAMPLES, JOHNS, ImageLoader

MULTIFACE = "facenet_pytorch/data/multiface.jpg"  # six people


@pytest.fixture(scope="module")
def multiface_faces(analyzer: FaceAnalyzer, load: ImageLoader) -> list[Face]:
    return analyzer.analyze(load(MULTIFACE))


def test_a_six_person_photo_gives_at_least_five_faces(multiface_faces: list[Face]) -> None:
    assert len(multiface_faces) >= 5


def test_faces_come_left_to_right(multiface_faces: list[Face]) -> None:
    lefts = [face.box.left for face in multiface_faces]

    assert lefts == sorted(lefts)


def test_every_face_has_landmarks_a_chip_a_quality_and_an_embedding(
    multiface_faces: list[Face],
) -> None:
    for face in multiface_faces:
        assert len(face.landmarks.points) == 5
        assert face.chip.shape == (150, 150, 3)
        assert 0.0 <= face.quality.score <= 1.0
        assert face.embedding is not None
        assert face.embedding.shape == (128,)


def test_the_six_people_are_six_different_identities(multiface_faces: list[Face]) -> None:
    vectors = np.stack([face.embedding for face in multiface_faces if face.embedding is not None])
    distances = np.linalg.norm(vectors[:, None] - vectors[None], axis=-1)

    assert distances[~np.eye(len(vectors), dtype=bool)].min() > 0.6


def test_analyze_without_embedding_leaves_embeddings_empty(
    analyzer: FaceAnalyzer, load: ImageLoader
) -> None:
    faces = analyzer.analyze(load(f"{EXAMPLES}/obama-480p.jpg"), embed=False)

    assert len(faces) == 1
    assert faces[0].embedding is None


def test_an_image_without_faces_gives_no_faces(analyzer: FaceAnalyzer) -> None:
    assert analyzer.analyze(np.full((200, 200, 3), 90, dtype=np.uint8)) == []


@pytest.mark.parametrize(
    "chip",
    [
        "John_Salley/000189_02159361.jpg",
        "John_Salley/000186_02159346.jpg",
        "John_Savage/000264_01099001.jpg",
    ],
)
def test_a_tight_aligned_chip_the_haar_detector_misses_is_found_on_retry(
    haar: HaarDetector,
    landmarker: Landmarker,
    embedder: DlibResNetEmbedder,
    load: ImageLoader,
    chip: str,
) -> None:
    image = load(f"{JOHNS}/{chip}")
    analyzer = FaceAnalyzer(haar, landmarker, embedder)

    faces = analyzer.analyze(image, embed=False)

    assert haar.detect(image) == []
    assert len(faces) == 1
    assert faces[0].box == faces[0].box.clip(150, 150)


def test_every_aligned_johns_chip_gives_one_face_with_hog(
    analyzer: FaceAnalyzer, load: ImageLoader, testdata: Path
) -> None:
    chips = sorted((testdata / JOHNS).glob("*/*.jpg"))

    counts = [len(analyzer.detect(load(str(chip.relative_to(testdata))))) for chip in chips]

    assert len(chips) == 55
    assert counts == [1] * len(chips)


@pytest.mark.parametrize("face_side", [35, 60, 100])
def test_an_edge_crop_with_forty_percent_margin_gives_one_face(
    analyzer: FaceAnalyzer, load: ImageLoader, face_side: int
) -> None:
    image = load(f"{EXAMPLES}/obama-480p.jpg")
    face = analyzer.detect(image)[0]
    crop = crop_face(image, face.box, margin=0.4)
    scale = face_side / face.box.width
    small = np.ascontiguousarray(cv2.resize(crop, None, fx=scale, fy=scale), dtype=np.uint8)

    assert len(analyzer.analyze(small, embed=False)) == 1


@pytest.mark.parametrize("face_side", [50, 80, 140])
def test_a_crop_cut_to_the_face_box_gives_that_face(
    analyzer: FaceAnalyzer, load: ImageLoader, face_side: int
) -> None:
    # The older system's crops: the detector's box, no margin above or below.
    image = load(f"{EXAMPLES}/obama-480p.jpg")
    face = analyzer.detect(image)[0]
    crop = crop_face(image, face.box, margin=0.0)
    scale = face_side / face.box.width
    small = np.ascontiguousarray(cv2.resize(crop, None, fx=scale, fy=scale), dtype=np.uint8)

    (found,) = analyzer.analyze(small)

    assert found.box.clip(small.shape[1], small.shape[0]) == found.box
    assert found.box.area > 0.5 * small.shape[0] * small.shape[1]
    reference = analyzer.analyze(image)[0].embedding
    assert found.embedding is not None
    assert reference is not None
    assert np.linalg.norm(found.embedding - reference) < 0.35


def test_the_onnx_pipeline_recognises_the_same_face_as_the_hog_one(
    onnx_detector: UltraLightOnnxDetector,
    analyzer: FaceAnalyzer,
    landmarker: Landmarker,
    embedder: DlibResNetEmbedder,
    load: ImageLoader,
) -> None:
    image = load(f"{EXAMPLES}/obama-480p.jpg")
    with_onnx = FaceAnalyzer(onnx_detector, landmarker, embedder)

    (hog_face,), (onnx_face,) = analyzer.analyze(image), with_onnx.analyze(image)

    assert hog_face.embedding is not None
    assert onnx_face.embedding is not None
    assert np.linalg.norm(hog_face.embedding - onnx_face.embedding) < 0.15


def test_threads_sharing_one_analyzer_get_the_same_answers(
    analyzer: FaceAnalyzer, load: ImageLoader
) -> None:
    images = [load(f"{EXAMPLES}/obama-480p.jpg"), load(f"{EXAMPLES}/obama_small.jpg")] * 3
    expected = [analyzer.analyze(image) for image in images[:2]] * 3

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(analyzer.analyze, images))

    for got, want in zip(results, expected, strict=True):
        assert [face.box for face in got] == [face.box for face in want]
        for mine, theirs in zip(got, want, strict=True):
            assert mine.embedding is not None
            assert theirs.embedding is not None
            np.testing.assert_allclose(mine.embedding, theirs.embedding, atol=1e-5)


def test_create_analyzer_wires_the_configured_detector_and_embedder() -> None:
    analyzer = create_analyzer(Settings(detector="haar"))

    assert analyzer.detector.name == "haar"
    assert (analyzer.model_id, analyzer.embedding_dim) == ("edgeface_xs_int8", 512)


# --- a face box given by the client (an edge agent knows where the face lies in its crop) ---


class _SpyDetector(HogDetector):
    """HOG that remembers the size of every image it is asked to search."""

    def __init__(self) -> None:
        super().__init__()
        self.searched: list[tuple[int, int]] = []

    def detect(self, image: RGBImage, *, native_scale: bool = False) -> list[DetectedFace]:
        self.searched.append((image.shape[1], image.shape[0]))
        return super().detect(image, native_scale=native_scale)


@pytest.fixture
def spy(landmarker: Landmarker, embedder: DlibResNetEmbedder) -> tuple[FaceAnalyzer, _SpyDetector]:
    detector = _SpyDetector()
    return FaceAnalyzer(detector, landmarker, embedder), detector


def _edge_crop(analyzer: FaceAnalyzer, image: RGBImage, face_side: int) -> tuple[RGBImage, Box]:
    """The crop an edge agent cuts (40% margin, scaled) and the face box within it."""
    box = analyzer.detect(image)[0].box
    crop = crop_face(image, box, margin=0.4)
    height, width = image.shape[:2]
    dx, dy = round(box.width * 0.4), round(box.height * 0.4)
    origin = Box(box.left - dx, box.top - dy, box.right + dx, box.bottom + dy).clip(width, height)
    scale = face_side / box.width
    small = np.ascontiguousarray(cv2.resize(crop, None, fx=scale, fy=scale), dtype=np.uint8)
    inner = Box(
        round((box.left - origin.left) * scale),
        round((box.top - origin.top) * scale),
        round((box.right - origin.left) * scale),
        round((box.bottom - origin.top) * scale),
    )
    return small, inner


@pytest.mark.parametrize("face_side", [45, 70, 110])
def test_a_given_face_box_is_confirmed_on_a_small_region_with_the_same_face(
    spy: tuple[FaceAnalyzer, _SpyDetector],
    analyzer: FaceAnalyzer,
    load: ImageLoader,
    face_side: int,
) -> None:
    hinted, detector = spy
    crop, box = _edge_crop(analyzer, load(f"{EXAMPLES}/obama-480p.jpg"), face_side)
    searched_alone = analyzer.analyze(crop)

    (face,) = hinted.analyze(crop, face_box=box)

    # One search, of the box's region scaled to the detector's size: not a whole crop pass.
    (searched,) = detector.searched
    side = HINT_SIDE * (1 + 2 * HINT_MARGIN)
    assert max(searched) <= side + 2
    assert face.box.iou(box) >= 0.5
    (alone,) = searched_alone
    assert face.embedding is not None
    assert alone.embedding is not None
    assert np.linalg.norm(face.embedding - alone.embedding) < 0.1


def test_a_face_box_where_no_face_is_falls_back_to_searching_the_image(
    spy: tuple[FaceAnalyzer, _SpyDetector], analyzer: FaceAnalyzer, load: ImageLoader
) -> None:
    hinted, detector = spy
    crop, box = _edge_crop(analyzer, load(f"{EXAMPLES}/obama-480p.jpg"), 70)
    corner = Box(0, 0, box.width // 2, box.height // 2)

    faces = hinted.analyze(crop, face_box=corner, embed=False)

    assert [f.box for f in faces] == [f.box for f in analyzer.analyze(crop, embed=False)]
    assert len(detector.searched) >= 2  # the region, then the crop passes


def test_a_face_box_on_an_image_without_a_face_finds_nothing(
    spy: tuple[FaceAnalyzer, _SpyDetector],
) -> None:
    hinted, _ = spy
    blank = np.full((120, 100, 3), 90, dtype=np.uint8)

    assert hinted.analyze(blank, face_box=Box(20, 20, 80, 80)) == []


@pytest.mark.parametrize(
    "outside", [Box(500, 500, 600, 600), Box(-300, -300, 40, 40), Box(-10, -10, 400, 400)]
)
def test_a_face_box_mostly_outside_the_image_is_ignored(
    spy: tuple[FaceAnalyzer, _SpyDetector], analyzer: FaceAnalyzer, load: ImageLoader, outside: Box
) -> None:
    hinted, detector = spy
    crop, _ = _edge_crop(analyzer, load(f"{EXAMPLES}/obama-480p.jpg"), 70)

    faces = hinted.analyze(crop, face_box=outside, embed=False)

    assert [f.box for f in faces] == [f.box for f in analyzer.analyze(crop, embed=False)]
    assert max(detector.searched[0]) > HINT_SIDE * (1 + 2 * HINT_MARGIN) + 2  # a crop pass


def test_a_face_box_in_a_group_photo_gives_that_face_only(
    analyzer: FaceAnalyzer, multiface_faces: list[Face], load: ImageLoader
) -> None:
    image = load(MULTIFACE)
    target = multiface_faces[2]

    (face,) = analyzer.analyze(image, face_box=target.box)

    assert face.box.iou(target.box) >= 0.5
    assert face.embedding is not None
    assert target.embedding is not None
    assert np.linalg.norm(face.embedding - target.embedding) < 0.2

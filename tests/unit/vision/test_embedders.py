"""Embedders: dlib's ResNet (same person close, shapes as promised), specs and the factory."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from facewatch.config import EmbedderName, Settings
from facewatch.errors import InvalidImage, ModelUnavailable
from facewatch.types import RGBImage
from facewatch.vision.align import align_face
from facewatch.vision.detectors import HogDetector
from facewatch.vision.embedders import (
    MODEL_SPECS,
    DlibResNetEmbedder,
    EdgeFaceEmbedder,
    Embedder,
    OnnxResNetEmbedder,
    RecognitionDefaults,
    create_embedder,
    embedder_for_model,
)
from facewatch.vision.landmarks import Landmarker

from .conftest import EXAMPLES, JOHNS, ImageLoader

SAME_PERSON_DISTANCE = 0.6  # dlib's own verification threshold


@pytest.fixture(scope="module")
def chips(hog: HogDetector, landmarker: Landmarker, load: ImageLoader) -> dict[str, RGBImage]:
    """One aligned chip per photo, by photo name."""
    found = {}
    for name in ("obama.jpg", "obama2.jpg", "obama-480p.jpg", "biden.jpg"):
        image = load(f"{EXAMPLES}/{name}")
        box = hog.detect(image)[0].box
        found[name] = align_face(image, box, landmarker.locate(image, box))
    return found


@pytest.fixture(scope="module")
def embeddings(embedder: DlibResNetEmbedder, chips: dict[str, RGBImage]) -> dict[str, np.ndarray]:
    vectors = embedder.embed(list(chips.values()))
    return dict(zip(chips, vectors, strict=True))


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


@pytest.mark.parametrize(
    ("first", "second"), [("obama.jpg", "obama2.jpg"), ("obama.jpg", "obama-480p.jpg")]
)
def test_two_photos_of_the_same_person_are_close(
    embeddings: dict[str, np.ndarray], first: str, second: str
) -> None:
    assert distance(embeddings[first], embeddings[second]) < SAME_PERSON_DISTANCE


@pytest.mark.parametrize("obama", ["obama.jpg", "obama2.jpg", "obama-480p.jpg"])
def test_obama_and_biden_are_far_apart(embeddings: dict[str, np.ndarray], obama: str) -> None:
    assert distance(embeddings[obama], embeddings["biden.jpg"]) > SAME_PERSON_DISTANCE


def test_aligned_johns_chips_embed_directly(
    embedder: DlibResNetEmbedder, load: ImageLoader
) -> None:
    salley = [
        load(f"{JOHNS}/John_Salley/{n}") for n in ("000179_02159509.jpg", "000183_02159543.jpg")
    ]
    simm = load(f"{JOHNS}/John_Simm/000288_00470387.jpg")

    first, second, other = embedder.embed([*salley, simm])

    assert distance(first, second) < SAME_PERSON_DISTANCE < distance(first, other)


def test_embed_returns_one_float32_row_of_128_per_chip_in_order(
    embedder: DlibResNetEmbedder, chips: dict[str, RGBImage], embeddings: dict[str, np.ndarray]
) -> None:
    batch = embedder.embed([chips["biden.jpg"], chips["obama.jpg"]])

    assert batch.shape == (2, 128)
    assert batch.dtype == np.float32
    np.testing.assert_allclose(batch[0], embeddings["biden.jpg"], atol=1e-5)


def test_embedding_no_chips_gives_an_empty_matrix() -> None:
    fresh = DlibResNetEmbedder()

    assert fresh.embed([]).shape == (0, 128)


def test_a_chip_of_the_wrong_size_is_refused(embedder: DlibResNetEmbedder) -> None:
    with pytest.raises(InvalidImage, match="150x150"):
        embedder.embed([np.zeros((112, 112, 3), dtype=np.uint8)])


@pytest.mark.parametrize(
    ("name", "kind", "model_id"),
    [
        ("edgeface", EdgeFaceEmbedder, "edgeface_xs_int8"),
        ("dlib", OnnxResNetEmbedder, "dlib_resnet_v1"),
        ("onnx", OnnxResNetEmbedder, "dlib_resnet_v1"),
        ("dlib_native", DlibResNetEmbedder, "dlib_resnet_v1"),
    ],
)
def test_create_embedder_gives_the_named_embedder_with_its_model_id(
    name: EmbedderName, kind: type[Embedder], model_id: str
) -> None:
    embedder = create_embedder(Settings(embedder=name))

    assert type(embedder) is kind
    assert embedder.model_id == model_id


# --- each model declares itself -------------------------------------------------------


@pytest.mark.parametrize("kind", [EdgeFaceEmbedder, OnnxResNetEmbedder, DlibResNetEmbedder])
def test_every_shipped_embedder_declares_a_known_model(kind: type[Embedder]) -> None:
    spec = kind.spec

    assert MODEL_SPECS[spec.model_id] is spec
    assert spec.defaults.match_threshold < spec.defaults.unknown_threshold
    assert spec.defaults.cluster_threshold > 0
    assert spec.preprocessing
    assert "\n" not in spec.preprocessing


def test_thresholds_are_the_models_own() -> None:
    dlib, edgeface = MODEL_SPECS["dlib_resnet_v1"], MODEL_SPECS["edgeface_xs_int8"]

    assert (dlib.metric, dlib.dim, dlib.chip_size) == ("l2", 128, 150)
    assert (edgeface.metric, edgeface.dim, edgeface.chip_size) == ("cosine", 512, 112)
    assert dlib.defaults == RecognitionDefaults(0.5, 0.6, 1.0, 0.1, 0.45)
    assert edgeface.defaults.match_threshold > 1.0 > dlib.defaults.unknown_threshold


def test_a_spec_cannot_be_changed() -> None:
    with pytest.raises(AttributeError):
        MODEL_SPECS["dlib_resnet_v1"].dim = 64  # type: ignore[misc]


@pytest.mark.parametrize(
    ("configured", "model_id", "kind"),
    [
        ("edgeface", "dlib_resnet_v1", OnnxResNetEmbedder),
        ("dlib_native", "dlib_resnet_v1", DlibResNetEmbedder),
        ("dlib", "edgeface_xs_int8", EdgeFaceEmbedder),
        ("edgeface", "edgeface_xs_int8", EdgeFaceEmbedder),
    ],
)
def test_embedder_for_model_makes_that_models_vectors(
    configured: EmbedderName, model_id: str, kind: type[Embedder]
) -> None:
    embedder = embedder_for_model(model_id, Settings(embedder=configured))

    assert type(embedder) is kind
    assert embedder.model_id == model_id


def test_embedder_for_an_unknown_model_says_which_are_known() -> None:
    with pytest.raises(ModelUnavailable, match="edgeface_xs_int8"):
        embedder_for_model("arcface_r100", Settings())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: EdgeFaceEmbedder(batch_size=0), "batch_size must be >= 1, not 0"),
        (lambda: EdgeFaceEmbedder(threads=-1), "threads must be >= 0, not -1"),
        (lambda: OnnxResNetEmbedder(batch_size=0), "batch_size must be >= 1, not 0"),
        (lambda: OnnxResNetEmbedder(threads=-2), "threads must be >= 0, not -2"),
        (lambda: DlibResNetEmbedder(batch_size=-1), "batch_size must be >= 1, not -1"),
    ],
)
def test_an_embedder_refuses_run_options_it_cannot_use(
    make: Callable[[], Embedder], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make()

"""The onnxruntime embedder behind the Embedder interface, and how settings choose it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facewatch.config import Settings
from facewatch.errors import InvalidImage
from facewatch.types import RGBImage
from facewatch.vision.embedders import DlibResNetEmbedder, create_embedder
from facewatch.vision.embedders.onnx_resnet import OnnxResNetEmbedder
from facewatch.vision.image import load_image


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def chips(testdata: Path) -> list[RGBImage]:
    folder = testdata / "dlib_faces" / "johns"
    return [load_image(p, max_pixels=10**6) for p in sorted(folder.glob("*/*.jpg"))[:7]]


def test_embedder_dlib_runs_dlibs_model_on_onnxruntime(cache: Path) -> None:
    settings = Settings(embedder="dlib", model_cache_dir=cache, embedder_threads=2)

    embedder = create_embedder(settings)

    assert isinstance(embedder, OnnxResNetEmbedder)
    assert (embedder.model_id, embedder.dim, embedder.threads) == ("dlib_resnet_v1", 128, 2)


def test_embedder_dlib_native_keeps_the_dlib_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEWATCH_EMBEDDER", "dlib_native")

    assert isinstance(create_embedder(Settings()), DlibResNetEmbedder)


def test_batches_of_any_size_give_the_same_rows_in_order(
    cache: Path, chips: list[RGBImage]
) -> None:
    whole = OnnxResNetEmbedder(cache_dir=cache, batch_size=32).embed(chips)
    in_pairs = OnnxResNetEmbedder(cache_dir=cache, batch_size=2).embed(chips)
    reversed_rows = OnnxResNetEmbedder(cache_dir=cache).embed(chips[::-1])

    assert whole.shape == (len(chips), 128)
    assert whole.dtype == np.float32
    np.testing.assert_allclose(in_pairs, whole, atol=1e-5)
    np.testing.assert_allclose(reversed_rows[::-1], whole, atol=1e-5)
    assert len({round(float(np.linalg.norm(row)), 4) for row in whole}) == len(chips)


def test_no_chips_give_an_empty_matrix_without_loading_the_model(cache: Path) -> None:
    assert OnnxResNetEmbedder(cache_dir=cache / "unused").embed([]).shape == (0, 128)
    assert not (cache / "unused").exists()


def test_a_chip_of_the_wrong_size_is_refused(cache: Path) -> None:
    with pytest.raises(InvalidImage, match="150x150"):
        OnnxResNetEmbedder(cache_dir=cache).embed([np.zeros((112, 112, 3), dtype=np.uint8)])

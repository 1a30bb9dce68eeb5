"""The packaged dlib model files: converted once into the cache, bad files refused by name."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from facewatch.errors import ModelUnavailable
from facewatch.vision.convert import DLIB_RESNET, ensure_converted
from facewatch.vision.embedders.onnx_resnet import OnnxResNetEmbedder
from facewatch.vision.models import face_recognition_model_path, shape_predictor_5_path


@pytest.fixture(scope="module")
def original() -> Path:
    return face_recognition_model_path()


def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _rename_a_layer(data: bytes) -> bytes:
    return data.replace(b"con_4", b"cXn_4", 1)


def _cut_the_tail(data: bytes) -> bytes:
    return data[:-3]


@pytest.mark.parametrize("damage", [_truncate, _rename_a_layer, _cut_the_tail])
def test_a_damaged_model_file_is_refused_naming_it_and_nothing_is_cached(
    original: Path, tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    broken = tmp_path / "broken.dat"
    broken.write_bytes(damage(original.read_bytes()))
    cache = tmp_path / "cache"

    with pytest.raises(ModelUnavailable, match=f"{re.escape(str(broken))}.*corrupt or truncated"):
        ensure_converted(DLIB_RESNET, broken, cache)
    assert not cache.exists() or not any(cache.iterdir())


def test_a_missing_model_file_is_refused_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.dat"

    with pytest.raises(ModelUnavailable, match=re.escape(f"cannot read the model file {missing}")):
        ensure_converted(DLIB_RESNET, missing, tmp_path)


def test_another_dlib_model_is_refused_as_not_the_resnet(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"shape_predictor_5.*not a readable"):
        ensure_converted(DLIB_RESNET, shape_predictor_5_path(), tmp_path)


def test_a_conversion_is_cached_and_reused_under_the_source_sha256(
    original: Path, tmp_path: Path
) -> None:
    first = ensure_converted(DLIB_RESNET, original, tmp_path)
    written = first.stat().st_mtime_ns

    again = ensure_converted(DLIB_RESNET, original, tmp_path)

    assert again == first
    assert again.stat().st_mtime_ns == written
    assert again.parent == tmp_path


def test_a_changed_source_file_gets_its_own_conversion(original: Path, tmp_path: Path) -> None:
    data = bytearray(original.read_bytes())
    data[len(data) // 2] ^= 0x01  # one weight bit, deep inside a tensor
    changed = tmp_path / "changed.dat"
    changed.write_bytes(bytes(data))

    assert ensure_converted(DLIB_RESNET, changed, tmp_path) != ensure_converted(
        DLIB_RESNET, original, tmp_path
    )


def test_the_embedder_rebuilds_a_cached_graph_damaged_on_disk(
    original: Path, tmp_path: Path
) -> None:
    cached = ensure_converted(DLIB_RESNET, original, tmp_path)
    cached.write_bytes(b"not a protobuf" * 10)
    embedder = OnnxResNetEmbedder(original, cache_dir=tmp_path)

    vectors = embedder.embed([np.full((150, 150, 3), 128, dtype=np.uint8)])

    assert vectors.shape == (1, 128)
    assert np.isfinite(vectors).all()
    assert cached.stat().st_size > 1_000_000


def test_the_embedder_names_a_truncated_model_file_on_first_use(
    original: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "dlib_face_recognition_resnet_model_v1.dat"
    shutil.copyfile(original, broken)
    with broken.open("r+b") as file:
        file.truncate(1000)
    embedder = OnnxResNetEmbedder(broken, cache_dir=tmp_path / "cache")

    with pytest.raises(ModelUnavailable, match=re.escape(str(broken))):
        embedder.embed([np.zeros((150, 150, 3), dtype=np.uint8)])

"""Vision's own config: the server's settings map onto it, and the factories take it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from facewatch.config import Settings, vision_config
from facewatch.errors import ConfigurationError
from facewatch.vision.config import VisionConfig
from facewatch.vision.detectors import HaarDetector, HogDetector, create_detector
from facewatch.vision.embedders import create_embedder
from facewatch.vision.embedders.dlib_resnet import DlibResNetEmbedder
from facewatch.vision.embedders.edgeface import EdgeFaceEmbedder
from facewatch.vision.pipeline import create_analyzer


def test_the_defaults_are_the_servers() -> None:
    assert vision_config(Settings()) == VisionConfig()


def test_every_vision_setting_is_carried_over(tmp_path: Path) -> None:
    settings = Settings(
        detector="mmod",
        hog_upsample=2,
        hog_auto_upsample_pixels=5,
        mmod_upsample=1,
        onnx_detector_path=tmp_path / "detector.onnx",
        onnx_score_threshold=0.5,
        embedder="dlib",
        embedder_threads=3,
        embedder_batch_size=8,
        model_cache_dir=tmp_path,
    )

    config = vision_config(settings)

    for field in dataclasses.fields(VisionConfig):
        assert getattr(config, field.name) == getattr(settings, field.name), field.name


def test_the_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        VisionConfig().detector = "haar"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("config", "detector_type"),
    [(VisionConfig(), HogDetector), (VisionConfig(detector="haar"), HaarDetector)],
)
def test_the_detector_factory_takes_a_vision_config(
    config: VisionConfig, detector_type: type
) -> None:
    assert isinstance(create_detector(config), detector_type)


@pytest.mark.parametrize(
    ("config", "embedder_type"),
    [
        (VisionConfig(), EdgeFaceEmbedder),
        (VisionConfig(embedder="dlib_native"), DlibResNetEmbedder),
    ],
)
def test_the_embedder_factory_takes_a_vision_config(
    config: VisionConfig, embedder_type: type
) -> None:
    assert isinstance(create_embedder(config), embedder_type)


def test_an_analyzer_is_built_from_a_vision_config() -> None:
    analyzer = create_analyzer(VisionConfig(detector="haar", embedder="dlib_native"))

    assert isinstance(analyzer.detector, HaarDetector)
    assert isinstance(analyzer.embedder, DlibResNetEmbedder)


@pytest.mark.parametrize(
    ("factory", "config"),
    [
        (create_detector, VisionConfig(detector="yolo")),
        (create_embedder, VisionConfig(embedder="arcface")),
    ],
)
def test_an_unknown_name_is_a_configuration_error(factory: object, config: VisionConfig) -> None:
    assert callable(factory)
    with pytest.raises(ConfigurationError, match="unknown"):
        factory(config)

"""The edge builds its candidate detectors through vision's factory, with each camera's options."""

from __future__ import annotations

import pytest

from facewatch.edge.config import DetectorConfig
from facewatch.edge.detection import create_candidate_detector
from facewatch.errors import ConfigurationError
from facewatch.vision.detectors import HaarDetector, HogDetector, UltraLightOnnxDetector
from facewatch.vision.detectors.factory import DetectorOptions, build_detector


def test_each_kind_gets_the_cameras_own_options() -> None:
    hog = create_candidate_detector(DetectorConfig(kind="hog", upsample=2, threshold=-0.4))
    haar = create_candidate_detector(DetectorConfig(kind="haar", min_neighbors=4, min_size=24))
    onnx = create_candidate_detector(DetectorConfig(kind="onnx", onnx_score=0.55))

    assert isinstance(hog.detector, HogDetector)
    assert (hog.detector.upsample, hog.detector.adjust_threshold) == (2, -0.4)
    assert isinstance(haar.detector, HaarDetector)
    assert (haar.detector.min_neighbors, haar.detector.min_size) == (4, 24)
    assert isinstance(onnx.detector, UltraLightOnnxDetector)
    assert onnx.detector.threads == 1  # cameras run side by side: one thread each
    assert onnx.native  # the edge runs Ultra-Light at the frame's own scale


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown detector 'yolo' \(known: hog, haar"):
        build_detector(DetectorOptions(kind="yolo"))

"""`facewatch edge extract`: the crops the agent would send, in a folder, with no server.

Each crop must be something the server can re-detect a face in (that is what the margin
is for), no longer than 150 px.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from facewatch.config import Settings
from facewatch.edge.extract import ExtractSettings, extract
from facewatch.vision.image import load_image
from facewatch.vision.pipeline import create_analyzer

HAMILTON = "face_recognition_examples/examples/short_hamilton_clip.mp4"


def test_extracted_crops_are_small_jpegs_in_which_the_server_finds_a_face(
    testdata: Path, tmp_path: Path
) -> None:
    written, counts = extract(testdata / HAMILTON, tmp_path / "crops", ExtractSettings(fps=3))
    assert written
    assert sorted(written) == sorted((tmp_path / "crops").iterdir())
    assert counts.shots == len(written)
    analyzer = create_analyzer(Settings())
    for path in written:
        with Image.open(path) as image:
            assert image.format == "JPEG"
            assert max(image.size) <= 150
        assert analyzer.analyze(load_image(path, max_pixels=10**6), embed=False), path.name

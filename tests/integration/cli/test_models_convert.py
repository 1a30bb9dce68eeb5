"""facewatch models convert: dlib's networks converted into the cache, once, and on request."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from facewatch.cli import app


@pytest.fixture
def runner(tmp_path: Path) -> CliRunner:
    return CliRunner(
        env={"FACEWATCH_DATA_DIR": str(tmp_path), "FACEWATCH_MODEL_CACHE_DIR": str(tmp_path / "c")}
    )


def converted(output: str, model: str = "dlib_face_recognition_resnet_model_v1") -> Path:
    """The path printed for ``model`` (one ``name: path`` line per converted model)."""
    paths = dict(line.split(": ", 1) for line in output.strip().splitlines())
    assert set(paths) == {"dlib_face_recognition_resnet_model_v1", "mmod_human_face_detector"}
    return Path(paths[model])


def test_convert_writes_the_resnet_graph_into_the_model_cache(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["models", "convert"])

    assert result.exit_code == 0, result.output
    path = converted(result.stdout)
    assert path.parent == tmp_path / "c"
    assert path.suffix == ".onnx"
    assert path.stat().st_size > 20_000_000
    assert converted(result.stdout, "mmod_human_face_detector").parent == tmp_path / "c"


def test_convert_reuses_a_cached_graph_and_force_rebuilds_it(runner: CliRunner) -> None:
    path = converted(runner.invoke(app, ["models", "convert"]).stdout)
    path.write_bytes(b"stale")

    cached = runner.invoke(app, ["models", "convert"])
    assert converted(cached.stdout) == path
    assert path.read_bytes() == b"stale"

    forced = runner.invoke(app, ["models", "convert", "--force"])
    assert forced.exit_code == 0, forced.output
    assert path.stat().st_size > 20_000_000

"""``facewatch models status|reembed``: an install enrolled with dlib, then configured for
EdgeFace, is re-embedded from its stored photos with a progress bar and switched."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from facewatch.cli import app
from facewatch.config import Settings
from facewatch.server.infra.runtime import Runtime

KNN = "face_recognition_examples/examples/knn_examples"
DLIB, EDGEFACE = "dlib_resnet_v1", "edgeface_xs_int8"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, testdata: Path) -> Path:
    """The knn_examples people enrolled with dlib's model, and one person by embedding only."""
    folder = tmp_path_factory.mktemp("models-cli")
    dlib = CliRunner(env={"FACEWATCH_DATA_DIR": str(folder), "FACEWATCH_EMBEDDER": "dlib"})
    result = dlib.invoke(app, ["people", "import", str(testdata / KNN / "train")])
    assert result.exit_code == 0, result.output
    runtime = Runtime.open(Settings(data_dir=folder, embedder="dlib"))
    try:
        with runtime.uow() as uow:
            person = uow.people.add("vector only", "staff")
            uow.templates.add(person.id, np.full(128, 0.05, np.float32), DLIB, 0.9, [0, 0, 9, 9])
            uow.commit()
    finally:
        runtime.close()
    return folder


@pytest.fixture(scope="module")
def edgeface(data_dir: Path) -> CliRunner:
    return CliRunner(env={"FACEWATCH_DATA_DIR": str(data_dir), "COLUMNS": "200"})


def status(runner: CliRunner) -> dict[str, object]:
    result = runner.invoke(app, ["models", "status", "--json"])
    assert result.exit_code == 0, result.output
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


def test_status_says_the_old_model_serves_while_photos_wait_for_the_new_one(
    edgeface: CliRunner,
) -> None:
    before = status(edgeface)
    assert (before["serving"], before["configured"], before["state"]) == (
        DLIB,
        EDGEFACE,
        "reembedding",
    )
    assert before["templates_left"] == 9  # every photo of the five people
    left_out = before["people_left_out"]
    assert isinstance(left_out, list)
    assert [p["name"] for p in left_out if "no stored photo" in p["reason"]] == ["vector only"]


def test_reembed_switches_and_lists_who_it_could_not_cover(edgeface: CliRunner) -> None:
    result = edgeface.invoke(app, ["models", "reembed"])
    assert result.exit_code == 0, result.output
    assert "9 photos and 0 crops embedded by edgeface_xs_int8" in result.output
    assert "left out: vector only" in result.output
    assert f"now serving {EDGEFACE}" in result.output
    after = status(edgeface)
    assert (after["serving"], after["state"]) == (EDGEFACE, "current")
    assert after["templates"] == {DLIB: 10, EDGEFACE: 9}


def test_identify_names_people_with_the_new_model(edgeface: CliRunner, testdata: Path) -> None:
    edgeface.invoke(app, ["models", "reembed"])
    result = edgeface.invoke(
        app, ["identify", "--json", str(testdata / KNN / "test" / "obama1.jpg")]
    )
    assert result.exit_code == 0, result.output
    [face] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (face["status"], face["name"]) == ("known", "obama")


def test_reembed_with_nothing_to_do_says_so(edgeface: CliRunner) -> None:
    edgeface.invoke(app, ["models", "reembed"])
    result = edgeface.invoke(app, ["models", "reembed"])
    assert result.exit_code == 0
    assert f"nothing to do: {EDGEFACE} serves already" in result.output

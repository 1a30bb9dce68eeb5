"""The facewatch command on a data dir, with no server running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facewatch.cli import app

KNN = "face_recognition_examples/examples/knn_examples"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-data")


@pytest.fixture(scope="module")
def runner(data_dir: Path) -> CliRunner:
    return CliRunner(env={"FACEWATCH_DATA_DIR": str(data_dir), "COLUMNS": "200"})


@pytest.fixture(scope="module")
def imported(runner: CliRunner, testdata: Path) -> None:
    result = runner.invoke(app, ["people", "import", str(testdata / KNN / "train")])
    assert result.exit_code == 0, result.output


def facewatch(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed entry point as a user would."""
    env = {**os.environ, "FACEWATCH_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-c", "from facewatch.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_import_enrols_one_person_per_subfolder(runner: CliRunner, imported: None) -> None:
    result = runner.invoke(app, ["people", "list", "--json"])
    people = {json.loads(line)["name"]: json.loads(line) for line in result.stdout.splitlines()}
    assert sorted(people) == ["alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie"]
    assert people["obama"]["templates"] == 2


def test_identify_names_the_enrolled_and_not_the_stranger(
    runner: CliRunner, imported: None, testdata: Path
) -> None:
    result = runner.invoke(app, ["identify", "--json", str(testdata / KNN / "test")])
    assert result.exit_code == 0, result.output
    faces = [json.loads(line) for line in result.stdout.splitlines()]
    by_file: dict[str, list[str]] = {}
    for face in faces:
        label = face["name"] if face["status"] == "known" else face["status"]
        by_file.setdefault(Path(face["file"]).name, []).append(label)
    assert {k: sorted(v) for k, v in by_file.items()} == {
        "alex_lacamoire1.jpg": ["alex_lacamoire"],
        "johnsnow_test1.jpg": ["kit_harington"],
        "kit_with_rose.jpg": ["kit_harington", "rose_leslie"],
        "obama1.jpg": ["obama"],
        "obama_and_biden.jpg": ["biden", "obama", "unknown"],
    }
    assert set(faces[0]) == {"file", "box", "status", "name", "person_id", "distance"}


def test_adding_photos_says_which_were_refused(
    runner: CliRunner, imported: None, testdata: Path
) -> None:
    photos = testdata / "face_recognition_examples/examples"
    result = runner.invoke(
        app,
        [
            "people",
            "add",
            "Lin",
            str(photos / "lin-manuel-miranda.png"),
            str(photos / "two_people.jpg"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 photo(s) enrolled, 1 refused" in result.stdout
    assert "several faces" in result.stdout


def test_removing_a_person_forgets_them(runner: CliRunner, imported: None) -> None:
    runner.invoke(app, ["people", "add", "Temp", "--category", "staff"], catch_exceptions=False)
    assert runner.invoke(app, ["people", "remove", "Temp", "--yes"]).exit_code == 0
    listed = runner.invoke(app, ["people", "list", "--json"]).stdout
    assert "Temp" not in listed


def test_keys_create_prints_only_the_key(runner: CliRunner) -> None:
    result = runner.invoke(app, ["keys", "create", "--scope", "read", "--scope", "ingest"])
    assert result.exit_code == 0, result.output
    [key] = result.stdout.splitlines()
    assert key.startswith("fw_")
    listed = runner.invoke(app, ["keys", "list"]).stdout
    assert "read,ingest" in listed
    assert key not in listed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keys", "create", "--scope", "root"], "unknown scope 'root'"),
        (["identify", "/no/such/file.jpg"], "no such file or folder"),
        (["people", "remove", "Nobody"], "no person named 'Nobody'"),
        (["people", "import", "/no/such/dir"], "not a folder"),
    ],
)
def test_mistakes_get_a_one_line_error(data_dir: Path, args: list[str], message: str) -> None:
    result = facewatch(data_dir, *args)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {result.stderr.split('error: ')[1].strip()}"
    ]
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreadable_image_is_reported_and_the_rest_identified(
    runner: CliRunner, imported: None, testdata: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really")
    good = testdata / KNN / "test" / "obama1.jpg"
    result = runner.invoke(app, ["identify", "--json", str(bad), str(good)])
    assert result.exit_code == 1
    assert [json.loads(line)["name"] for line in result.stdout.splitlines()] == ["obama"]

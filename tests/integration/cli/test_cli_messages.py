"""What the facewatch command says: file names, empty inputs, confirmations, help, banner."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facewatch.cli import app, first_run_banner, load_settings
from facewatch.edge.config import OutboxConfig

KNN = "face_recognition_examples/examples/knn_examples"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-messages")


@pytest.fixture(scope="module")
def runner(data_dir: Path) -> CliRunner:
    return CliRunner(env={"FACEWATCH_DATA_DIR": str(data_dir), "COLUMNS": "200"})


@pytest.fixture(scope="module")
def enrolled(runner: CliRunner, testdata: Path) -> None:
    photo = testdata / KNN / "train" / "obama"
    result = runner.invoke(app, ["people", "add", "obama", str(photo)])
    assert result.exit_code == 0, result.output


def facewatch(
    *args: str, data_dir: Path | str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the entry point as a user would."""
    env = {**os.environ, "FACEWATCH_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-c", "from facewatch.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# --- identify ----------------------------------------------------------------------------
def test_identify_names_each_file_relative_to_the_folder_given(
    runner: CliRunner, enrolled: None, testdata: Path
) -> None:
    result = runner.invoke(app, ["identify", str(testdata / KNN / "test")])
    assert result.exit_code == 0, result.output
    assert "obama_and_biden.jpg" in result.stdout
    assert "kit_with_rose.jpg" in result.stdout
    assert "../shared" not in result.stdout
    assert str(testdata) not in result.stdout
    assert "…" not in result.stdout  # nothing cut short


def test_identify_names_a_file_in_a_subfolder_by_its_relative_path(
    runner: CliRunner, enrolled: None, testdata: Path, tmp_path: Path
) -> None:
    (tmp_path / "gate").mkdir()
    (tmp_path / "gate" / "morning.jpg").write_bytes(
        (testdata / KNN / "test" / "obama1.jpg").read_bytes()
    )
    result = runner.invoke(app, ["identify", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "gate/morning.jpg" in result.stdout
    json_result = runner.invoke(app, ["identify", "--json", str(tmp_path)])
    [face] = [json.loads(line) for line in json_result.stdout.splitlines()]
    assert face["file"] == str(tmp_path / "gate" / "morning.jpg")  # scripts get the full path


def test_identify_lists_an_image_without_a_face(
    runner: CliRunner, enrolled: None, tmp_path: Path
) -> None:
    import numpy as np
    from PIL import Image

    Image.fromarray(np.full((120, 160, 3), 200, np.uint8)).save(tmp_path / "wall.png")
    result = runner.invoke(app, ["identify", str(tmp_path / "wall.png")])
    assert result.exit_code == 0, result.output
    assert re.search(r"wall\.png .* no face found", result.stdout)


def test_a_folder_without_images_is_an_error(data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no photos here")
    line = one_error_line(facewatch("identify", str(tmp_path), data_dir=data_dir))
    assert line.startswith(f"error: no images in {tmp_path} (looked for .bmp, ")


def test_a_file_that_is_not_an_image_is_an_error(data_dir: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("no photos here")
    line = one_error_line(facewatch("identify", str(notes), data_dir=data_dir))
    assert line.startswith(f"error: not an image: {notes} (expected .bmp, ")


def test_identify_with_nobody_enrolled_says_how_to_enrol(tmp_path: Path, testdata: Path) -> None:
    photo = testdata / KNN / "test" / "obama1.jpg"
    line = one_error_line(facewatch("identify", str(photo), data_dir=tmp_path / "empty"))
    assert line.startswith("error: nobody is enrolled yet: enrol people first with ")
    assert "`facewatch people add NAME PHOTO...`" in line
    assert "`facewatch people import FOLDER`" in line


# --- people remove -------------------------------------------------------------------------
def _names(runner: CliRunner) -> list[str]:
    listed = runner.invoke(app, ["people", "list", "--json"]).stdout
    return [json.loads(line)["name"] for line in listed.splitlines()]


def test_people_remove_asks_and_a_no_keeps_the_person(runner: CliRunner) -> None:
    runner.invoke(app, ["people", "add", "Kept"], catch_exceptions=False)
    result = runner.invoke(app, ["people", "remove", "Kept"], input="n\n")
    assert result.exit_code == 1
    assert "Delete Kept (#" in result.stderr
    assert "with 0 template(s) and every photo, detection and crop of them? [y/N]" in (
        result.stderr
    )
    assert "nothing deleted" in result.stderr
    assert "Kept" in _names(runner)


@pytest.mark.parametrize(
    ("args", "answer"),
    [(["Gone"], "y\n"), (["Gone", "--yes"], None), (["-y", "Gone"], None)],
)
def test_people_remove_deletes_after_a_yes_or_with_yes(
    runner: CliRunner, args: list[str], answer: str | None
) -> None:
    runner.invoke(app, ["people", "add", "Gone"], catch_exceptions=False)
    result = runner.invoke(app, ["people", "remove", *args], input=answer)
    assert result.exit_code == 0, result.output
    assert "removed Gone" in result.stdout
    assert ("[y/N]" in result.stderr) == (answer is not None)
    assert "Gone" not in _names(runner)


def test_people_remove_without_a_terminal_deletes_nothing(data_dir: Path) -> None:
    assert facewatch("people", "add", "Stays", data_dir=data_dir).returncode == 0
    result = facewatch("people", "remove", "Stays", data_dir=data_dir)
    assert result.returncode == 1
    listed = facewatch("people", "list", "--json", data_dir=data_dir).stdout
    assert '"Stays"' in listed


# --- data directory, banner, help ----------------------------------------------------------
def test_a_relative_data_dir_is_resolved_once_and_shown(tmp_path: Path) -> None:
    result = facewatch("people", "list", data_dir="./here", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"data directory: here is {tmp_path / 'here'}" in result.stderr
    assert (tmp_path / "here" / "facewatch.db").is_file()


def test_an_absolute_data_dir_is_used_quietly(tmp_path: Path) -> None:
    result = facewatch("people", "list", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "data directory" not in result.stderr


def test_the_first_run_banner_says_which_routes_need_a_key_and_how_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FACEWATCH_METRICS_TOKEN", raising=False)
    settings = load_settings(tmp_path, None)
    banner = first_run_banner(settings)
    assert "dashboard http://127.0.0.1:8000/, API docs http://127.0.0.1:8000/docs" in banner
    assert "The REST API (/api/v1/...) needs an API key" in banner
    assert "/healthz, /readyz and /docs need none" in banner
    assert "/metrics is open" in banner
    assert f"facewatch keys create --scope admin --data-dir {tmp_path}" in banner
    assert f"facewatch users create NAME --role admin --data-dir {tmp_path}" in banner


def test_the_banner_stops_asking_for_a_key_and_a_user_once_they_exist(
    tmp_path: Path,
) -> None:
    runner = CliRunner(env={"FACEWATCH_DATA_DIR": str(tmp_path)})
    assert runner.invoke(app, ["keys", "create", "--scope", "admin"]).exit_code == 0
    made = runner.invoke(
        app,
        ["users", "create", "ops", "--role", "admin", "--password-stdin"],
        input="a long enough passphrase 42\n",
    )
    assert made.exit_code == 0, made.output
    banner = first_run_banner(load_settings(tmp_path, None))
    assert "No API key" not in banner
    assert "No dashboard user" not in banner
    assert "needs an API key" in banner


@pytest.mark.parametrize(
    ("command", "placeholders"),
    [
        (["serve"], ["--host ADDRESS", "--port PORT", "--tls-cert PEM", "--data-dir DIR"]),
        (["identify"], ["IMAGE_OR_FOLDER", "--config FILE"]),
        (["people", "add"], ["NAME", "PHOTO_OR_FOLDER", "--category CATEGORY"]),
        (["people", "remove"], ["NAME", "--yes"]),
        (["keys", "create"], ["--scope SCOPE", "--expires-in DURATION"]),
        (["users", "create"], ["USERNAME", "--role ROLE"]),
        (["audit", "list"], ["--limit N", "--actor ACTOR"]),
        (["edge", "run"], ["--outbox FILE"]),
    ],
)
def test_help_shows_readable_placeholders(command: list[str], placeholders: list[str]) -> None:
    result = CliRunner(env={"COLUMNS": "160"}).invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    squeezed = re.sub(r"\s+", " ", result.output)
    for placeholder in placeholders:
        assert placeholder in squeezed


# --- edge outbox -----------------------------------------------------------------------------
def test_the_edge_outbox_lives_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FACEWATCH_DATA_DIR", "site-data")
    assert OutboxConfig().path == tmp_path / "site-data" / "edge-outbox.db"


# --- enrolment photos one by one -------------------------------------------------------------
def _template_ids(runner: CliRunner, name: str) -> list[int]:
    listed = runner.invoke(app, ["people", "photos", name])
    assert listed.exit_code == 0, listed.output
    return [int(n) for n in re.findall(r"^│ (\d+) ", listed.stdout, flags=re.MULTILINE)]


def test_people_photos_lists_the_template_ids(runner: CliRunner, testdata: Path) -> None:
    photos = testdata / KNN / "train" / "kit_harington"
    assert runner.invoke(app, ["people", "add", "Kit", str(photos)]).exit_code == 0
    listed = runner.invoke(app, ["people", "photos", "Kit"])
    assert listed.exit_code == 0, listed.output
    assert len(_template_ids(runner, "Kit")) == 2
    assert "edgeface" in listed.stdout


def test_remove_photo_asks_then_deletes_one_photo_and_keeps_the_person(
    runner: CliRunner, testdata: Path
) -> None:
    photos = testdata / KNN / "train" / "rose_leslie"
    assert runner.invoke(app, ["people", "add", "Rose", str(photos)]).exit_code == 0
    first, second = _template_ids(runner, "Rose")

    kept = runner.invoke(app, ["people", "remove-photo", "Rose", str(first)], input="n\n")
    assert kept.exit_code == 1
    assert f"Delete the enrolment photo of template {first} (" in kept.stderr
    assert "from Rose, who keeps 1 other photo(s)? [y/N]" in kept.stderr
    assert _template_ids(runner, "Rose") == [first, second]

    gone = runner.invoke(app, ["people", "remove-photo", "Rose", str(first)], input="y\n")
    assert gone.exit_code == 0, gone.output
    assert f"removed a photo of Rose: template(s) {first}" in gone.stdout
    assert _template_ids(runner, "Rose") == [second]
    assert "Rose" in _names(runner)

    quiet = runner.invoke(app, ["people", "remove-photo", "Rose", str(second), "--yes"])
    assert quiet.exit_code == 0, quiet.output
    assert _template_ids(runner, "Rose") == []
    assert "Rose" in _names(runner)


def test_remove_photo_of_a_template_not_theirs_is_a_one_line_error(
    data_dir: Path, runner: CliRunner, testdata: Path
) -> None:
    photo = testdata / KNN / "train" / "alex_lacamoire"
    assert runner.invoke(app, ["people", "add", "Alex", str(photo)]).exit_code == 0
    [alex_template] = _template_ids(runner, "Alex")
    runner.invoke(app, ["people", "add", "Nobody Photographed"], catch_exceptions=False)
    result = facewatch(
        "people", "remove-photo", "Nobody Photographed", str(alex_template), data_dir=data_dir
    )
    line = one_error_line(result)
    assert line == (
        f"error: Nobody Photographed has no template {alex_template} "
        "(see `facewatch people photos Nobody Photographed`)"
    )
    assert _template_ids(runner, "Alex") == [alex_template]


def test_the_package_runs_as_a_module() -> None:
    """``python -m facewatch.cli`` (the benchmarks' way to start a server) is the command."""
    done = subprocess.run(
        [sys.executable, "-m", "facewatch.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout

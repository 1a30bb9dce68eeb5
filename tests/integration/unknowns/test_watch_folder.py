"""A watched folder: new snapshots are ingested once complete, with their EXIF time and place;
and the CLI commands that drive it and re-cluster strangers."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import ExifTags, Image
from typer.testing import CliRunner

from facewatch.cli import app
from facewatch.server.infra.runtime import Runtime
from facewatch.server.services.detections import DetectionQuery, query_detections
from facewatch.server.services.watch_folder import FolderWatcher

TAKEN = datetime(2026, 11, 20, 6, 30, tzinfo=UTC)  # 07:30 at +01:00


def with_exif(path: Path) -> bytes:
    """The photo with a capture time (07:30 +01:00) and a GPS position (Paris)."""
    exif = Image.Exif()
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = "2026:11:20 07:30:00"
    details[ExifTags.Base.OffsetTimeOriginal] = "+01:00"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (48.0, 51.0, 29.5),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (2.0, 17.0, 40.0),
        }
    )
    buffer = io.BytesIO()
    Image.open(path).convert("RGB").save(buffer, "JPEG", quality=92, exif=exif)
    return buffer.getvalue()


def test_a_detection_posted_without_a_time_takes_its_arrival_not_the_exif_time(
    client: TestClient, admin: dict[str, str], knn: Path
) -> None:
    photo = with_exif(knn / "train/alex_lacamoire/img1.jpg")
    before = datetime.now(UTC)
    response = client.post(
        "/api/v1/detections",
        files={"image": ("a.jpg", photo)},
        data={"camera_id": "roof"},
        headers=admin,
    )
    after = datetime.now(UTC)
    assert response.status_code == 201, response.text
    [face] = response.json()["detections"]
    assert before <= datetime.fromisoformat(face["captured_at"]) <= after
    assert (face["latitude"], face["longitude"]) == pytest.approx((48.858194, 2.294444))


def test_an_import_that_asks_for_it_gets_the_exif_time_and_place(
    client: TestClient, admin: dict[str, str], knn: Path
) -> None:
    photo = with_exif(knn / "train/alex_lacamoire/img1.jpg")
    response = client.post(
        "/api/v1/detections",
        files={"image": ("a.jpg", photo)},
        data={"camera_id": "roof", "exif_time": "true"},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    [face] = response.json()["detections"]
    assert datetime.fromisoformat(face["captured_at"]) == TAKEN
    assert (face["latitude"], face["longitude"]) == pytest.approx((48.858194, 2.294444))


def test_a_sent_capture_time_wins_over_the_exif_time(
    client: TestClient, admin: dict[str, str], knn: Path
) -> None:
    photo = with_exif(knn / "train/alex_lacamoire/img1.jpg")
    response = client.post(
        "/api/v1/detections",
        files={"image": ("a.jpg", photo)},
        data={"camera_id": "roof", "captured_at": "2026-12-01T12:00:00Z"},
        headers=admin,
    )
    [face] = response.json()["detections"]
    assert face["captured_at"].startswith("2026-12-01T12:00:00")


def test_the_watched_folder_ingests_each_complete_file_once_by_sub_folder(
    runtime: Runtime, tmp_path: Path, knn: Path
) -> None:
    (tmp_path / "gate-1").mkdir()
    watcher = FolderWatcher(runtime, tmp_path, camera_id="drop")
    (tmp_path / "gate-1" / "0001.jpg").write_bytes(with_exif(knn / "train/biden/biden.jpg"))
    growing = tmp_path / "0002.jpg"
    growing.write_bytes(with_exif(knn / "train/biden/biden2.jpg")[:2000])
    assert watcher.scan_once() == []  # first sight of both: not yet known to be complete
    growing.write_bytes(with_exif(knn / "train/biden/biden2.jpg"))
    [first] = watcher.scan_once()
    assert (first.path.name, first.camera_id, first.faces, first.error) == (
        "0001.jpg",
        "gate-1",
        1,
        None,
    )
    [stored] = query_detections(runtime, DetectionQuery(camera_id="gate-1")).items
    assert stored.captured_at == TAKEN  # a folder of snapshots is an import: the EXIF time
    [second] = watcher.scan_once()
    assert (second.path.name, second.camera_id) == ("0002.jpg", "drop")
    assert second.unknown_ids == first.unknown_ids  # the same stranger on two cameras
    assert watcher.scan_once() == []
    shutil.copy(tmp_path / "gate-1" / "0001.jpg", tmp_path / "gate-1" / "copy.jpg")
    watcher.scan_once()
    [copy] = watcher.scan_once()
    assert copy.replayed  # the same bytes are stored once


def test_a_file_that_is_no_image_is_reported_and_skipped(runtime: Runtime, tmp_path: Path) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg at all")
    watcher = FolderWatcher(runtime, tmp_path)
    watcher.scan_once()
    [result] = watcher.scan_once()
    assert result.error


def test_the_cli_watches_a_folder_lists_and_reclusters_strangers(tmp_path: Path, knn: Path) -> None:
    runner = CliRunner(env={"FACEWATCH_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"})
    drop = tmp_path / "drop" / "yard"
    drop.mkdir(parents=True)
    (drop / "a.jpg").write_bytes(with_exif(knn / "train/obama/obama.jpg"))
    watched = runner.invoke(
        app, ["ingest", "watch", str(tmp_path / "drop"), "--once", "--poll", "0.1"]
    )
    assert watched.exit_code == 0, watched.output
    assert "[yard]: 1 faces, strangers unknown-" in watched.output
    listed = runner.invoke(app, ["unknowns", "list"])
    assert listed.exit_code == 0, listed.output
    assert "1 strangers" in listed.output
    reclustered = runner.invoke(app, ["unknowns", "recluster"])
    assert reclustered.exit_code == 0, reclustered.output
    assert "1 faces: 1 -> 1 strangers" in reclustered.output
    missing = runner.invoke(app, ["ingest", "watch", str(tmp_path / "nowhere"), "--once"])
    assert missing.exit_code != 0

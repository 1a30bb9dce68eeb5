"""An old client, unchanged but for the address, against `facewatch serve --compat-cloud-api`.

The requests are made the way the cloud-face-recognition edge programs made them: `requests`
with multipart files and no credentials (add-user-from-dataset, send-images-from-folder,
real-time-camera's JPEG crops from OpenCV, send-file-of-size), against a real server process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest
import requests

START_TIMEOUT = 120.0


@dataclass(frozen=True)
class Server:
    """A running `facewatch serve` process: its address and its log file."""

    address: str
    log: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def wait_until_ready(address: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"facewatch serve exited early:\n{log.read_text()}")
        try:
            if requests.get(f"http://{address}/readyz", timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or busy loading the models on a loaded machine
        time.sleep(0.3)
    pytest.fail(f"facewatch serve was not ready within {START_TIMEOUT} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`facewatch serve --compat-cloud-api --compat-allow-anonymous` on a free local port."""
    folder = tmp_path_factory.mktemp("old-client")
    port = free_port()
    log = folder / "serve.log"
    command = [
        sys.executable,
        "-c",
        "from facewatch.cli import main; main()",
        "serve",
        "--compat-cloud-api",
        "--compat-allow-anonymous",
        "--port",
        str(port),
        "--data-dir",
        str(folder / "data"),
    ]
    env = {**os.environ, "COLUMNS": "300"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_until_ready(f"127.0.0.1:{port}", process, log)
        yield Server(f"127.0.0.1:{port}", log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def add_user_from_dataset(address: str, folder: Path, person_id: str) -> list[int]:
    """What add-user-from-dataset.py --create-id --train does; the status codes it prints."""
    codes = [requests.post(f"http://{address}/dataset/{person_id}", timeout=10).status_code]
    url = f"http://{address}/dataset/{person_id}/image"
    for path in folder.iterdir():
        if path.is_file():
            with path.open("rb") as image:
                codes.append(requests.post(url, files={"image": image}, timeout=10).status_code)
    train = f"http://{address}/model/optimized-train"
    codes.append(requests.post(train, timeout=1000).status_code)
    return codes


@pytest.fixture(scope="module")
def enrolled(server: Server, knn: Path) -> dict[str, list[int]]:
    """Two people added from their folders, as an operator would with the old program."""
    people = {"Kit Harington": "kit_harington", "Rose Leslie": "rose_leslie"}
    return {
        person_id: add_user_from_dataset(server.address, knn / "train" / folder, person_id)
        for person_id, folder in people.items()
    }


def test_the_start_up_log_flags_anonymous_access_as_a_risk(server: Server) -> None:
    log = server.log.read_text()
    assert "RISK" in log
    assert "WITHOUT an API key" in " ".join(log.split())


def test_adding_people_from_folders_answers_200_to_every_request(
    enrolled: dict[str, list[int]],
) -> None:
    assert enrolled == {"Kit Harington": [200, 200, 200, 200], "Rose Leslie": [200, 200, 200, 200]}


def test_the_dataset_lists_the_people_added_with_their_photos(
    server: Server, enrolled: dict[str, list[int]]
) -> None:
    response = requests.get(f"http://{server.address}/dataset", timeout=10)
    assert response.status_code == 200
    assert sorted(response.json()["face_ids"], key=lambda f: f["id_name"]) == [
        {"id_name": "kit_harington", "number_of_images": "2"},
        {"id_name": "rose_leslie", "number_of_images": "2"},
    ]


def test_sending_a_folder_of_images_recognises_the_people_added(
    server: Server, enrolled: dict[str, list[int]], knn: Path
) -> None:
    url = f"http://{server.address}/face-recognition/get-results"
    found: dict[str, list[str]] = {}
    for path in sorted((knn / "test").iterdir()):
        with path.open("rb") as image:
            response = requests.post(url, files={"image": image}, timeout=10)
        assert response.status_code == 200, response.text
        found[path.name] = sorted(f["top_prediction"]["label"] for f in response.json()["faces"])
    assert found["kit_with_rose.jpg"] == ["kit_harington", "rose_leslie"]
    assert found["johnsnow_test1.jpg"] == ["kit_harington"]
    assert found["obama1.jpg"] == ["unknown"]
    assert found["obama_and_biden.jpg"] == ["unknown", "unknown", "unknown"]


def face_crops(server: Server, photo: Path) -> list[tuple[str, object]]:
    """Each face of a frame cut out with a 25 % margin and JPEG-encoded by OpenCV, as
    real-time-camera.py does (here from the boxes of get-results, not its own detector)."""
    frame = cv2.imread(str(photo))
    with photo.open("rb") as image:
        faces = requests.post(
            f"http://{server.address}/face-recognition/get-results",
            files={"image": image},
            timeout=10,
        ).json()["faces"]
    crops = []
    for face in faces:
        box = face["bounding_box"]
        x1, y1, x2, y2 = (int(box[k]) for k in ("left", "top", "right", "bottom"))
        y_m, x_m = int((y2 - y1) * 0.25), int((x2 - x1) * 0.25)
        crop = frame[max(y1 - y_m, 0) : y2 + y_m, max(x1 - x_m, 0) : x2 + x_m]
        _, encoded = cv2.imencode(".jpg", crop)
        crops.append((face["top_prediction"]["label"], encoded))
    return crops


def test_face_crops_from_a_camera_are_recognised_above_the_old_minimum_confidence(
    server: Server, enrolled: dict[str, list[int]], knn: Path
) -> None:
    url = f"http://{server.address}/face-recognition/get-results"
    crops = face_crops(server, knn / "test" / "kit_with_rose.jpg")
    assert len(crops) == 2
    for label, encoded in crops:
        # The program posts the numpy array itself; requests sends its bytes.
        response = requests.post(url, files={"image": encoded}, timeout=10)
        assert response.status_code == 200, response.text
        top = response.json()["faces"][0]["top_prediction"]
        assert top["label"] == label
        assert top["confidence"] >= 0.7  # real-time-camera.py's default --min-confidence


def test_stored_detections_give_the_last_known_location(
    server: Server, enrolled: dict[str, list[int]], knn: Path
) -> None:
    with (knn / "test" / "johnsnow_test1.jpg").open("rb") as image:
        stored = requests.post(
            f"http://{server.address}/face-recognition/store-results",
            files={"image": image},
            data={"camera_id": "cam-7", "location_id": "Winterfell gate"},
            timeout=10,
        )
    assert stored.status_code == 200, stored.text
    response = requests.get(
        f"http://{server.address}/database/Kit Harington/last-known-location", timeout=10
    )
    assert response.status_code == 200
    (last,) = response.json()["last_known_location"]
    assert (last["location"], last["detected_by_camera_id"]) == ("Winterfell gate", "cam-7")


def test_sending_a_file_of_any_size_to_the_dry_run_succeeds(server: Server) -> None:
    response = requests.post(
        f"http://{server.address}/face-recognition/dry-run",
        files={"image": os.urandom(5 * 1024 * 1024)},
        timeout=100,
    )
    assert response.status_code == 200, response.text


def test_removing_a_person_leaves_them_unrecognised(
    server: Server, enrolled: dict[str, list[int]], knn: Path
) -> None:
    deleted = requests.delete(f"http://{server.address}/dataset/Rose Leslie", timeout=10)
    with (knn / "test" / "kit_with_rose.jpg").open("rb") as image:
        response = requests.post(
            f"http://{server.address}/face-recognition/get-results",
            files={"image": image},
            timeout=10,
        )
    assert deleted.status_code == 200
    labels = sorted(f["top_prediction"]["label"] for f in response.json()["faces"])
    assert labels == ["kit_harington", "unknown"]

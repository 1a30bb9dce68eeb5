"""The app with the cloud-face-recognition compat routes on, and a server receiving forwards."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from facewatch.config import Settings

EXAMPLES = "face_recognition_examples/examples"
JOHNS = "dlib_faces/johns"


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records each GET it receives."""

    url: str
    queries: list[dict[str, str]] = field(default_factory=list)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            receiver.queries.append(query)
            body = f"added {query.get('id', '?')}".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    return Handler


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """Where send-results forwards faces in these tests."""
    received = Receiver(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(received))
    received.url = f"http://127.0.0.1:{server.server_port}/addPerson"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def settings(
    tmp_path_factory: pytest.TempPathFactory, app_database_url: str | None, receiver: Receiver
) -> Settings:
    """Compat routes on, keys required (anonymous access off), forwards to ``receiver``; on
    SQLite and on PostgreSQL."""
    return Settings(
        data_dir=tmp_path_factory.mktemp("facewatch-compat"),
        database_url=app_database_url,
        max_upload_bytes=3_000_000,
        max_request_bytes=8_000_000,
        max_image_pixels=12_000_000,
        compat_cloud_api=True,
        compat_forward_url=receiver.url,
        # Analysis in the request thread: starts in a second, not one process per core
        # (test_old_client.py runs the real server, worker processes included).
        analysis_workers=0,
    )


def old_id(folder_name: str) -> str:
    """What an old client would send for a folder: 'kit_harington' -> 'Kit Harington'."""
    return folder_name.replace("_", " ").title()


@pytest.fixture(scope="module")
def compat_enrolled(client: TestClient, admin: dict[str, str], knn: Path) -> dict[str, int]:
    """The five knn_examples people added through the old routes: their ID -> photo count."""
    counts: dict[str, int] = {}
    for folder in sorted((knn / "train").iterdir()):
        created = client.post(f"/dataset/{old_id(folder.name)}", headers=admin)
        assert created.status_code == 200, created.text
        photos = sorted(folder.iterdir())
        for photo in photos:
            added = client.post(
                f"/dataset/{old_id(folder.name)}/image",
                files={"image": (photo.name, photo.read_bytes())},
                headers=admin,
            )
            assert added.status_code == 200, added.text
        counts[folder.name] = len(photos)
    return counts


@pytest.fixture(scope="module")
def examples(testdata: Path) -> Path:
    return testdata / EXAMPLES


@pytest.fixture(scope="module")
def johns(testdata: Path) -> Path:
    return testdata / JOHNS


@pytest.fixture(scope="module")
def image_of(knn: Path, examples: Path) -> Callable[[str], dict[str, tuple[str, bytes]]]:
    """The multipart ``image`` field for a knn test photo or an example photo, by file name."""

    def files(name: str) -> dict[str, tuple[str, bytes]]:
        path = knn / "test" / name
        if not path.is_file():
            path = examples / name
        return {"image": (path.name, path.read_bytes())}

    return files

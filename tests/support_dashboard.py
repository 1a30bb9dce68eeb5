"""Helpers of the dashboard tests (importable as ``support_dashboard``): test users, logging
in over httpx, a uvicorn server in a thread, Debian's Chromium, a fake webcam video."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image, ImageOps
from playwright.sync_api import Page, expect

from facewatch.config import Settings
from facewatch.server.infra.runtime import Runtime
from facewatch.server.services import users

KNN = "face_recognition_examples/examples/knn_examples"
PASSWORD = "correct horse battery staple"
ROLES = ("admin", "operator", "viewer")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "dashboard"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The webcam test feeds a video made from a test photo as the camera.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


def dashboard_settings(data_dir: Path) -> Settings:
    """Settings of a test server: its own data dir, small upload limits."""
    return Settings(
        data_dir=data_dir,
        max_upload_bytes=3_000_000,
        max_request_bytes=20_000_000,
        max_image_pixels=12_000_000,
        # Fewer failures before 429 keep the rate-limit test short (argon2 costs ~0.1-1 s).
        login_address_limit=6,
    )


def add_users(runtime: Runtime) -> None:
    """One user per role, named after it, all with ``PASSWORD``."""
    for role in ROLES:
        users.create_user(runtime, role, users.Role(role), PASSWORD)


def form_token(html: str, name: str = "csrf_token") -> str:
    """The value of the first hidden field ``name`` of a page."""
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no {name} field in the page"
    return found.group(1)


def log_in(client: TestClient | httpx.Client, username: str, password: str = PASSWORD) -> str:
    """Log ``client`` in through the form; the session's CSRF token."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": form_token(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    landing = client.get("/")
    found = re.search(r'name="csrf-token" content="([^"]+)"', landing.text)
    assert found, "logged in, but the page has no CSRF token"
    return found.group(1)


# --- a real server and a real browser --------------------------------------------------
class LiveServer:
    """uvicorn serving the app on 127.0.0.1 and a free port, in a background thread."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)

    @property
    def runtime(self) -> Runtime:
        return app_runtime(self.app)

    def start(self, timeout: float = 120.0) -> None:
        """Start and wait until /readyz says the models and gallery are loaded."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._server.started and _ready(self.url):
                return
            if not self._thread.is_alive():
                raise RuntimeError("the test server stopped during start-up")
            time.sleep(0.1)
        raise TimeoutError(f"the test server was not ready within {timeout} s")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def chromium_path() -> str:
    """Debian's Chromium; skips the test without it (fails under CI=true)."""
    path = os.environ.get("FACEWATCH_TEST_CHROMIUM") or shutil.which("chromium") or ""
    if not path or not Path(path).is_file():
        message = "Chromium not found: apt-get install chromium, or set FACEWATCH_TEST_CHROMIUM"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def photo_to_y4m(photo: Path, folder: Path, size: tuple[int, int] = (640, 480)) -> Path:
    """Two identical frames of ``photo`` letterboxed to ``size``, as a 4:2:0 Y4M file."""
    width, height = size
    frame = Image.new("RGB", size)
    picture = ImageOps.exif_transpose(Image.open(photo)).convert("RGB")
    picture.thumbnail(size)
    frame.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    rgb = np.asarray(frame, dtype=np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
    planes = [y] + [c.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)) for c in (u, v)]
    data = b"".join(np.clip(p, 0, 255).round().astype(np.uint8).tobytes() for p in planes)
    path = folder / f"{photo.stem}.y4m"
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + (b"FRAME\n" + data) * 2)
    return path


def app_runtime(app: object) -> Runtime:
    """The runtime the app's lifespan opened."""
    assert isinstance(app, FastAPI)
    runtime: Runtime = app.state.runtime
    return runtime


# --- in the browser (Playwright) ---------------------------------------------------------
def browser_log_in(page: Page, username: str) -> None:
    """Log in through the login page in the browser, as ``username`` (PASSWORD)."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("header .who")).to_contain_text(username)


def screenshot(page: Page, artifacts: Path, name: str) -> None:
    """A full-page screenshot into the test artifacts (git-ignored), named in the log."""
    path = artifacts / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    print(f"screenshot: {path}")


def post_photo(
    server: LiveServer, key: str, photo: Path, camera: str, data: bytes | None = None
) -> list[dict[str, Any]]:
    """Send a photo as a camera would (``POST /api/v1/detections``, no captured_at: the time
    of arrival); the detections stored. ``data``: other bytes under the photo's name."""
    response = httpx.post(
        f"{server.url}/api/v1/detections",
        headers={"Authorization": f"Bearer {key}"},
        files={"image": (photo.name, data or photo.read_bytes(), "image/jpeg")},
        data={"camera_id": camera},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    detections: list[dict[str, Any]] = response.json()["detections"]
    return detections

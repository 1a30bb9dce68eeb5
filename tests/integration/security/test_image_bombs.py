"""Images of shapes no camera makes are refused at once on every upload route, with a 4xx.

A 65535 x 1 PNG of 141 bytes used to pass the pixel limit, be taken for a face crop and be
scaled by 128 to 8.4 M x 128 pixels, growing an analysis worker past 11 GB; a 128 x 128,000
image (16 Mpx) aborted dlib's HOG detector. Each route decodes through
``facewatch.vision.image.decode_image``, which now refuses them from the header.
"""

from __future__ import annotations

import gzip
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from support_security import make_key, runtime_of

FAST = 2.0
"""Seconds a refusal may take (the 4000 x 1 PNG took 11 s and 1.5 GB before)."""

BOMBS = {
    "65535x1": (65535, 1),
    "4000x1": (4000, 1),
    "1x4000": (1, 4000),
    "128x128000": (128, 128000),
    "128000x128": (128000, 128),
}


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class Route:
    """How one upload route takes an image, and where its answer says what became of it."""

    name: str
    send: Callable[[TestClient, dict[str, str], bytes], httpx.Response]
    status: Callable[[httpx.Response], int]


def _whole(response: httpx.Response) -> int:
    return response.status_code


def _first_item(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    status: int = response.json()["results"][0]["status"]
    return status


def _edge_batch(client: TestClient, headers: dict[str, str], data: bytes) -> httpx.Response:
    item = {"kind": "crop", "camera_id": "bomb-cam", "idempotency_key": "bomb", "image": 0}
    manifest = gzip.compress(json.dumps({"items": [item]}).encode())
    files = [("manifest_gz", ("m", manifest, "application/gzip")), ("files", ("f", data))]
    return client.post("/api/v1/edge/batch", files=files, headers=headers)


def _file(field: str, data: bytes) -> dict[str, tuple[str, bytes, str]]:
    return {field: ("bomb.png", data, "image/png")}


ROUTES = [
    Route(
        "recognize",
        lambda c, h, d: c.post("/api/v1/recognize", files=_file("image", d), headers=h),
        _whole,
    ),
    Route(
        "faces",
        lambda c, h, d: c.post("/api/v1/people/1/faces", files=_file("images", d), headers=h),
        _whole,
    ),
    Route(
        "detections",
        lambda c, h, d: c.post(
            "/api/v1/detections", files=_file("image", d), data={"camera_id": "bomb"}, headers=h
        ),
        _whole,
    ),
    Route(
        "search",
        lambda c, h, d: c.post("/api/v1/search", files=_file("image", d), headers=h),
        _whole,
    ),
    Route("edge batch", _edge_batch, _first_item),
    Route(
        "compat get-results",
        lambda c, h, d: c.post("/face-recognition/get-results", files=_file("image", d), headers=h),
        _whole,
    ),
    Route(
        "compat store-results",
        lambda c, h, d: c.post(
            "/face-recognition/store-results",
            files=_file("image", d),
            data={"camera_id": "bomb", "location_id": "here"},
            headers=h,
        ),
        _whole,
    ),
    Route(
        "compat dataset image",
        lambda c, h, d: c.post("/dataset/Bomb/image", files=_file("image", d), headers=h),
        _whole,
    ),
]


@pytest.fixture(scope="module")
def client(app_factory: Callable[..., TestClient]) -> TestClient:
    return app_factory(compat_cloud_api=True, max_image_pixels=40_000_000)


@pytest.fixture(scope="module")
def admin(client: TestClient) -> dict[str, str]:
    headers = make_key(runtime_of(client), "admin")
    assert client.post("/api/v1/people", json={"name": "Bomb"}, headers=headers).is_success
    assert client.post("/dataset/Bomb", headers=headers).status_code < 500
    return headers


@pytest.mark.parametrize("shape", list(BOMBS))
@pytest.mark.parametrize("route", ROUTES, ids=[route.name for route in ROUTES])
def test_an_image_no_camera_makes_is_refused_fast_on_every_upload_route(
    client: TestClient, admin: dict[str, str], route: Route, shape: str
) -> None:
    data = png(*BOMBS[shape])
    started = time.monotonic()

    response = route.send(client, admin, data)

    elapsed = time.monotonic() - started
    assert 400 <= route.status(response) < 500, response.text
    assert "application/json" in response.headers["content-type"]
    assert elapsed < FAST, f"{route.name} took {elapsed:.1f} s"


def test_a_wide_panorama_is_still_analysed(client: TestClient, admin: dict[str, str]) -> None:
    pixels = np.full((400, 6000), 128, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")

    response = client.post(
        "/api/v1/recognize", files=_file("image", buffer.getvalue()), headers=admin
    )

    assert response.status_code == 200, response.text
    assert response.json()["faces"] == []

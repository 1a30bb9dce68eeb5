"""Old events keep the id of the stranger they were about; when that stranger is merged
into another or deleted, their link still leads somewhere that says what happened (real
faces sent by a camera through the API, then merged and deleted from the dashboard)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from support_dashboard import app_runtime

pytestmark = pytest.mark.testdata

ClientAs = Callable[[str], tuple[TestClient, str]]
LFW = Path("lfw_devtrain", "lfw")


@pytest.fixture(scope="module")
def send(app_client: TestClient, testdata: Path) -> Callable[[str], str]:
    """Sends one LFW photo as camera dock-2 would; the stranger it joined."""
    runtime = app_runtime(app_client.app)
    with runtime.uow() as uow:
        uow.cameras.add("dock-2", name="Dock 2")
        _, key = uow.api_keys.create("gone strangers camera", ["ingest"])
        uow.commit()

    def post(photo: str) -> str:
        path = testdata / LFW / photo.rsplit("_", 1)[0] / photo
        response = app_client.post(
            "/api/v1/detections",
            headers={"Authorization": f"Bearer {key}"},
            files={"image": (path.name, path.read_bytes(), "image/jpeg")},
            data={"camera_id": "dock-2"},
        )
        assert response.status_code == 201, response.text
        [detection] = response.json()["detections"]
        assert detection["status"] == "unknown"
        unknown_id: str = detection["unknown_id"]
        return unknown_id

    return post


def event_links(client: TestClient) -> set[str]:
    page = client.get("/?camera=dock-2").text
    return {part.split('"')[0] for part in page.split('href="/strangers/')[1:]}


def test_a_merged_strangers_old_link_leads_to_the_stranger_it_joined(
    client_as: ClientAs, send: Callable[[str], str]
) -> None:
    kept = send("Aaron_Eckhart_0001.jpg")
    merged = send("AJ_Cook_0001.jpg")
    assert kept != merged
    client, csrf = client_as("operator")
    answer = client.post(f"/strangers/{kept}/merge", data={"csrf_token": csrf, "other_id": merged})
    assert answer.status_code == 200
    assert merged in event_links(client), "the live page no longer links the merged stranger"

    followed = client.get(f"/strangers/{merged}", follow_redirects=False)
    assert followed.status_code == 303
    assert followed.headers["location"] == f"/strangers/{kept}"
    page = client.get(f"/strangers/{merged}")
    assert page.status_code == 200
    assert f"Stranger #{merged[8:]} is no longer on its own" in page.text
    assert f"<h1>Stranger #{kept[8:]} " in page.text


def test_a_deleted_strangers_old_link_says_it_is_gone(
    client_as: ClientAs, send: Callable[[str], str]
) -> None:
    poster = send("Aaron_Sorkin_0001.jpg")
    client, csrf = client_as("operator")
    client.post(f"/strangers/{poster}/delete", data={"csrf_token": csrf})
    assert poster in event_links(client)

    page = client.get(f"/strangers/{poster}")
    assert page.status_code == 404
    assert "Stranger not found" in page.text
    assert f"There is no stranger #{poster[8:]}: it was deleted (not a face)" in page.text

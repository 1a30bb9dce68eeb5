"""An event card names its camera and zone as the other pages do ("Loading dock · zone
Yard"), on the live page and when the script fetches one card (a real face sent by a
camera through the API)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from facewatch.server.events.schemas import ZoneCreate
from facewatch.server.services import zones
from facewatch.store.repositories.events import EventFilter
from support_dashboard import app_runtime

pytestmark = pytest.mark.testdata

ClientAs = Callable[[str], tuple[TestClient, str]]


@pytest.fixture(scope="module")
def event_id(app_client: TestClient, testdata: Path) -> str:
    """The event a stranger seen by camera dock-3 ("Loading dock", zone "Yard") raised."""
    runtime = app_runtime(app_client.app)
    with runtime.uow() as uow:
        uow.cameras.add("dock-3", name="Loading dock")
        _, key = uow.api_keys.create("live cards camera", ["ingest"])
        uow.commit()
    zones.create_zone(runtime, ZoneCreate(id="yard", name="Yard", cameras=["dock-3"]))
    photo = testdata / "lfw_devtrain" / "lfw" / "Aaron_Pena" / "Aaron_Pena_0001.jpg"
    response = app_client.post(
        "/api/v1/detections",
        headers={"Authorization": f"Bearer {key}"},
        files={"image": (photo.name, photo.read_bytes(), "image/jpeg")},
        data={"camera_id": "dock-3"},
    )
    assert response.status_code == 201, response.text
    # Events are raised by the event worker after the answer: wait for this one.
    deadline = time.monotonic() + 15
    while True:
        with runtime.uow() as uow:
            records, _ = uow.events.query(EventFilter(camera_ids=["dock-3"]))
        if records or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    [record] = records
    return record.id


def where(html: str) -> str:
    found = re.search(r'<p class="event-where">(.*?)</p>', html, re.S)
    assert found, "no card"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


@pytest.mark.parametrize("path", ["/?camera=dock-3", "/?camera=dock-3&view=timeline"])
def test_a_card_names_its_camera_and_zone(client_as: ClientAs, event_id: str, path: str) -> None:
    client, _ = client_as("viewer")
    page = client.get(path).text
    assert where(page) == "Loading dock · zone Yard"
    assert '<option value="dock-3" selected>Loading dock</option>' in page


def test_a_card_fetched_by_the_script_names_them_too(client_as: ClientAs, event_id: str) -> None:
    client, _ = client_as("viewer")
    assert where(client.get(f"/live/events/{event_id}").text) == "Loading dock · zone Yard"

"""A real browser on the real server: log in, enrol, watch live events, search by photo.

Screenshots of each step go to tests/artifacts/dashboard/.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from facewatch.server.events.schemas import ZoneCreate
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import PersonCreate
from facewatch.server.services import people, zones
from facewatch.server.services.enrollment import Upload, add_faces
from support_dashboard import PASSWORD, LiveServer, screenshot

pytestmark = pytest.mark.testdata

# The colours of dashboard.css: --unknown, --watch, --unauth.
RED, PURPLE, ORANGE = "rgb(198, 40, 40)", "rgb(123, 31, 162)", "rgb(230, 81, 0)"


def log_in(page: Page, username: str) -> None:
    page.goto("/")
    expect(page).to_have_url(f"{_base(page)}/login?next=%2F")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("header .who")).to_contain_text(username)


def ingest(server: LiveServer, key: str, photo: Path, camera: str) -> dict[str, object]:
    """Send a photo as a camera would: POST /api/v1/detections."""
    response = httpx.post(
        f"{server.url}/api/v1/detections",
        headers={"Authorization": f"Bearer {key}"},
        files={"image": (photo.name, photo.read_bytes(), "image/jpeg")},
        data={"camera_id": camera},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_an_operator_enrols_sees_live_events_and_searches_by_photo(
    page: Page, live_server: LiveServer, ingest_key: str, knn: Path, artifacts: Path
) -> None:
    log_in(page, "operator")
    screenshot(page, artifacts, "01-live-empty")

    _create_person(page, "obama")
    page.get_by_label("Photos").set_input_files(sorted((knn / "train" / "obama").iterdir()))
    page.get_by_role("button", name="Enrol").click()
    expect(page.locator(".flash")).to_contain_text("2 photo(s) enrolled")
    expect(page.locator("#templates figure")).to_have_count(2)
    screenshot(page, artifacts, "02-person-enrolled")

    page.get_by_role("link", name="Live").click()
    expect(page.locator("#live-status")).to_have_text("live")
    ingest(live_server, ingest_key, knn / "test" / "obama1.jpg", "gate-1")
    known = page.locator(".event-recognized").first
    expect(known).to_contain_text("obama")
    expect(known).to_contain_text("gate-1")
    expect(known.locator("img.crop")).to_have_js_property("complete", True)

    ingest(live_server, ingest_key, knn / "test" / "alex_lacamoire1.jpg", "gate-1")
    stranger = page.locator(".event-unknown").first
    expect(stranger).to_contain_text("stranger #")
    expect(stranger).to_have_css("border-left-color", RED)
    screenshot(page, artifacts, "03-live-events")

    stranger.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".event-unknown").first).to_contain_text("acknowledged by user:operator")

    page.get_by_role("link", name="Search by photo").click()
    page.get_by_label("Photo").set_input_files(knn / "test" / "obama1.jpg")
    page.get_by_role("button", name="Search").click()
    results = page.locator("#results")
    expect(results.locator("h2")).to_contain_text("obama")
    expect(results.locator("table.sightings")).to_contain_text("gate-1")
    screenshot(page, artifacts, "04-search-by-photo")


def test_watchlist_and_unauthorised_events_stand_out(
    page: Page, live_server: LiveServer, ingest_key: str, knn: Path, artifacts: Path
) -> None:
    runtime = live_server.runtime
    _enrol(runtime, "rose_leslie", "watchlist", knn / "train" / "rose_leslie" / "img1.jpg")
    _enrol(runtime, "kit_harington", "authorized", knn / "train" / "kit_harington" / "john1.jpeg")
    with runtime.uow() as uow:
        uow.cameras.add("vault-door", name="Vault door")
        uow.commit()
    zones.create_zone(
        runtime, ZoneCreate(id="vault", name="Vault", restricted=True, cameras=["vault-door"])
    )
    log_in(page, "operator")
    expect(page.locator("#live-status")).to_have_text("live")

    ingest(live_server, ingest_key, knn / "train" / "rose_leslie" / "img2.jpg", "gate-3")
    watchlist = page.locator(".event-watchlist").first
    expect(watchlist).to_contain_text("WATCHLIST")
    expect(watchlist).to_contain_text("rose_leslie")
    expect(watchlist).to_have_css("border-left-color", PURPLE)

    ingest(live_server, ingest_key, knn / "test" / "johnsnow_test1.jpg", "vault-door")
    unauthorised = page.locator(".event-unauthorized").first
    expect(unauthorised).to_contain_text("UNAUTHORISED")
    expect(unauthorised).to_contain_text("kit_harington")
    expect(unauthorised).to_contain_text("zone Vault")  # zones by name, as on every page
    expect(unauthorised).to_have_css("border-left-color", ORANGE)
    screenshot(page, artifacts, "05-live-alerts")


def test_an_admin_enrols_a_person_from_the_webcam(page: Page, artifacts: Path) -> None:
    log_in(page, "admin")
    _create_person(page, "biden")
    page.get_by_role("button", name="Use the webcam").click()
    video = page.locator("[data-webcam-video]")
    expect(video).to_be_visible()
    expect(video).to_have_js_property("readyState", 4)  # HAVE_ENOUGH_DATA: frames arrive
    page.get_by_role("button", name="Take photo").click()
    expect(page.locator("[data-webcam-shots] img")).to_have_count(1)
    screenshot(page, artifacts, "06-webcam")
    page.get_by_role("button", name="Enrol").click()
    expect(page.locator(".flash")).to_contain_text("1 photo(s) enrolled")
    expect(page.locator("#templates figure")).to_have_count(1)


def test_an_admin_reviews_detections_cameras_zones_and_settings(
    page: Page, live_server: LiveServer, ingest_key: str, knn: Path, artifacts: Path
) -> None:
    ingest(live_server, ingest_key, knn / "test" / "obama1.jpg", "lobby-4")
    log_in(page, "admin")
    page.get_by_role("link", name="Detections").click()
    page.get_by_label("Camera").select_option("lobby-4")
    page.get_by_role("button", name="Search").click()
    tiles = page.locator("#detections figure")
    expect(tiles).not_to_have_count(0)
    expect(tiles.first.locator("img.crop")).to_have_js_property("complete", True)
    screenshot(page, artifacts, "08-detections")

    page.get_by_role("link", name="Cameras & zones").click()
    expect(page.locator("#cameras")).to_contain_text("lobby-4")
    screenshot(page, artifacts, "09-cameras-and-zones")

    page.get_by_role("link", name="Settings").click()
    thresholds = page.locator("#thresholds")
    expect(thresholds).to_contain_text("match_threshold")
    recognition = live_server.runtime.recognition
    expect(thresholds).to_contain_text(str(recognition.match_threshold))
    expect(thresholds).to_contain_text("margin_cap")
    expect(page.locator("#face-model")).to_contain_text(live_server.runtime.serving_model)
    screenshot(page, artifacts, "10-settings")


def test_a_viewer_sees_the_feed_without_any_buttons_that_change_it(
    page: Page, live_server: LiveServer, ingest_key: str, knn: Path, artifacts: Path
) -> None:
    ingest(live_server, ingest_key, knn / "test" / "alex_lacamoire1.jpg", "hall-2")
    log_in(page, "viewer")
    expect(page.locator(".event").first).to_be_visible()
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    page.get_by_role("link", name="People").click()
    expect(page.get_by_text("Add a person")).to_have_count(0)
    screenshot(page, artifacts, "07-viewer-people")


def _create_person(page: Page, name: str) -> None:
    page.get_by_role("link", name="People").click()
    add = page.locator("details", has=page.get_by_text("Add a person"))
    add.evaluate("details => { details.open = true; }")  # open already when nobody is enrolled
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create").click()
    expect(page.locator("h1")).to_contain_text(name)


def _enrol(runtime: Runtime, name: str, category: str, photo: Path) -> None:
    """Enrol through the services: the set-up of a test about something else."""
    person = people.create_person(runtime, PersonCreate(name=name, category=category))
    added = add_faces(runtime, person.id, [Upload(photo.name, photo.read_bytes())])
    assert added.accepted, added.rejected


def _base(page: Page) -> str:
    return page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2]

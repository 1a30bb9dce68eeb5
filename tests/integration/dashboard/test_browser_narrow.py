"""Every page on a phone (390 px wide) in a real browser: nothing wider than the screen, so
that the page never scrolls sideways (wide tables scroll inside their panel), and no error
in the browser's console.

Screenshots go to tests/artifacts/dashboard/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from facewatch.server.events.schemas import ZoneCreate
from facewatch.server.schemas import PersonCreate
from facewatch.server.services import people, zones
from facewatch.server.services.enrollment import Upload, add_faces
from support_dashboard import PASSWORD, LiveServer

pytestmark = pytest.mark.testdata

PHONE = {"width": 390, "height": 844}
PAGES = [
    "/",
    "/?view=timeline",
    "/presence",
    "/people",
    "/strangers",
    "/detections",
    "/reports",
    "/search",
    "/cameras",
    "/settings",
    "/audit",
    "/webhooks",
]


@pytest.fixture(scope="module")
def busy_site(live_server: LiveServer, knn: Path, testdata: Path) -> list[str]:
    """Obama enrolled, a restricted lab and its camera, and two faces sent by the camera
    (obama, not authorised there, and a stranger): the pages have rows and cards to show.
    The pages of the person, the stranger and the events are returned."""
    runtime = live_server.runtime
    person = people.create_person(runtime, PersonCreate(name="obama"))
    photos = sorted((knn / "train" / "obama").iterdir())
    add_faces(runtime, person.id, [Upload(p.name, p.read_bytes()) for p in photos])
    with runtime.uow() as uow:
        uow.cameras.add("lab-door", name="Lab door", location="Building B, second floor")
        _, key = uow.api_keys.create("narrow test camera", ["ingest"])
        uow.commit()
    zones.create_zone(runtime, ZoneCreate(id="lab", name="Lab", cameras=["lab-door"]))
    stranger = testdata / "lfw_devtrain" / "lfw" / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg"
    pages = [f"/people/{person.id}"]
    for photo in (knn / "test" / "obama1.jpg", stranger):
        response = httpx.post(
            f"{live_server.url}/api/v1/detections",
            headers={"Authorization": f"Bearer {key}"},
            files={"image": (photo.name, photo.read_bytes(), "image/jpeg")},
            data={"camera_id": "lab-door"},
            timeout=60,
        )
        assert response.status_code == 201, response.text
        [detection] = response.json()["detections"]
        if detection["unknown_id"]:
            pages.append(f"/strangers/{detection['unknown_id']}")
    return pages


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def test_no_page_is_wider_than_a_phone_or_logs_an_error(
    phone: Page, busy_site: list[str], artifacts: Path
) -> None:
    errors: list[str] = []
    phone.on("console", lambda m: _keep_error(m, errors, phone.url))
    phone.on("pageerror", lambda e: errors.append(f"{phone.url}: {e}"))
    phone.goto("/login")
    phone.get_by_label("Username").fill("admin")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    expect(phone.locator("header .who")).to_contain_text("admin")
    event_pages = phone.eval_on_selector_all(
        "a.event-link", "links => links.map(a => a.getAttribute('href'))"
    )
    assert event_pages, "the live page shows no event"
    too_wide = {}
    for path in [*PAGES, *busy_site, *event_pages[:2]]:
        phone.goto(path)
        phone.wait_for_load_state("networkidle")
        width = phone.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[path] = width
    phone.goto("/cameras")
    phone.screenshot(path=artifacts / "narrow-cameras.png", full_page=True)
    phone.goto("/")
    phone.screenshot(path=artifacts / "narrow-live.png", full_page=True)
    assert too_wide == {}, "pages wider than the phone's 390 px (scrolling sideways)"
    assert errors == []


def _keep_error(message: ConsoleMessage, errors: list[str], url: str) -> None:
    if message.type == "error":
        errors.append(f"{url}: {message.text}")

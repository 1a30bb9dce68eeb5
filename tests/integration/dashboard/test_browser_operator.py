"""A real browser on the operator's pages: who is where now, updated live; severity on the
live page and an event's detail; an enrolment photo deleted one by one, photos shown cut to
the face, a partial enrolment shown as a warning.

Screenshots go to tests/artifacts/dashboard/.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image
from playwright.sync_api import Dialog, Page, expect

from facewatch.server.events.schemas import ZoneCreate
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import PersonCreate
from facewatch.server.services import people, zones
from facewatch.server.services.enrollment import Upload, add_faces
from support_dashboard import LiveServer, browser_log_in, post_photo, screenshot

pytestmark = pytest.mark.testdata

Detection = dict[str, Any]


@pytest.fixture(scope="module")
def obama(live_server: LiveServer, knn: Path) -> int:
    """Obama enrolled from his two training photos (through the services: set-up)."""
    return enrol(live_server.runtime, "obama", sorted((knn / "train" / "obama").iterdir()))


@pytest.fixture(scope="module")
def lab(live_server: LiveServer, obama: int) -> str:
    """A restricted zone "Lab" with camera lab-door, where only obama may be."""
    runtime = live_server.runtime
    with runtime.uow() as uow:
        uow.cameras.add("lab-door", name="Lab door")
        uow.commit()
    body = ZoneCreate(id="lab", name="Lab", restricted=True, cameras=["lab-door"], people=[obama])
    return zones.create_zone(runtime, body).id


def enrol(runtime: Runtime, name: str, photos: list[Path]) -> int:
    person = people.create_person(runtime, PersonCreate(name=name))
    added = add_faces(runtime, person.id, [Upload(p.name, p.read_bytes()) for p in photos])
    assert len(added.accepted) == len(photos), added.rejected
    return person.id


def with_exif_date(photo: Path) -> bytes:
    """The photo as a camera with a wrong clock sends it: EXIF says 2019-03-01."""
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2019:03:01 08:00:00"
    buffer = io.BytesIO()
    Image.open(photo).convert("RGB").save(buffer, "JPEG", quality=92, exif=exif)
    return buffer.getvalue()


def test_the_presence_board_shows_who_is_in_each_zone_and_updates_live(
    page: Page, live_server: LiveServer, ingest_key: str, knn: Path, lab: str, artifacts: Path
) -> None:
    ingest(live_server, ingest_key, knn / "test" / "obama1.jpg", "lab-door")
    browser_log_in(page, "viewer")
    page.get_by_role("link", name="Who is where").click()
    expect(page.locator("#live-status")).to_have_text("live")
    zone = page.locator(f"#presence-zone-{lab}")
    expect(zone.locator("h2")).to_contain_text("restricted")
    expect(page.locator(".presence-zone").first).to_have_id(f"presence-zone-{lab}")
    at_door = zone.locator("#presence-camera-lab-door")
    obama = at_door.locator(".presence-person", has_text="obama")
    expect(obama).to_be_visible()
    expect(obama.locator(".presence-violation")).to_have_count(0)  # obama may be in the lab

    stranger = ingest(live_server, ingest_key, knn / "test" / "alex_lacamoire1.jpg", "lab-door")
    arrived = at_door.locator(f'.presence-person[data-unknown-id="{stranger["unknown_id"]}"]')
    expect(arrived).to_be_visible()  # no reload: the event stream brought it
    expect(arrived).to_have_class(re.compile(r"\bviolation\b"))
    expect(arrived).to_contain_text("stranger in a restricted zone")
    expect(arrived.locator("img.crop")).to_have_js_property("complete", True)
    expect(zone.locator("h2")).to_contain_text("1 alert")
    screenshot(page, artifacts, "30-presence")


def test_a_restricted_zone_stranger_stands_out_and_a_routine_recognition_asks_nothing(
    page: Page, live_server: LiveServer, ingest_key: str, knn: Path, lab: str, artifacts: Path
) -> None:
    browser_log_in(page, "operator")
    expect(page.locator("#live-status")).to_have_text("live")
    stranger = ingest(
        live_server, ingest_key, knn / "train" / "rose_leslie" / "img1.jpg", "lab-door"
    )
    alert = page.locator('.event[data-event-type="person.unknown"]:has-text("Lab door")').first
    expect(alert).to_have_class(re.compile(r"\bseverity-critical\b"))
    expect(alert.locator(".severity-badge")).to_have_text("critical")
    expect(alert.get_by_role("button", name="Acknowledge")).to_be_visible()

    photo = knn / "test" / "obama1.jpg"
    before = datetime.now(UTC)
    seen = ingest(live_server, ingest_key, photo, "front-desk", with_exif_date(photo))
    assert datetime.fromisoformat(seen["captured_at"]) >= before  # arrival, not the EXIF date
    routine = page.locator(".event-recognized", has_text="front-desk").first
    expect(routine).to_contain_text("obama")
    expect(routine.locator(".severity-badge")).to_have_text("info")
    expect(routine.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(routine.locator(".event-when")).to_contain_text(f"captured {before:%Y-%m-%d}")
    screenshot(page, artifacts, "31-live-severity")

    page.get_by_role("link", name="Compact timeline").click()
    expect(page.locator("#feed")).to_have_class(re.compile(r"\btimeline-view\b"))
    expect(page.locator(".event").first).to_be_visible()
    screenshot(page, artifacts, "32-live-timeline")

    page.locator(".event-recognized", has_text="front-desk").first.locator(".event-link").click()
    expect(page).to_have_url(re.compile(r"/events/[0-9a-f-]{36}$"))
    expect(page.locator("#event-rule")).to_contain_text("routine")
    named = page.locator("#candidates tr.named")
    expect(named).to_contain_text("obama")
    expect(named.locator("td.distance")).to_have_text(f"{seen['distance']:.3f}")
    expect(page.locator("#event-facts")).to_contain_text("front-desk")
    expect(page.locator("#event-facts")).to_contain_text("routine: nothing to acknowledge")
    screenshot(page, artifacts, "33-event-detail")

    page.goto("/?open_only=true")
    expect(page.locator(".event.severity-info")).to_have_count(0)
    expect(
        page.locator('.event[data-event-type="person.unknown"]:has-text("Lab door")')
    ).not_to_have_count(0)
    assert stranger["unknown_id"]


def test_one_enrolment_photo_is_deleted_and_the_person_stays(
    page: Page, live_server: LiveServer, knn: Path, artifacts: Path
) -> None:
    photos = sorted((knn / "train" / "biden").iterdir())
    biden = enrol(live_server.runtime, "biden", photos)
    browser_log_in(page, "operator")
    page.goto(f"/people/{biden}")
    tiles = page.locator("#templates figure")
    expect(tiles).to_have_count(2)
    first = tiles.first.locator("img.crop")
    expect(first).to_have_js_property("complete", True)
    width, height = first.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    photo = Image.open(photos[0]).size
    assert 0 < width * height < photo[0] * photo[1] / 4, "the tile shows the face, not the photo"
    screenshot(page, artifacts, "34-person-photos")

    doomed = int(tiles.first.get_attribute("id").removeprefix("template-"))  # type: ignore[union-attr]
    dialogs: list[str] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    tiles.first.get_by_role("button", name="Delete photo").click()
    expect(page.locator(".flash")).to_contain_text("Photo deleted")
    expect(page.locator(".flash")).to_contain_text("biden has 1 left")
    assert "stays enrolled" in dialogs[0]
    expect(page.locator("h1")).to_contain_text("biden")
    expect(tiles).to_have_count(1)
    left = [t.id for t in people.list_faces(live_server.runtime, biden)]
    assert len(left) == 1
    assert doomed not in left


def test_a_whole_enrolment_photo_opens_with_an_image_policy_and_no_console_error(
    page: Page, live_server: LiveServer, knn: Path
) -> None:
    photo = sorted((knn / "train" / "alex_lacamoire").iterdir())[0]
    alex = enrol(live_server.runtime, "alex_lacamoire", [photo])
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    browser_log_in(page, "viewer")
    person_page = page.goto(f"/people/{alex}")
    assert person_page is not None
    assert "style-src 'self'" in person_page.headers["content-security-policy"]

    whole = page.locator("#templates figure a[title='the whole photo']").first
    with page.expect_navigation() as opened:
        whole.click()
    expect(page.locator("img")).to_have_js_property("complete", True)
    page.wait_for_timeout(300)  # the viewer's styles are applied (or refused) just after load
    assert errors == []
    response = opened.value
    assert response is not None
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-security-policy"] == (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    )


def test_a_partial_enrolment_is_a_warning_not_a_success(
    page: Page, live_server: LiveServer, knn: Path, artifacts: Path
) -> None:
    kit = people.create_person(live_server.runtime, PersonCreate(name="kit_harington")).id
    browser_log_in(page, "operator")
    page.goto(f"/people/{kit}")
    good = knn / "train" / "kit_harington" / "john1.jpeg"
    group = knn / "test" / "obama_and_biden.jpg"
    page.get_by_label("Photos").set_input_files([good, group])
    page.get_by_role("button", name="Enrol").click()
    flash = page.locator(".flash")
    expect(flash).to_contain_text("1 photo(s) enrolled, 1 refused")
    expect(flash).to_have_class(re.compile(r"\bflash-warning\b"))
    expect(flash).to_have_css("background-color", "rgb(255, 244, 229)")
    expect(page.locator("#templates figure")).to_have_count(1)
    screenshot(page, artifacts, "35-partial-enrolment")


def ingest(
    server: LiveServer, key: str, photo: Path, camera: str, data: bytes | None = None
) -> Detection:
    """A photo with one face sent as a camera would; its one detection."""
    [detection] = post_photo(server, key, photo, camera, data)
    return detection

"""A real browser on the strangers' pages: a stranger ingested through the API is found,
named and then recognised; two strangers merged and split again; search by photo for every
face of a group photo; "Wrong person" on a recognised event, and undoing it.

Screenshots go to tests/artifacts/dashboard/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from facewatch.server.schemas import CameraCreate, DetectionOut, PersonCreate
from facewatch.server.services import cameras, people, unknowns
from facewatch.server.services.detections import detection_out
from facewatch.server.services.enrollment import Upload, add_faces
from support_dashboard import LiveServer, browser_log_in, post_photo, screenshot

pytestmark = pytest.mark.testdata

QUEUE_PHOTO = "2008_001322.jpg"  # three faces of nobody enrolled
Detection = dict[str, Any]


@pytest.fixture(scope="module")
def obama(live_server: LiveServer, knn: Path) -> int:
    """Obama enrolled from his two training photos (through the services: set-up)."""
    runtime = live_server.runtime
    person = people.create_person(runtime, PersonCreate(name="obama"))
    photos = sorted((knn / "train" / "obama").iterdir())
    added = add_faces(runtime, person.id, [Upload(p.name, p.read_bytes()) for p in photos])
    assert added.accepted, added.rejected
    return person.id


@pytest.fixture(scope="module")
def group_photo(live_server: LiveServer, ingest_key: str, knn: Path, obama: int) -> list[Detection]:
    """obama_and_biden.jpg seen by gate-1: obama is recognised, biden is a stranger."""
    return post_photo(live_server, ingest_key, knn / "test" / "obama_and_biden.jpg", "gate-1")


def largest_stranger(detections: list[Detection]) -> str:
    """The unknown id of the largest unknown face (biden in the group photo)."""
    unknown = [d for d in detections if d["unknown_id"]]
    face = max(unknown, key=lambda d: (d["box"][2] - d["box"][0]) * (d["box"][3] - d["box"][1]))
    unknown_id: str = face["unknown_id"]
    return unknown_id


def runtime_detection(server: LiveServer, detection_id: int) -> DetectionOut:
    with server.runtime.uow() as uow:
        return detection_out(uow.detections.get(detection_id))


def shows_the_correction(where: Locator, moved_to: str) -> None:
    """After "Wrong person": "not obama: stranger #...", and no button to say it again."""
    expect(where.locator(".correction").first).to_contain_text("not obama")
    expect(where).to_contain_text(f"stranger {short(moved_to)}")
    expect(where.get_by_role("button", name="Wrong person")).to_have_count(0)


def short(unknown_id: str) -> str:
    return unknown_id.replace("unknown-", "#")


def test_search_by_photo_lists_every_face_of_a_group_photo_with_its_sightings(
    page: Page, group_photo: list[Detection], knn: Path, artifacts: Path
) -> None:
    biden = largest_stranger(group_photo)
    browser_log_in(page, "viewer")
    page.get_by_role("link", name="Search by photo").click()
    page.get_by_label("Photo").set_input_files(knn / "test" / "obama_and_biden.jpg")
    page.get_by_role("button", name="Search").click()
    faces = page.locator("#results .face-result")
    expect(faces).to_have_count(len(group_photo))
    for n in range(len(group_photo)):  # each face was seen: the photo itself, at gate-1
        expect(faces.nth(n).locator("table.sightings")).to_contain_text("gate-1")
    obama_face = faces.filter(has=page.locator("h2", has_text="obama"))
    expect(obama_face).to_have_count(1)
    biden_face = faces.filter(has=page.locator(f'a[href="/strangers/{biden}"]'))
    expect(biden_face).to_have_count(1)
    expect(biden_face.locator("h2")).to_contain_text("Unknown")
    expect(biden_face.locator("table.lookalikes")).to_contain_text(short(biden))
    screenshot(page, artifacts, "21-search-every-face")


def test_a_stranger_is_named_from_the_strangers_page_and_then_recognised(
    page: Page,
    live_server: LiveServer,
    ingest_key: str,
    group_photo: list[Detection],
    knn: Path,
    artifacts: Path,
) -> None:
    biden = largest_stranger(group_photo)
    browser_log_in(page, "operator")
    page.get_by_role("link", name="Strangers").click()
    card = page.locator(f"#card-{biden}")
    expect(card).to_contain_text("1 sighting")
    expect(card).to_contain_text("gate-1")
    expect(card.locator("img.crop")).to_have_js_property("complete", True)
    page.keyboard.press("j")  # the keys move between cards
    expect(page.locator(".stranger-card").first).to_be_focused()
    screenshot(page, artifacts, "20-strangers")

    card.focus()
    page.keyboard.press("n")  # open it, ready to name
    expect(page).to_have_url(re.compile(f"/strangers/{biden}\\?.*#name$"))
    expect(page.locator("#name-input")).to_be_focused()
    expect(page.locator("#timeline")).to_contain_text("gate-1")
    screenshot(page, artifacts, "22-stranger")
    page.keyboard.type("biden")
    page.get_by_role("button", name="Name", exact=True).click()
    expect(page.locator(".flash")).to_contain_text(f"Stranger {short(biden)} is now biden")
    expect(page.locator(".flash")).to_contain_text("1 of their faces became templates")
    expect(page.locator(f"#card-{biden}")).to_have_count(0)

    page.get_by_role("link", name="Live").click()
    expect(page.locator("#live-status")).to_have_text("live")
    [later] = post_photo(live_server, ingest_key, knn / "train" / "biden" / "biden.jpg", "lobby-2")
    assert later["name"] == "biden", later
    expect(page.locator(".event-recognized").first).to_contain_text("biden")


def test_the_keyboard_queue_resumes_at_the_card_after_back_and_after_naming(
    page: Page, live_server: LiveServer, ingest_key: str, testdata: Path
) -> None:
    crowd = post_photo(live_server, ingest_key, testdata / "dlib_faces" / QUEUE_PHOTO, "queue-1")
    assert len({d["unknown_id"] for d in crowd}) == 3, crowd  # three strangers, no one else
    browser_log_in(page, "operator")
    page.goto("/strangers?camera=queue-1")
    cards = page.locator(".stranger-card")
    expect(cards).to_have_count(3)
    first, second, third = (cards.nth(n).get_attribute("id") for n in range(3))
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(cards.nth(1)).to_be_focused()
    page.keyboard.press("o")
    expect(page.locator("#timeline")).to_contain_text("queue-1")

    page.go_back()  # the operator is where they were: j goes on to the third card
    expect(page.locator(f"#{second}")).to_be_focused()
    page.keyboard.press("j")
    expect(page.locator(f"#{third}")).to_be_focused()

    page.locator(f"#{second}").focus()
    page.keyboard.press("n")
    expect(page.locator("#name-input")).to_be_focused()
    page.keyboard.type("queued_kit")
    page.get_by_role("button", name="Name", exact=True).click()
    expect(page.locator(".flash")).to_contain_text("is now queued_kit")
    kit = people.find_person(live_server.runtime, "queued_kit")
    assert kit is not None
    to_kit = page.locator(".flash a.flash-link")
    expect(to_kit).to_have_attribute("href", f"/people/{kit.id}")
    expect(to_kit).to_have_text("Open queued_kit's page")
    expect(page).to_have_url(re.compile(rf"/strangers\?camera=queue-1#{third}$"))
    expect(page.locator(f"#{third}")).to_be_focused()  # the next stranger, not the top
    expect(cards).to_have_count(2)
    page.keyboard.press("k")
    expect(page.locator(f"#{first}")).to_be_focused()


def test_a_stranger_is_called_a_stranger_on_every_page_and_filters_show_names(
    page: Page, live_server: LiveServer, ingest_key: str, testdata: Path
) -> None:
    cameras.create_camera(live_server.runtime, CameraCreate(id="porch-4", name="Front porch"))
    photo = testdata / "face_recognition_examples" / "examples" / "lin-manuel-miranda.png"
    [face] = post_photo(live_server, ingest_key, photo, "porch-4")
    said = f"stranger {short(face['unknown_id'])}"
    browser_log_in(page, "viewer")
    page.goto("/?camera=porch-4")
    card = page.locator(".event-unknown").first
    expect(card.locator(".event-label")).to_contain_text("Stranger")
    expect(card.locator(".event-who")).to_have_text(said)
    legend = page.locator(".legend .legend-item").all_inner_texts()
    types = page.get_by_label("Event type").locator("option").all_inner_texts()
    assert types == ["every type", *legend], types
    card.locator("a.event-link").click()
    expect(page.locator("#event-facts")).to_contain_text(said)
    expect(page.locator("h1")).to_contain_text("Stranger")
    page.goto("/presence")
    expect(page.locator("main")).to_contain_text(said)
    page.goto("/detections?camera=porch-4")
    expect(page.locator("#detections figure")).to_contain_text(said)
    page.goto("/strangers")
    porch = page.get_by_label("Camera").locator("option[value='porch-4']")
    expect(porch).to_have_text("Front porch")


def test_two_strangers_are_merged_into_one_and_split_again(
    page: Page, live_server: LiveServer, ingest_key: str, knn: Path, artifacts: Path
) -> None:
    [alex] = post_photo(live_server, ingest_key, knn / "test" / "alex_lacamoire1.jpg", "hall-2")
    [again] = post_photo(
        live_server, ingest_key, knn / "train" / "kit_harington" / "john1.jpeg", "hall-3"
    )
    assert alex["unknown_id"] != again["unknown_id"]
    browser_log_in(page, "operator")
    page.goto(f"/strangers/{alex['unknown_id']}")
    page.get_by_label("The same person as").select_option(again["unknown_id"])
    page.get_by_role("button", name=re.compile("^Merge into")).click()
    flash = page.locator(".flash")
    expect(flash).to_contain_text(f"{short(again['unknown_id'])} merged into")
    expect(flash).to_contain_text("2 sighting(s) now")
    expect(page.locator("#timeline .sighting")).to_have_count(2)
    expect(page.locator("#timeline")).to_contain_text("hall-3")
    page.goto("/strangers?camera=hall-3")
    expect(page.locator(".stranger-card")).to_have_count(1)
    expect(page.locator(f"#card-{alex['unknown_id']}")).to_contain_text("hall-2, hall-3")

    page.goto(f"/strangers/{alex['unknown_id']}")  # kit was not alex after all: split him out
    page.locator(f"#sighting-{again['id']}").focus()
    page.keyboard.press("x")
    expect(page.locator(f"#sighting-{again['id']} input[type=checkbox]")).to_be_checked()
    page.get_by_role("button", name="Move the ticked sightings to a new stranger").click()
    expect(page.locator(".flash")).to_contain_text("1 sighting(s) moved to a new stranger")
    expect(page.locator("#timeline")).to_contain_text("hall-3")
    expect(page.locator("#timeline")).not_to_contain_text("hall-2")


def test_wrong_person_on_a_recognised_event_unnames_the_face_and_an_admin_can_undo_it(
    page: Page,
    live_server: LiveServer,
    ingest_key: str,
    obama: int,
    knn: Path,
    artifacts: Path,
) -> None:
    photo = knn / "test" / "obama1.jpg"
    browser_log_in(page, "operator")
    expect(page.locator("#live-status")).to_have_text("live")
    [named] = post_photo(live_server, ingest_key, photo, "door-9")
    assert named["person_id"] == obama
    card = page.locator(".event-recognized", has_text="door-9").first
    expect(card).to_contain_text("obama")
    card.get_by_role("button", name="Wrong person").click()
    flash = page.locator(".flash")
    expect(flash).to_contain_text(f"Detection {named['id']} is not obama")
    expect(flash).to_contain_text("it now belongs to stranger #")
    moved_to = runtime_detection(live_server, named["id"]).unknown_id
    assert moved_to is not None
    shows_the_correction(page.locator(".event-recognized", has_text="door-9").first, moved_to)
    screenshot(page, artifacts, "23-wrong-person")
    page.locator(".event-recognized", has_text="door-9").first.locator("a.event-link").click()
    shows_the_correction(page.locator("#event-detail"), moved_to)
    expect(page.get_by_role("button", name="Wrong person")).to_have_count(0)
    page.goto("/detections?camera=door-9")
    shows_the_correction(page.locator("#detections figure").first, moved_to)

    token = page.locator("input[name=csrf_token]").first.input_value()
    form = {"csrf_token": token, "person_id": str(obama), "next": "/"}
    # a second click (a page not reloaded, a double click): nothing changes, and it says so
    page.request.post(f"/detections/{named['id']}/wrong-person", form=form, max_redirects=0)
    page.goto("/")
    expect(flash).to_contain_text(f"Detection {named['id']} was already marked not obama")
    assert len(unknowns.person_corrections(live_server.runtime, obama)) == 1
    assert runtime_detection(live_server, named["id"]).unknown_id == moved_to

    [again] = post_photo(live_server, ingest_key, photo, "door-9")
    assert again["person_id"] is None
    assert again["status"] == "unknown"
    expect(page.locator(".event-unknown", has_text="door-9").first).to_be_visible()

    page.context.clear_cookies()
    browser_log_in(page, "admin")
    page.goto(f"/people/{obama}")
    corrections = page.locator("#corrections figure")
    expect(corrections).to_have_count(1)
    expect(corrections).to_contain_text(f"detection {named['id']}")
    screenshot(page, artifacts, "24-corrections")
    corrections.get_by_role("button", name="Undo").click()
    expect(page.locator(".flash")).to_contain_text("Correction undone")
    expect(page.locator("#corrections figure")).to_have_count(0)
    [undone] = post_photo(live_server, ingest_key, photo, "door-9")
    assert undone["person_id"] == obama

"""The operator's pages over httpx with real faces: enrolment photos cut to the face and
deleted one by one (and who may), enrolment outcomes as success, warning or error, the
presence board and an event's page, the live page's open alerts, and the audit page."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from facewatch.server.infra.runtime import Runtime
from facewatch.server.services import events, people

pytestmark = pytest.mark.testdata

ClientAs = Callable[[str], tuple[TestClient, str]]
FLASH = re.compile(r'<div class="flash (flash-\w+)"')


@pytest.fixture(scope="module")
def biden(client_as: ClientAs, knn: Path) -> int:
    """biden enrolled from his two training photos through the forms."""
    return create_and_enrol(client_as, "biden", sorted((knn / "train" / "biden").iterdir()))[0]


def create_and_enrol(client_as: ClientAs, name: str, photos: list[Path]) -> tuple[int, str]:
    """A new person enrolled with ``photos``: their id and the page the form led to."""
    client, csrf = client_as("operator")
    created = client.post("/people", data={"name": name, "csrf_token": csrf})
    person_id = int(created.url.path.rsplit("/", 1)[1])
    files = [("photos", (p.name, p.read_bytes(), "image/jpeg")) for p in photos]
    enrolled = client.post(f"/people/{person_id}/photos", data={"csrf_token": csrf}, files=files)
    return person_id, enrolled.text


def template_ids(html: str) -> list[int]:
    return [int(t) for t in re.findall(r'id="template-(\d+)"', html)]


@pytest.mark.parametrize(
    ("name", "photos", "flash", "says"),
    [
        ("rose_leslie", ["train/rose_leslie/img1.jpg"], "flash-ok", "1 photo(s) enrolled, 0"),
        (
            "kit_harington",
            ["train/kit_harington/john1.jpeg", "test/obama_and_biden.jpg"],
            "flash-warning",
            "1 photo(s) enrolled, 1 refused",
        ),
        ("nobody", ["test/obama_and_biden.jpg"], "flash-error", "0 photo(s) enrolled, 1 refused"),
    ],
)
def test_an_enrolment_says_success_warning_or_error_by_what_was_refused(
    client_as: ClientAs, knn: Path, name: str, photos: list[str], flash: str, says: str
) -> None:
    _, page = create_and_enrol(client_as, name, [knn / p for p in photos])
    assert FLASH.findall(page) == [flash]
    assert says in page


def test_an_enrolment_photo_is_shown_cut_to_its_face(
    client_as: ClientAs, biden: int, runtime: Runtime
) -> None:
    client, _ = client_as("viewer")
    [first, _second] = people.list_faces(runtime, biden)
    face = client.get(f"/media/people/{biden}/faces/{first.id}")
    assert face.status_code == 200
    assert face.headers["content-type"] == "image/jpeg"
    assert "private" in face.headers["cache-control"]
    width, height = Image.open(io.BytesIO(face.content)).size
    left, top, right, bottom = first.box
    assert (right - left) <= width <= 1.7 * (right - left)  # the box and 30% on each side
    assert (bottom - top) <= height <= 1.7 * (bottom - top)
    assert f'src="/media/people/{biden}/faces/{first.id}"' in client.get(f"/people/{biden}").text


def test_the_face_of_another_persons_template_is_a_404(
    client_as: ClientAs, biden: int, runtime: Runtime
) -> None:
    client, _ = client_as("viewer")
    template = people.list_faces(runtime, biden)[0].id
    assert client.get(f"/media/people/{biden + 1000}/faces/{template}").status_code == 404


def test_deleting_an_enrolment_photo_needs_the_form_token_and_the_enrol_right(
    client_as: ClientAs, knn: Path, runtime: Runtime
) -> None:
    photos = sorted((knn / "train" / "obama").iterdir())
    obama, _ = create_and_enrol(client_as, "obama", photos)
    template = people.list_faces(runtime, obama)[0].id
    operator, _ = client_as("operator")
    assert operator.post(f"/people/{obama}/photos/{template}/delete").status_code == 403
    viewer, viewer_csrf = client_as("viewer")
    refused = viewer.post(
        f"/people/{obama}/photos/{template}/delete", data={"csrf_token": viewer_csrf}
    )
    assert refused.status_code == 403
    assert "Delete photo" not in viewer.get(f"/people/{obama}").text
    assert len(people.list_faces(runtime, obama)) == 2


def test_deleting_the_last_photo_warns_that_the_person_cannot_be_recognised(
    client_as: ClientAs, knn: Path, runtime: Runtime
) -> None:
    alex, page = create_and_enrol(
        client_as, "alex_lacamoire", [knn / "train/alex_lacamoire/img1.jpg"]
    )
    [template] = template_ids(page)
    client, csrf = client_as("operator")
    done = client.post(f"/people/{alex}/photos/{template}/delete", data={"csrf_token": csrf})
    assert FLASH.findall(done.text) == ["flash-warning"]
    assert "cannot be recognised until a photo is enrolled" in done.text
    assert people.get_person(runtime, alex).name == "alex_lacamoire"
    again = client.post(f"/people/{alex}/photos/{template}/delete", data={"csrf_token": csrf})
    assert FLASH.findall(again.text) == ["flash-error"]


@pytest.mark.parametrize("path", ["/presence?minutes=0", "/presence/board?minutes=99999"])
def test_a_bad_presence_window_is_an_error_page(client_as: ClientAs, path: str) -> None:
    client, _ = client_as("viewer")
    response = client.get(path)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")


def test_an_unknown_event_is_a_404_page(client_as: ClientAs) -> None:
    client, _ = client_as("viewer")
    response = client.get("/events/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


@pytest.fixture(scope="module")
def send(app_client: TestClient, runtime: Runtime, knn: Path) -> Callable[[str, str], None]:
    """Sends a photo as camera ``camera`` would, and waits for its event."""
    with runtime.uow() as uow:
        _, secret = uow.api_keys.create("operator pages camera", ["ingest"])
        uow.commit()

    def post(photo: str, camera: str) -> None:
        before = events.list_events(runtime, events.EventQuery(camera_ids=[camera])).total
        sent = app_client.post(
            "/api/v1/detections",
            headers={"Authorization": f"Bearer {secret}"},
            files={"image": ("p.jpg", (knn / photo).read_bytes(), "image/jpeg")},
            data={"camera_id": camera},
        )
        assert sent.status_code == 201, sent.text
        wait_for_events(runtime, camera, before + 1)

    return post


def test_open_alerts_leave_out_routine_recognitions(
    client_as: ClientAs, send: Callable[[str, str], None], biden: int
) -> None:
    send("train/biden/biden.jpg", "open-alerts-cam")
    send("test/alex_lacamoire1.jpg", "open-alerts-cam")
    client, _ = client_as("operator")
    everything = client.get("/?camera=open-alerts-cam").text
    assert "severity-info" in everything
    assert "severity-warning" in everything
    open_only = client.get("/?camera=open-alerts-cam&open_only=true&view=timeline").text
    assert "severity-info" not in open_only
    assert "severity-warning" in open_only
    assert 'class="feed timeline-view"' in open_only
    nothing = client.get("/?type=person.recognized&open_only=true").text
    assert 'class="event ' not in nothing


def wait_for_events(runtime: Runtime, camera: str, count: int) -> None:
    deadline = time.monotonic() + 10
    query = events.EventQuery(camera_ids=[camera])
    while events.list_events(runtime, query).total < count:
        assert time.monotonic() < deadline, "the events did not come"
        time.sleep(0.05)


def test_the_audit_page_links_targets_and_folds_long_details(
    client_as: ClientAs, biden: int
) -> None:
    client, _ = client_as("admin")
    page = client.get("/audit").text
    assert f'<a href="/people/{biden}">person:{biden}</a>' in page
    assert re.search(r"<details><summary>(settings in force|changed:)", page)
    assert '<td class="when"><time' in page
    assert '<a href="/audit?actor=user%3Aoperator"' in page


def test_an_alert_acknowledged_on_its_page_comes_back_to_it(
    client_as: ClientAs, runtime: Runtime, send: Callable[[str, str], None]
) -> None:
    send("test/alex_lacamoire1.jpg", "ack-page-cam")  # nobody enrolled looks like him
    [alert] = events.list_events(runtime, events.EventQuery(camera_ids=["ack-page-cam"])).items
    assert alert.severity.value == "warning"
    client, csrf = client_as("operator")
    page = client.get(f"/events/{alert.id}").text
    assert f'action="/live/events/{alert.id}/ack?next=/events/{alert.id}"' in page
    done = client.post(
        f"/live/events/{alert.id}/ack", params={"next": f"/events/{alert.id}"},
        data={"csrf_token": csrf},
    )  # fmt: skip
    assert done.url.path == f"/events/{alert.id}"
    assert "by user:operator" in done.text
    assert "Acknowledge</button>" not in done.text

"""The pages over httpx with real faces: people and enrolment, detections, search by photo,
cameras and zones, API keys, images, and HTML error pages with the security headers."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from facewatch.dashboard.web import IMAGE_POLICY
from facewatch.server.infra.runtime import Runtime

pytestmark = pytest.mark.testdata

ClientAs = Callable[[str], tuple[TestClient, str]]


@pytest.fixture(scope="module")
def ingest_key(runtime: Runtime) -> dict[str, str]:
    with runtime.uow() as uow:
        _, secret = uow.api_keys.create("pages test camera", ["ingest"])
        uow.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def obama(client_as: ClientAs, knn: Path) -> int:
    """obama enrolled through the forms, as an operator would."""
    client, csrf = client_as("operator")
    created = client.post(
        "/people", data={"name": "obama", "category": "staff", "csrf_token": csrf}
    )
    person_id = int(created.url.path.rsplit("/", 1)[1])
    photos = [
        ("photos", (p.name, p.read_bytes(), "image/jpeg"))
        for p in sorted((knn / "train" / "obama").iterdir())
    ]
    client.post(f"/people/{person_id}/photos", data={"csrf_token": csrf}, files=photos)
    return person_id


@pytest.fixture(scope="module")
def sightings(app_client: TestClient, ingest_key: dict[str, str], knn: Path, obama: int) -> None:
    """obama at the gate, then a stranger in the hall, sent as cameras would send them."""
    for photo, camera in (("obama1.jpg", "gate-1"), ("alex_lacamoire1.jpg", "hall-2")):
        path = knn / "test" / photo
        response = app_client.post(
            "/api/v1/detections",
            headers=ingest_key,
            files={"image": (path.name, path.read_bytes(), "image/jpeg")},
            data={"camera_id": camera},
        )
        assert response.status_code == 201, response.text


def ids(html: str, pattern: str) -> list[str]:
    return re.findall(pattern, html)


def test_enrolled_photos_are_shown_with_their_quality(client_as: ClientAs, obama: int) -> None:
    client, _ = client_as("viewer")
    page = client.get(f"/people/{obama}")
    assert page.status_code == 200
    qualities = [float(q) for q in ids(page.text, r'<meter min="0" max="1" value="([0-9.]+)"')]
    assert len(qualities) == 2
    assert all(0 < q <= 1 for q in qualities)


def test_refused_photos_are_listed_with_their_reason(
    client_as: ClientAs, obama: int, knn: Path
) -> None:
    client, csrf = client_as("operator")
    group = knn / "test" / "obama_and_biden.jpg"
    response = client.post(
        f"/people/{obama}/photos",
        data={"csrf_token": csrf},
        files=[("photos", (group.name, group.read_bytes(), "image/jpeg"))],
    )
    assert "0 photo(s) enrolled, 1 refused" in response.text
    assert "several faces" in response.text


def test_people_are_searched_by_name(client_as: ClientAs, obama: int) -> None:
    client, _ = client_as("viewer")
    assert f'href="/people/{obama}"' in client.get("/people?q=bam").text
    assert f'href="/people/{obama}"' not in client.get("/people?q=zzz").text


def test_a_duplicate_name_is_refused_with_a_message(client_as: ClientAs, obama: int) -> None:
    client, csrf = client_as("operator")
    response = client.post(
        "/people", data={"name": "obama", "category": "staff", "csrf_token": csrf}
    )
    assert response.url.path == "/people"
    assert "already exists" in response.text


def test_a_person_page_shows_last_seen_timeline_and_trail(
    client_as: ClientAs, obama: int, sightings: None
) -> None:
    client, _ = client_as("viewer")
    page = client.get(f"/people/{obama}").text
    assert "Last seen" in page
    assert "gate-1" in page
    assert len(ids(page, r'<figure class="tile status-border-known">')) == 1
    assert re.search(r'id="trail">\s*<li><strong>gate-1</strong>', page)


@pytest.mark.parametrize(
    ("query", "cameras"),
    [
        ("", {"gate-1", "hall-2"}),
        ("?unknown=true", {"hall-2"}),
        ("?person=obama", {"gate-1"}),
        ("?camera=hall-2", {"hall-2"}),
        ("?since=2000-01-01T00:00&until=2000-01-02T00:00", set()),
    ],
)
def test_detections_are_filtered(
    client_as: ClientAs, sightings: None, query: str, cameras: set[str]
) -> None:
    client, _ = client_as("viewer")
    page = client.get(f"/detections{query}")
    assert page.status_code == 200
    shown = set(ids(page.text, r'<span class="muted">([\w.:-]+)</span>\s*<time'))
    assert shown == cameras


def test_detections_of_a_zone_come_from_its_cameras(client_as: ClientAs, sightings: None) -> None:
    admin, csrf = client_as("admin")
    admin.post(
        "/zones", data={"id": "hall", "name": "Hall", "cameras": "hall-2", "csrf_token": csrf}
    )
    page = admin.get("/detections?zone=hall").text
    assert set(ids(page, r'<span class="muted">([\w.:-]+)</span>\s*<time')) == {"hall-2"}


def test_an_unknown_name_in_the_detection_search_says_so(client_as: ClientAs) -> None:
    client, _ = client_as("viewer")
    page = client.get("/detections?person=nobody-such")
    assert page.status_code == 400
    assert "nobody named" in page.text


def test_search_by_photo_names_the_person_and_lists_where_they_were_seen(
    client_as: ClientAs, sightings: None, knn: Path
) -> None:
    client, csrf = client_as("viewer")
    photo = knn / "test" / "obama1.jpg"
    page = client.post(
        "/search",
        data={"csrf_token": csrf},
        files={"photo": (photo.name, photo.read_bytes(), "image/jpeg")},
    ).text
    assert re.search(r'<h2><a href="/people/\d+">obama</a>', page)
    assert "<td>gate-1</td>" in page
    assert 'src="data:image/jpeg;base64,' in page


def test_search_by_photo_says_unknown_for_a_stranger(
    client_as: ClientAs, obama: int, knn: Path
) -> None:
    client, csrf = client_as("viewer")
    photo = knn / "test" / "alex_lacamoire1.jpg"
    page = client.post(
        "/search",
        data={"csrf_token": csrf},
        files={"photo": (photo.name, photo.read_bytes(), "image/jpeg")},
    ).text
    assert "Nobody enrolled looks like this face." in page


def test_search_by_photo_refuses_a_file_that_is_no_image(client_as: ClientAs) -> None:
    client, csrf = client_as("viewer")
    page = client.post(
        "/search",
        data={"csrf_token": csrf},
        files={"photo": ("notes.txt", b"not an image at all", "text/plain")},
    )
    assert page.status_code == 400
    assert 'class="error-message"' in page.text


def test_cameras_are_created_edited_and_removed(client_as: ClientAs) -> None:
    admin, csrf = client_as("admin")
    form = {"name": "Back door", "site": "HQ", "zone": "", "location": "north", "csrf_token": csrf}
    admin.post("/cameras", data={**form, "id": "back-door"})
    assert "<code>back-door</code>" in admin.get("/cameras").text
    admin.post("/cameras/back-door", data={**form, "name": "Rear door", "latitude": "48.85"})
    page = admin.get("/cameras").text
    assert "Rear door" in page
    assert 'value="48.85"' in page
    admin.post("/cameras/back-door/delete", data={"csrf_token": csrf})
    assert "<code>back-door</code>" not in admin.get("/cameras").text


def test_a_bad_camera_id_is_refused_with_a_message(client_as: ClientAs) -> None:
    admin, csrf = client_as("admin")
    page = admin.post("/cameras", data={"id": "bad id!", "name": "x", "csrf_token": csrf})
    assert 'class="flash flash-error"' in page.text


def test_a_zone_lists_its_cameras_and_authorised_people(
    client_as: ClientAs, obama: int, sightings: None
) -> None:
    admin, csrf = client_as("admin")
    admin.post(
        "/zones",
        data={
            "id": "vault",
            "name": "Vault",
            "restricted": "true",
            "cameras": "gate-1",
            "people": str(obama),
            "categories": "staff, security",
            "csrf_token": csrf,
        },
    )
    zone = re.search(
        r'<section class="panel zone" id="zone-vault">.*?</section>',
        admin.get("/cameras").text,
        re.S,
    )
    assert zone is not None
    assert "gate-1" in zone.group(0)
    assert f'<a href="/people/{obama}">obama</a>' in zone.group(0)
    assert "security, staff" in zone.group(0)
    admin.post("/zones/vault/delete", data={"csrf_token": csrf})
    assert 'id="zone-vault"' not in admin.get("/cameras").text


def test_an_api_key_is_shown_once_works_and_can_be_revoked(
    client_as: ClientAs, app_client: TestClient
) -> None:
    admin, csrf = client_as("admin")
    created = admin.post(
        "/settings/keys", data={"name": "reporting", "scopes": "read", "csrf_token": csrf}
    )
    assert created.status_code == 201
    secret = ids(created.text, r'<code class="secret" id="new-key">([^<]+)</code>')[0]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert app_client.get("/api/v1/people", headers=bearer).status_code == 200
    assert secret not in admin.get("/settings").text
    prefix = secret.split("_")[1]
    admin.post(f"/settings/keys/{prefix}/revoke", data={"csrf_token": csrf})
    assert app_client.get("/api/v1/people", headers=bearer).status_code == 401


def test_a_webhook_shows_its_secret_once_and_its_delivery_log(
    client_as: ClientAs, app_client: TestClient, ingest_key: dict[str, str], knn: Path
) -> None:
    admin, csrf = client_as("admin")
    # Nothing listens on port 9 of this machine: every delivery fails, and says why.
    url = "http://127.0.0.1:9/facewatch-hook"
    created = admin.post(
        "/webhooks",
        data={"url": url, "event_types": "person.unknown", "csrf_token": csrf},
    )
    assert created.status_code == 201
    secret = ids(created.text, r'<code class="secret" id="webhook-secret">([^<]+)</code>')[0]
    listing = admin.get("/webhooks").text
    assert url in listing
    assert secret not in listing
    webhook_id = ids(listing, r'<a href="/webhooks/(\d+)">' + re.escape(url))[0]
    photo = knn / "test" / "alex_lacamoire1.jpg"
    app_client.post(
        "/api/v1/detections",
        headers=ingest_key,
        files={"image": (photo.name, photo.read_bytes(), "image/jpeg")},
        data={"camera_id": "webhook-cam"},
    )
    cells = _wait_for(lambda: _first_delivery(admin.get(f"/webhooks/{webhook_id}").text))
    event, status, attempts, answer, error = cells[:5]
    assert event.startswith("person.unknown")
    assert status in ("pending", "failed")
    assert int(attempts) >= 1
    assert answer == "-"
    assert error.strip()


def _first_delivery(page: str) -> list[str] | None:
    """The cells of the newest delivery row once it has been attempted."""
    row = re.search(r'<tr class="delivery-\w+">(.*?)</tr>', page, re.S)
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S) if row else []
    return cells if cells and cells[2] != "0" else None


def _wait_for(probe: Callable[[], list[str] | None], seconds: float = 20) -> list[str]:
    """What ``probe`` returns once it returns something (the event path is asynchronous)."""
    deadline = time.monotonic() + seconds
    while (found := probe()) is None:
        assert time.monotonic() < deadline, "nothing came in time"
        time.sleep(0.2)
    return found


def test_images_are_served_to_logged_in_users_only(
    client_as: ClientAs, new_client: Callable[..., TestClient], obama: int
) -> None:
    client, _ = client_as("viewer")
    sha = ids(client.get(f"/people/{obama}").text, r'href="/media/([0-9a-f]{64})"')[0]
    image = client.get(f"/media/{sha}")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert image.content[:2] == b"\xff\xd8"
    assert "private" in image.headers["cache-control"]
    assert new_client().get(f"/media/{sha}", follow_redirects=False).status_code == 303


def test_images_carry_a_policy_for_images_and_a_missing_one_the_pages_policy(
    client_as: ClientAs, obama: int
) -> None:
    client, _ = client_as("viewer")
    person_page = client.get(f"/people/{obama}").text
    images = [
        "/media/" + ids(person_page, r'href="/media/([0-9a-f]{64})"')[0],
        ids(person_page, r'src="(/media/people/\d+/faces/\d+)"')[0],
    ]
    for path in images:
        headers = client.get(path).headers
        assert headers["content-security-policy"] == IMAGE_POLICY, path
        assert headers["x-content-type-options"] == "nosniff"
    missing = client.get("/media/" + "0" * 64)
    assert missing.status_code == 404
    assert "style-src 'self'" in missing.headers["content-security-policy"]


def test_errors_are_html_pages_with_the_api_status(client_as: ClientAs) -> None:
    client, _ = client_as("viewer")
    missing = client.get("/people/424242")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "person 424242 not found" in missing.text
    assert client.get("/people/not-a-number").status_code == 400


def test_pages_carry_the_security_headers(client_as: ClientAs) -> None:
    client, _ = client_as("viewer")
    headers = client.get("/people").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("path", "accept", "page"),
    [
        ("/no-such-page", "text/html,application/xhtml+xml", True),
        ("/no-such-page", "application/json", False),
        ("/api/v1/no-such-route", "text/html", False),
    ],
)
def test_a_browser_gets_the_styled_error_page_and_the_api_json(
    app_client: TestClient, path: str, accept: str, page: bool
) -> None:
    response = app_client.get(path, headers={"Accept": accept})
    assert response.status_code == 404
    if page:
        assert response.headers["content-type"].startswith("text/html")
        assert "There is no page at this address." in response.text
    else:
        assert response.json()["code"] == "not_found"


def test_the_favicon_is_served(app_client: TestClient) -> None:
    response = app_client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")


def test_admins_reach_audit_and_webhooks_from_the_navigation(client_as: ClientAs) -> None:
    admin, _ = client_as("admin")
    nav = admin.get("/people").text.split("</nav>")[0]
    assert 'href="/audit"' in nav
    assert 'href="/webhooks"' in nav
    viewer, _ = client_as("viewer")
    assert 'href="/audit"' not in viewer.get("/people").text.split("</nav>")[0]

"""The strangers' pages over httpx: cards and their filters, who may act on a stranger, and
what each action says it did (strangers seeded through the repositories: no model needed)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

from facewatch.server.events.schemas import ZoneCreate
from facewatch.server.infra.runtime import Runtime
from facewatch.server.services import zones
from support import add_sighting

ClientAs = Callable[[str], tuple[TestClient, str]]
NOW = datetime.now(UTC)


def seed(runtime: Runtime, *sightings: tuple[str, int]) -> str:
    """A stranger seen by these (camera, hours ago); their id."""
    with runtime.uow() as uow:
        times = [NOW - timedelta(hours=hours) for _, hours in sightings]
        stranger = uow.unknowns.add("test-model", np.zeros(4, np.float32), min(times))
        stranger.last_seen_at = max(times)
        for (camera, _), seen in zip(sightings, times, strict=True):
            add_sighting(uow, seen, camera, unknown_id=stranger.id)  # type: ignore[arg-type]
        uow.commit()
        return stranger.id


@pytest.fixture(scope="module", autouse=True)
def cameras(runtime: Runtime) -> None:
    with runtime.uow() as uow:
        for camera in ("bay-1", "yard-7", "gate-5", "gate-6"):
            uow.cameras.add(camera, name=camera)
        uow.commit()


@pytest.fixture(scope="module")
def regular(runtime: Runtime) -> str:
    """Seen three times at the loading bay, the latest an hour ago."""
    zones.create_zone(runtime, ZoneCreate(id="docks", name="Docks", cameras=["bay-1"]))
    return seed(runtime, ("bay-1", 1), ("bay-1", 30), ("yard-7", 50))


@pytest.fixture(scope="module")
def passer_by(runtime: Runtime) -> str:
    """Seen once at the yard, ten days ago."""
    return seed(runtime, ("yard-7", 240))


def cards(html: str) -> list[str]:
    return re.findall(r'id="card-(unknown-[0-9a-f]+)"', html)


@pytest.mark.parametrize(
    ("query", "regular_shown", "passer_by_shown"),
    [
        ("", True, True),
        ("?min_seen=2", True, False),
        ("?within=7d", True, False),
        ("?camera=yard-7", True, True),
        ("?zone=docks", True, False),
        ("?camera=yard-7&zone=docks", False, False),
    ],
)
def test_strangers_are_filtered_by_time_camera_zone_and_sightings(
    client_as: ClientAs,
    regular: str,
    passer_by: str,
    query: str,
    regular_shown: bool,
    passer_by_shown: bool,
) -> None:
    client, _ = client_as("viewer")
    shown = cards(client.get("/strangers" + query).text)
    assert (regular in shown, passer_by in shown) == (regular_shown, passer_by_shown)


def test_a_card_says_how_often_when_and_where_a_stranger_was_seen(
    client_as: ClientAs, regular: str
) -> None:
    client, _ = client_as("viewer")
    page = client.get("/strangers").text
    card = page[page.index(f'id="card-{regular}"') :]
    card = card[: card.index("</article>")]
    assert "<strong>3</strong> sightings" in card
    assert "bay-1, yard-7" in card
    assert f'href="/strangers/{regular}?back=%2Fstrangers' in card  # and back to this list


def test_a_viewer_sees_a_stranger_but_no_action(client_as: ClientAs, regular: str) -> None:
    client, csrf = client_as("viewer")
    page = client.get(f"/strangers/{regular}").text
    assert page.count('class="sighting"') == 3
    assert "name-form" not in page
    assert "split-form" not in page
    refused = client.post(f"/strangers/{regular}/name", data={"csrf_token": csrf, "name": "x"})
    assert refused.status_code == 403


def test_an_action_without_the_form_token_is_refused(client_as: ClientAs, regular: str) -> None:
    client, _ = client_as("operator")
    assert client.post(f"/strangers/{regular}/delete").status_code == 403


def test_an_unknown_stranger_and_a_bad_time_get_error_pages(client_as: ClientAs) -> None:
    client, _ = client_as("viewer")
    assert client.get("/strangers/unknown-000000000000").status_code == 404
    bad = client.get("/strangers?since=yesterday")
    assert bad.status_code == 400
    assert "not a date and time" in bad.text


def test_an_operator_merges_and_deletes_strangers(client_as: ClientAs, runtime: Runtime) -> None:
    client, csrf = client_as("operator")
    first = seed(runtime, ("gate-5", 3), ("gate-5", 4))
    second = seed(runtime, ("gate-6", 5))
    merged = client.post(f"/strangers/{first}/merge", data={"csrf_token": csrf, "other_id": second})
    assert f"#{second[8:]} merged into #{first[8:]}: 3 sighting(s) now." in merged.text
    assert second not in cards(client.get("/strangers").text)

    new = seed(runtime, ("gate-6", 6))
    deleted = client.post(f"/strangers/{new}/delete", data={"csrf_token": csrf})
    assert f"Stranger #{new[8:]} deleted with 1 sighting(s)" in deleted.text
    assert client.get(f"/strangers/{new}").status_code == 404


def test_only_an_admin_may_undo_a_correction(client_as: ClientAs) -> None:
    client, csrf = client_as("operator")
    refused = client.post("/people/1/corrections/1/undo", data={"csrf_token": csrf})
    assert refused.status_code == 403

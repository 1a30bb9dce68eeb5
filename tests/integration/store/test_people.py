"""PersonRepository against a real migrated database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pytest

from facewatch.errors import Conflict, InvalidInput, NotFound
from facewatch.store.blobs import blob_key
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.types import MatchStatus

UowFactory = Callable[[], UnitOfWork]


def _enrol(uow_factory: UowFactory, *names: str, category: str = "authorized") -> list[int]:
    with uow_factory() as uow:
        ids = [uow.people.add(name, category, f"notes on {name}").id for name in names]
        uow.commit()
    return ids


def test_a_person_reads_back_as_added(uow_factory: UowFactory) -> None:
    [person_id] = _enrol(uow_factory, "Ada Lovelace", category="staff")
    with uow_factory() as uow:
        person = uow.people.get(person_id)
        assert (person.name, person.category, person.notes) == (
            "Ada Lovelace",
            "staff",
            "notes on Ada Lovelace",
        )
        assert person.created_at.tzinfo is UTC


def test_a_person_is_found_by_exact_name(uow_factory: UowFactory) -> None:
    [person_id] = _enrol(uow_factory, "Ada")
    with uow_factory() as uow:
        found = uow.people.get_by_name("Ada")
        assert found is not None
        assert found.id == person_id
        assert uow.people.get_by_name("ada") is None


def test_getting_an_unknown_person_raises_not_found(uow_factory: UowFactory) -> None:
    with uow_factory() as uow, pytest.raises(NotFound):
        uow.people.get(12345)


def test_a_duplicate_name_is_a_conflict(uow_factory: UowFactory) -> None:
    _enrol(uow_factory, "Ada")
    with uow_factory() as uow, pytest.raises(Conflict, match="Ada"):
        uow.people.add("Ada", "staff", "")


def test_a_duplicate_name_in_the_same_unit_is_a_conflict(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.people.add("Ada")
        with pytest.raises(Conflict):
            uow.people.add("Ada")


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "nul\x00byte"])
def test_an_unusable_name_is_invalid_input(uow_factory: UowFactory, name: str) -> None:
    with uow_factory() as uow, pytest.raises(InvalidInput):
        uow.people.add(name)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (None, ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Émile Zola"]),
        ("a", ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Émile Zola"]),
        ("LOVE", ["Ada Lovelace"]),
        ("turing", ["Alan Turing"]),
        ("émile", ["Émile Zola"]),
        ("ÉMILE", ["Émile Zola"]),
        ("%", []),
        ("_", []),
        ("nobody", []),
    ],
)
def test_listing_people_matches_any_part_of_the_name_ignoring_case(
    uow_factory: UowFactory, query: str | None, expected: list[str]
) -> None:
    _enrol(uow_factory, "Grace Hopper", "Alan Turing", "Ada Lovelace", "Émile Zola")
    with uow_factory() as uow:
        people, total = uow.people.list(query=query)
        assert sorted(p.name for p in people) == expected
        assert total == len(expected)


def test_people_are_listed_by_name_ignoring_case(uow_factory: UowFactory) -> None:
    _enrol(uow_factory, "carol", "Bob", "alice", "Dave")
    with uow_factory() as uow:
        people, _ = uow.people.list()
        assert [p.name for p in people] == ["alice", "Bob", "carol", "Dave"]


def test_listing_people_filters_by_category(uow_factory: UowFactory) -> None:
    _enrol(uow_factory, "Ada", "Alan")
    _enrol(uow_factory, "Mallory", category="watchlist")
    with uow_factory() as uow:
        people, total = uow.people.list(category="watchlist")
        assert ([p.name for p in people], total) == (["Mallory"], 1)


def test_listing_people_pages_and_counts_them_all(uow_factory: UowFactory) -> None:
    _enrol(uow_factory, *(f"person {i:02d}" for i in range(25)))
    with uow_factory() as uow:
        people, total = uow.people.list(offset=20, limit=10)
        assert [p.name for p in people] == [f"person {i:02d}" for i in range(20, 25)]
        assert total == 25


@pytest.mark.parametrize(("offset", "limit"), [(-1, 10), (0, 0), (0, 1001)])
def test_a_bad_page_is_invalid_input(uow_factory: UowFactory, offset: int, limit: int) -> None:
    with uow_factory() as uow, pytest.raises(InvalidInput):
        uow.people.list(offset=offset, limit=limit)


def test_updating_a_person_changes_only_the_given_fields(uow_factory: UowFactory) -> None:
    [person_id] = _enrol(uow_factory, "Ada")
    with uow_factory() as uow:
        uow.people.update(uow.people.get(person_id), name="Ada L.", category="staff")
        uow.commit()
    with uow_factory() as uow:
        person = uow.people.get(person_id)
        assert (person.name, person.category, person.notes) == ("Ada L.", "staff", "notes on Ada")


def test_renaming_a_person_to_a_taken_name_is_a_conflict(uow_factory: UowFactory) -> None:
    ada, _alan = _enrol(uow_factory, "Ada", "Alan")
    with uow_factory() as uow, pytest.raises(Conflict):
        uow.people.update(uow.people.get(ada), name="Alan")


def test_keeping_ones_own_name_is_no_conflict(uow_factory: UowFactory) -> None:
    [ada] = _enrol(uow_factory, "Ada")
    with uow_factory() as uow:
        assert uow.people.update(uow.people.get(ada), name="Ada", notes="x").notes == "x"


def _seed_person(uow: UnitOfWork, name: str, photo: bytes, crop: bytes) -> int:
    """A person with a template made from ``photo`` and a detection with ``crop``."""
    person = uow.people.add(name)
    photo_image = uow.images.get_or_add(uow.put_blob(photo), "image/jpeg", 10, 10, len(photo))
    crop_image = uow.images.get_or_add(uow.put_blob(crop), "image/jpeg", 5, 5, len(crop))
    uow.templates.add(
        person.id, np.ones(128, np.float32), "dlib", 0.9, [0, 0, 5, 5], photo_image.id
    )
    uow.detections.add(
        captured_at=datetime(2024, 5, 1, 12, tzinfo=UTC),
        status=MatchStatus.KNOWN,
        person_id=person.id,
        distance=0.3,
        confidence=0.9,
        box=[0, 0, 5, 5],
        quality=0.8,
        crop_image_id=crop_image.id,
    )
    return person.id


def test_deleting_a_person_cascades_to_templates_and_detections(
    uow_factory: UowFactory,
) -> None:
    with uow_factory() as uow:
        ada = _seed_person(uow, "Ada", b"ada photo", b"ada crop")
        uow.commit()
    with uow_factory() as uow:
        uow.people.delete(uow.people.get(ada))
        uow.commit()
    with uow_factory() as uow:
        assert uow.templates.list_for_person(ada) == []
        assert uow.detections.query(person_id=ada) == ([], 0)
        with pytest.raises(NotFound):
            uow.people.get(ada)


def test_deleting_a_person_reports_the_images_nobody_uses_any_more(
    uow_factory: UowFactory,
) -> None:
    with uow_factory() as uow:
        ada = _seed_person(uow, "Ada", b"ada photo", b"shared crop")
        _seed_person(uow, "Alan", b"alan photo", b"shared crop")
        uow.commit()
    with uow_factory() as uow:
        freed = uow.people.delete(uow.people.get(ada))
        uow.commit()
    assert freed == [blob_key(b"ada photo")]
    with uow_factory() as uow:
        assert uow.images.get_by_sha256(blob_key(b"ada photo")) is None
        assert uow.images.get_by_sha256(blob_key(b"shared crop")) is not None

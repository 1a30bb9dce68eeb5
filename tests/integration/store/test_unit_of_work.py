"""UnitOfWork: one transaction, and no orphan blobs or rows when it fails."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from facewatch.errors import Conflict
from facewatch.store.blobs import FileBlobStore, blob_key
from facewatch.store.unit_of_work import UnitOfWork

UowFactory = Callable[[], UnitOfWork]


class FailedOnPurposeError(Exception):
    """Raised inside a unit to make it fail."""


def _failing_unit(uow_factory: UowFactory, work: Callable[[UnitOfWork], object]) -> None:
    """Do ``work`` in a unit, then fail with ``FailedOnPurposeError`` before committing."""
    with uow_factory() as uow:
        work(uow)
        raise FailedOnPurposeError


def _add_photo(uow: UnitOfWork, data: bytes) -> int:
    return uow.images.get_or_add(uow.put_blob(data), "image/jpeg", 1, 1, len(data)).id


def test_a_committed_unit_keeps_its_rows_and_blobs(
    uow_factory: UowFactory, blob_store: FileBlobStore
) -> None:
    with uow_factory() as uow:
        _add_photo(uow, b"photo")
        uow.commit()
    assert blob_store.exists(blob_key(b"photo"))
    with uow_factory() as uow:
        assert uow.images.get_by_sha256(blob_key(b"photo")) is not None


def test_a_failed_unit_removes_the_blobs_it_created(
    uow_factory: UowFactory, blob_store: FileBlobStore
) -> None:
    with pytest.raises(FailedOnPurposeError):
        _failing_unit(uow_factory, lambda uow: _add_photo(uow, b"photo"))
    assert not blob_store.exists(blob_key(b"photo"))
    with uow_factory() as uow:
        assert uow.images.get_by_sha256(blob_key(b"photo")) is None


def test_a_failed_unit_keeps_blobs_that_existed_before(
    uow_factory: UowFactory, blob_store: FileBlobStore
) -> None:
    blob_store.put(b"already there")
    with pytest.raises(FailedOnPurposeError):
        _failing_unit(uow_factory, lambda uow: _add_photo(uow, b"already there"))
    assert blob_store.exists(blob_key(b"already there"))


def test_a_unit_left_without_commit_is_rolled_back(
    uow_factory: UowFactory, blob_store: FileBlobStore
) -> None:
    with uow_factory() as uow:
        uow.people.add("Ada")
        _add_photo(uow, b"photo")
    assert not blob_store.exists(blob_key(b"photo"))
    with uow_factory() as uow:
        assert uow.people.get_by_name("Ada") is None


def test_a_conflict_leaves_no_orphan_blob(
    uow_factory: UowFactory, blob_store: FileBlobStore
) -> None:
    with uow_factory() as uow:
        uow.people.add("Ada")
        uow.commit()

    def add_second_ada(uow: UnitOfWork) -> None:
        _add_photo(uow, b"photo of the second Ada")
        uow.people.add("Ada")

    with pytest.raises(Conflict):
        _failing_unit(uow_factory, add_second_ada)
    assert list(blob_store.keys()) == []


def test_a_blob_committed_by_another_unit_meanwhile_is_kept(
    uow_factory: UowFactory, blob_store: FileBlobStore
) -> None:

    def race_another_unit(failing: UnitOfWork) -> None:
        failing.put_blob(b"photo")
        with uow_factory() as other:
            _add_photo(other, b"photo")
            other.commit()

    with pytest.raises(FailedOnPurposeError):
        _failing_unit(uow_factory, race_another_unit)
    assert blob_store.exists(blob_key(b"photo"))


def test_blobs_freed_by_a_commit_are_deleted_after_it(
    uow_factory: UowFactory, blob_store: FileBlobStore
) -> None:
    with uow_factory() as uow:
        person = uow.people.add("Ada")
        image_id = _add_photo(uow, b"photo")
        uow.templates.add(person.id, np.ones(4, np.float32), "dlib", 1.0, [0, 0, 1, 1], image_id)
        uow.commit()
    with uow_factory() as uow:
        for key in uow.people.delete(uow.people.get(person.id)):
            uow.delete_blob_after_commit(key)
        assert blob_store.exists(blob_key(b"photo"))  # not before the commit
        uow.commit()
    assert list(blob_store.keys()) == []


def test_blobs_to_delete_survive_a_failed_unit(
    uow_factory: UowFactory, blob_store: FileBlobStore
) -> None:
    with uow_factory() as uow:
        _add_photo(uow, b"photo")
        uow.commit()

    def delete_photo(uow: UnitOfWork) -> None:
        image = uow.images.get_by_sha256(blob_key(b"photo"))
        assert image is not None
        uow.images.delete_unreferenced([image.id])
        uow.delete_blob_after_commit(blob_key(b"photo"))

    with pytest.raises(FailedOnPurposeError):
        _failing_unit(uow_factory, delete_photo)
    assert blob_store.exists(blob_key(b"photo"))


def test_a_blob_still_referenced_by_an_image_row_is_not_deleted(
    uow_factory: UowFactory, blob_store: FileBlobStore
) -> None:
    with uow_factory() as uow:
        _add_photo(uow, b"photo")
        uow.commit()
    with uow_factory() as uow:
        uow.delete_blob_after_commit(blob_key(b"photo"))
        uow.commit()
    assert blob_store.exists(blob_key(b"photo"))


def test_objects_stay_readable_after_the_unit_ends(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        person = uow.people.add("Ada")
        uow.commit()
        uow.templates.count_by_person([person.id])  # a read after the commit
    assert (person.id, person.name) == (person.id, "Ada")
    assert person.created_at is not None


def test_a_unit_can_commit_twice(uow_factory: UowFactory, blob_store: FileBlobStore) -> None:
    with uow_factory() as uow:
        _add_photo(uow, b"first")
        uow.commit()
        _add_photo(uow, b"second")
        uow.commit()
    assert set(blob_store.keys()) == {blob_key(b"first"), blob_key(b"second")}

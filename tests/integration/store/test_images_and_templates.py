"""ImageRepository and TemplateRepository against a real migrated database."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from facewatch.errors import InvalidInput, NotFound
from facewatch.store.blobs import blob_key
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.types import Box

UowFactory = Callable[[], UnitOfWork]
EMBEDDING = np.linspace(-1, 1, 128, dtype=np.float32)


def _photo(uow: UnitOfWork, data: bytes) -> int:
    return uow.images.get_or_add(uow.put_blob(data), "image/jpeg", 640, 480, len(data)).id


def test_an_image_row_is_added_once_per_sha256(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        first = uow.images.get_or_add(blob_key(b"a"), "image/png", 1, 2, 3)
        again = uow.images.get_or_add(blob_key(b"a"), "image/png", 1, 2, 3)
        assert first.id == again.id
        assert (first.width, first.height, first.size_bytes) == (1, 2, 3)


def test_an_image_row_stored_earlier_is_found_not_added_again(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        first = uow.images.get_or_add(blob_key(b"a"), "image/png", 1, 2, 3)
        uow.commit()
    with uow_factory() as uow:
        again = uow.images.get_or_add(blob_key(b"a"), "image/jpeg", 7, 8, 9)
        assert again.id == first.id
        assert (again.content_type, again.width, again.height) == ("image/png", 1, 2)


def test_an_image_row_needs_a_valid_sha256(uow_factory: UowFactory) -> None:
    with uow_factory() as uow, pytest.raises(InvalidInput):
        uow.images.get_or_add("../../etc/passwd", "image/png", 1, 1, 1)


def test_delete_unreferenced_keeps_images_still_in_use(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        person = uow.people.add("Ada")
        used, unused = _photo(uow, b"used"), _photo(uow, b"unused")
        uow.templates.add(person.id, EMBEDDING, "dlib", 0.9, [0, 0, 1, 1], used)
        assert uow.images.delete_unreferenced([used, unused]) == [blob_key(b"unused")]
        assert uow.images.get(used).sha256 == blob_key(b"used")
        with pytest.raises(NotFound):
            uow.images.get(unused)


def test_a_template_reads_back_with_its_embedding(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        person = uow.people.add("Ada")
        image_id = _photo(uow, b"photo")
        uow.templates.add(person.id, EMBEDDING, "dlib", 0.75, Box(1, 2, 30, 40), image_id)
        uow.commit()
    with uow_factory() as uow:
        [template] = uow.templates.list_for_person(person.id)
        assert (template.model, template.quality, template.box) == ("dlib", 0.75, [1, 2, 30, 40])
        assert template.image is not None
        assert template.image.sha256 == blob_key(b"photo")
        assert np.frombuffer(template.embedding, "<f4").tolist() == EMBEDDING.tolist()


def test_a_template_for_an_unknown_person_is_not_found(uow_factory: UowFactory) -> None:
    with uow_factory() as uow, pytest.raises(NotFound, match="person"):
        uow.templates.add(999, EMBEDDING, "dlib", 0.9, [0, 0, 1, 1])


def test_a_template_from_an_unknown_image_is_not_found(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        person = uow.people.add("Ada")
        with pytest.raises(NotFound, match="image"):
            uow.templates.add(person.id, EMBEDDING, "dlib", 0.9, [0, 0, 1, 1], image_id=999)


def test_all_for_model_yields_what_the_gallery_needs(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        ada, alan = uow.people.add("Ada"), uow.people.add("Alan")
        t1 = uow.templates.add(ada.id, EMBEDDING, "dlib", 0.9, [0, 0, 1, 1])
        t2 = uow.templates.add(alan.id, -EMBEDDING, "dlib", 0.9, [0, 0, 1, 1])
        uow.templates.add(alan.id, EMBEDDING, "other-model", 0.9, [0, 0, 1, 1])
        uow.commit()
    with uow_factory() as uow:
        rows = list(uow.templates.all_for_model("dlib"))
    assert [(r.template_id, r.person_id, r.person_name) for r in rows] == [
        (t1.id, ada.id, "Ada"),
        (t2.id, alan.id, "Alan"),
    ]
    np.testing.assert_array_equal(rows[1].embedding, -EMBEDDING)
    assert rows[1].embedding.dtype == np.float32


def test_templates_are_counted_per_person(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        ada, alan = uow.people.add("Ada"), uow.people.add("Alan")
        for _ in range(3):
            uow.templates.add(ada.id, EMBEDDING, "dlib", 0.9, [0, 0, 1, 1])
        assert uow.templates.count_by_person([ada.id, alan.id]) == {ada.id: 3, alan.id: 0}
        assert uow.templates.count_by_person([]) == {}


def test_the_photo_hashes_of_a_person_are_listed(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        ada = uow.people.add("Ada")
        for photo in (b"one", b"two"):
            uow.templates.add(ada.id, EMBEDDING, "dlib", 0.9, [0, 0, 1, 1], _photo(uow, photo))
        uow.templates.add(ada.id, EMBEDDING, "dlib", 0.9, [0, 0, 1, 1])
        assert uow.templates.image_hashes_for_person(ada.id) == {
            blob_key(b"one"),
            blob_key(b"two"),
        }


def test_deleting_a_template_frees_its_photo_unless_shared(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        ada = uow.people.add("Ada")
        shared, own = _photo(uow, b"shared"), _photo(uow, b"own")
        first = uow.templates.add(ada.id, EMBEDDING, "dlib", 0.9, [0, 0, 1, 1], shared)
        uow.templates.add(ada.id, EMBEDDING, "other", 0.9, [0, 0, 1, 1], shared)
        third = uow.templates.add(ada.id, EMBEDDING, "dlib", 0.9, [0, 0, 1, 1], own)
        assert uow.templates.delete(first) == []
        assert uow.templates.delete(third) == [blob_key(b"own")]
        assert len(uow.templates.list_for_person(ada.id)) == 1

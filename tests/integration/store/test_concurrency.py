"""Several threads writing at once, as server workers do."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from facewatch.store.blobs import blob_key
from facewatch.store.unit_of_work import UnitOfWork

UowFactory = Callable[[], UnitOfWork]
THREADS = 8
UNITS_PER_THREAD = 10


def test_concurrent_units_all_commit(uow_factory: UowFactory) -> None:
    def enrol(thread: int) -> None:
        for unit in range(UNITS_PER_THREAD):
            with uow_factory() as uow:
                uow.people.add(f"person {thread}-{unit}")
                uow.commit()

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(enrol, range(THREADS)))
    with uow_factory() as uow:
        assert uow.people.list()[1] == THREADS * UNITS_PER_THREAD


def test_concurrent_uploads_of_the_same_image_share_one_row(uow_factory: UowFactory) -> None:
    def upload(_: int) -> int:
        with uow_factory() as uow:
            key = uow.put_blob(b"the same photo")
            image = uow.images.get_or_add(key, "image/jpeg", 1, 1, 14)
            uow.commit()
            return image.id

    with ThreadPoolExecutor(THREADS) as pool:
        ids = set(pool.map(upload, range(THREADS * 2)))
    assert len(ids) == 1
    with uow_factory() as uow:
        assert uow.images.get_by_sha256(blob_key(b"the same photo")) is not None

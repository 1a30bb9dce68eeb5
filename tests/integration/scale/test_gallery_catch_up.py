"""A gallery snapshot brought up to date with the database (``sync.catch_up``) equals a gallery
loaded fresh from it, whatever happened while the snapshot sat on disk, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from facewatch.gallery.gallery import Gallery, SyncReport, TemplateEntry
from facewatch.server.infra.sync import catch_up
from facewatch.store.db import Database
from facewatch.store.models import Person, Template
from facewatch.store.unit_of_work import UnitOfWork

MODEL = "test-model"
DIM = 128
BOX = [0, 0, 80, 80]
rng = np.random.default_rng(11)
UowFactory = Callable[[], UnitOfWork]


def add_person(uow_factory: UowFactory, name: str, templates: int = 2) -> tuple[int, list[int]]:
    with uow_factory() as uow:
        person = uow.people.add(name)
        rows = [
            uow.templates.add(person.id, rng.normal(size=DIM).astype(np.float32), MODEL, 0.9, BOX)
            for _ in range(templates)
        ]
        uow.commit()
        return person.id, [row.id for row in rows]


def fresh_gallery(uow_factory: UowFactory) -> Gallery:
    gallery = Gallery(MODEL, DIM)
    with uow_factory() as uow:
        gallery.add(TemplateEntry(*row) for row in uow.templates.all_for_model(MODEL))
    return gallery


def contents(gallery: Gallery) -> dict[int, tuple[int, str, bytes]]:
    """Template id -> (person id, name, embedding bytes): what a gallery answers from."""
    ids, vectors = gallery.index.items()
    candidates = gallery.nearest_people(vectors, k=1) if len(ids) else []
    return {
        int(tid): (row[0].person_id, row[0].name, vector.tobytes())
        for tid, vector, row in zip(ids, vectors, candidates, strict=True)
    }


def snapshot_of(gallery: Gallery, folder: Path) -> Gallery:
    gallery.save(folder)
    return Gallery.load(folder, MODEL, DIM)


def test_a_snapshot_caught_up_equals_a_fresh_load_after_every_kind_of_change(
    database: Database, uow_factory: UowFactory, tmp_path: Path
) -> None:
    _, _ = add_person(uow_factory, "stays")
    renamed, _ = add_person(uow_factory, "old name")
    erased, _ = add_person(uow_factory, "erased", templates=3)
    grows, _ = add_person(uow_factory, "grows", templates=1)
    saved = snapshot_of(fresh_gallery(uow_factory), tmp_path / "snapshot")
    saved_at = datetime.now(UTC)
    with uow_factory() as uow:
        uow.session.get_one(Person, renamed).name = "new name"
        uow.session.delete(uow.session.get_one(Person, erased))
        uow.templates.add(grows, rng.normal(size=DIM).astype(np.float32), MODEL, 0.9, BOX)
        uow.commit()
    add_person(uow_factory, "new")

    report = catch_up(database, saved, recheck_since=saved_at)

    assert report == SyncReport(added=3, removed=3, renamed=1)
    assert contents(saved) == contents(fresh_gallery(uow_factory))
    assert saved.people_count == 4


def test_a_template_id_handed_out_again_is_read_again(
    database: Database, uow_factory: UowFactory, tmp_path: Path
) -> None:
    add_person(uow_factory, "ada", templates=2)
    bob, [newest] = add_person(uow_factory, "bob", templates=1)
    saved = snapshot_of(fresh_gallery(uow_factory), tmp_path / "snapshot")
    saved_at = datetime.now(UTC) - timedelta(seconds=1)
    # Bob's photo is replaced by a better one while the server is down.
    with uow_factory() as uow:
        uow.session.delete(uow.session.get_one(Template, newest))
        again = uow.templates.add(bob, rng.normal(size=DIM).astype(np.float32), MODEL, 0.9, BOX)
        uow.commit()
    if database.dialect == "sqlite":
        assert again.id == newest  # SQLite hands the freed highest rowid out again

    catch_up(database, saved, recheck_since=saved_at)

    assert contents(saved) == contents(fresh_gallery(uow_factory))

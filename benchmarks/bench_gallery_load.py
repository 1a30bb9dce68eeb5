"""Server start-up: loading the in-memory gallery from the database or from its snapshot.

A SQLite database (by default; ``--database-url`` for another) is filled with ``--size``
synthetic templates (``--per-person`` each, enrolled a day ago), then for each index kind
(``--kinds``) the gallery is loaded the way the server loads it (``Runtime.gallery``):

* from the database (no snapshot): every template read, decoded and indexed;
* from the snapshot the previous load saved (``Runtime.save_gallery_snapshot``, as at a
  graceful shutdown), caught up with an unchanged database;
* from that snapshot after ``--changes`` templates were added and as many deleted while
  the server was down (the catch-up reads only what changed).

Each load runs in a fresh ``Runtime`` of this process (the page cache is warm: the
database and the snapshot were just written). The models are not loaded: only the
embedder's model id and dimension are used.

Run from the repository root:

    python benchmarks/bench_gallery_load.py --size 100000
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import delete, insert, select

from _shared import machine_line
from facewatch.config import Settings
from facewatch.server.infra.runtime import GalleryLoad, Runtime
from facewatch.store.blobs import FileBlobStore
from facewatch.store.db import Database, open_database
from facewatch.store.embeddings import embedding_to_bytes
from facewatch.store.models import Person, Template, utcnow
from facewatch.vision.pipeline import create_analyzer

BATCH = 10_000


@dataclass(frozen=True)
class Row:
    kind: str
    case: str
    load: GalleryLoad
    save_seconds: float | None


def main() -> None:
    args = parse_args()
    folder = Path(args.data_dir or tempfile.mkdtemp(prefix="bench-gallery-load-"))
    base = Settings(data_dir=folder, database_url=args.database_url, analysis_workers=0)
    analyzer = create_analyzer(base)
    model_id, dim = analyzer.model_id, analyzer.embedding_dim
    db = open_database(base)
    started = time.perf_counter()
    fill(db, model_id, dim, args.size, args.per_person)
    print(f"{args.size} templates stored in {time.perf_counter() - started:.1f} s")
    rows: list[Row] = []
    for kind in args.kinds.split(","):
        settings = base.model_copy(update={"gallery_index": kind})
        shutil.rmtree(folder / "gallery", ignore_errors=True)
        rows.append(load(settings, db, "database", save=True))
        rows.append(load(settings, db, "snapshot", save=False))
        change(db, model_id, dim, args.changes)
        rows.append(load(settings, db, f"snapshot + {args.changes} added, deleted", save=True))
    db.dispose()
    report(rows, args)
    if not args.data_dir:
        shutil.rmtree(folder, ignore_errors=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="templates in the database")
    parser.add_argument("--per-person", type=int, default=4, help="templates per person")
    parser.add_argument("--kinds", default="auto,exact", help="index kinds, comma-separated")
    parser.add_argument("--changes", type=int, default=1000, help="templates added and deleted")
    parser.add_argument("--database-url", default=None, help="default: SQLite in --data-dir")
    parser.add_argument("--data-dir", default=None, help="default: a temporary folder")
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    return parser.parse_args()


def fill(db: Database, model_id: str, dim: int, size: int, per_person: int) -> None:
    """``size`` random unit-scale templates, ``per_person`` each, created a day ago."""
    people = (size + per_person - 1) // per_person
    long_ago = utcnow() - timedelta(days=1)
    with db.session() as session:
        session.execute(
            insert(Person),
            [{"name": f"person {i:07d}", "created_at": long_ago} for i in range(people)],
        )
        ids = list(session.scalars(select(Person.id).order_by(Person.id)))
        session.commit()
    rng = np.random.default_rng(3)
    for start in range(0, size, BATCH):
        count = min(BATCH, size - start)
        owners = [ids[(start + i) // per_person] for i in range(count)]
        add_templates(db, model_id, rng, owners, dim, long_ago)


def add_templates(
    db: Database,
    model_id: str,
    rng: np.random.Generator,
    owners: list[int],
    dim: int,
    created_at: object,
) -> None:
    vectors = rng.normal(scale=0.09, size=(len(owners), dim)).astype(np.float32)
    rows = [
        {
            "person_id": owner,
            "embedding": embedding_to_bytes(vector),
            "model": model_id,
            "quality": 0.9,
            "box": [0, 0, 100, 100],
            "created_at": created_at,
        }
        for owner, vector in zip(owners, vectors, strict=True)
    ]
    with db.session() as session:
        session.execute(insert(Template), rows)
        session.commit()


def change(db: Database, model_id: str, dim: int, changes: int) -> None:
    """While the server is down: ``changes`` templates deleted and as many added."""
    with db.session() as session:
        oldest = list(session.scalars(select(Template.id).order_by(Template.id).limit(changes)))
        session.execute(delete(Template).where(Template.id.in_(oldest)))
        owners = list(session.scalars(select(Person.id).order_by(Person.id.desc()).limit(1)))
        session.commit()
    rng = np.random.default_rng(changes)
    add_templates(db, model_id, rng, owners * changes, dim, utcnow() - timedelta(days=1))


def load(settings: Settings, db: Database, case: str, *, save: bool) -> Row:
    """One start: the gallery loaded by a fresh runtime, then (``save``) saved as at a stop."""
    with runtime_on(settings, db) as runtime:
        gallery = runtime.gallery
        load_info = runtime.gallery_load
        assert load_info is not None
        expected = "database" if case == "database" else "snapshot"
        assert load_info.source == expected, f"{case}: loaded from the {load_info.source}"
        save_seconds = None
        if save:
            started = time.perf_counter()
            assert runtime.save_gallery_snapshot()
            save_seconds = time.perf_counter() - started
        kind = gallery.index.kind
    print(
        f"{settings.gallery_index:>5} ({kind}) {case}: {load_info.seconds:.2f} s"
        + (f", snapshot saved in {save_seconds:.2f} s" if save_seconds is not None else "")
    )
    return Row(f"{settings.gallery_index} ({kind})", case, load_info, save_seconds)


@contextmanager
def runtime_on(settings: Settings, db: Database) -> Iterator[Runtime]:
    """A runtime on ``db`` whose gallery loads without loading the face models."""
    runtime = Runtime(
        settings=settings,
        db=db,
        blobs=FileBlobStore(settings.data_dir / "blobs"),
        _analyzer=create_analyzer(settings),
    )
    try:
        yield runtime
    finally:
        runtime.changes.close()  # not runtime.close(): the database is shared by the loads


def report(rows: list[Row], args: argparse.Namespace) -> None:
    print()
    print(f"Gallery load at start, {args.size:,} templates ({args.per_person} per person)")
    print()
    print("| index | loaded from | load (s) | caught up (added / removed) | snapshot save (s) |")
    print("|---|---|---:|---|---:|")
    for row in rows:
        caught = row.load.caught_up
        caught_text = f"{caught.added} / {caught.removed}" if caught is not None else "-"
        save = f"{row.save_seconds:.2f}" if row.save_seconds is not None else "-"
        print(f"| {row.kind} | {row.case} | {row.load.seconds:.2f} | {caught_text} | {save} |")
    print()
    print(machine_line())
    if args.json:
        print(json.dumps([_as_dict(row) for row in rows]))


def _as_dict(row: Row) -> dict[str, object]:
    caught = row.load.caught_up
    return {
        "kind": row.kind,
        "case": row.case,
        "seconds": round(row.load.seconds, 3),
        "templates": row.load.templates,
        "caught_up": None if caught is None else [caught.added, caught.removed],
        "save_seconds": None if row.save_seconds is None else round(row.save_seconds, 3),
    }


if __name__ == "__main__":
    main()

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from facewatch.gallery.gallery import (
    Gallery,
    SyncReport,
    TemplateEntry,
    TemplateRef,
    erase_person_from_snapshot,
)
from facewatch.gallery.index import IndexConfig, IndexFileError, create_index


def unit(i: int, dim: int = 4) -> np.ndarray:
    v = np.zeros(dim, dtype=np.float32)
    v[i] = 1.0
    return v


def make_gallery() -> Gallery:
    gallery = Gallery("test", 4)
    gallery.add(
        [
            TemplateEntry(1, 100, "ada", unit(0)),
            TemplateEntry(2, 100, "ada", unit(1)),
            TemplateEntry(3, 200, "bob", unit(2)),
        ]
    )
    return gallery


def test_a_person_is_as_near_as_their_nearest_template() -> None:
    [cands] = make_gallery().nearest_people(unit(1)[None, :], k=3)
    assert [(c.name, round(c.distance, 3)) for c in cands] == [("ada", 0.0), ("bob", 1.414)]


def test_removing_a_person_removes_all_their_templates() -> None:
    gallery = make_gallery()
    assert gallery.remove_person(100) == 2
    [cands] = gallery.nearest_people(unit(0)[None, :], k=3)
    assert [c.name for c in cands] == ["bob"]
    assert len(gallery) == 1
    assert gallery.people_count == 1


def test_a_person_whose_last_template_is_removed_leaves_the_gallery() -> None:
    gallery = make_gallery()
    gallery.remove_templates([3])
    assert gallery.people_count == 1
    assert all(c.name == "ada" for c in gallery.nearest_people(unit(2)[None, :], k=2)[0])


def test_an_empty_gallery_offers_no_candidates() -> None:
    assert Gallery("test", 4).nearest_people(unit(0)[None, :], k=3) == [[]]


def test_a_saved_gallery_loads_back_with_the_same_answers(tmp_path: Path) -> None:
    gallery = make_gallery()
    gallery.save(tmp_path / "snapshot")
    loaded = Gallery.load(tmp_path / "snapshot", "test", 4)
    assert len(loaded) == 3
    assert loaded.people_count == 2
    assert loaded.nearest_people(unit(2)[None, :], k=2) == gallery.nearest_people(
        unit(2)[None, :], k=2
    )


def test_saving_again_replaces_the_snapshot_whole(tmp_path: Path) -> None:
    gallery = make_gallery()
    gallery.save(tmp_path / "snapshot")
    gallery.remove_person(100)
    gallery.save(tmp_path / "snapshot")
    assert len(Gallery.load(tmp_path / "snapshot", "test", 4)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["snapshot"]


def test_a_failed_save_leaves_the_previous_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gallery = make_gallery()
    gallery.save(tmp_path / "snapshot")

    def broken_write(folder: Path) -> None:
        (folder / "half-written").write_bytes(b"x")
        raise OSError("disk full")

    monkeypatch.setattr(gallery.index, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        gallery.save(tmp_path / "snapshot")
    assert len(Gallery.load(tmp_path / "snapshot", "test", 4)) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["snapshot"]


@pytest.mark.parametrize(("model", "dim"), [("other-model", 4), ("test", 8)])
def test_a_snapshot_of_another_model_is_refused(tmp_path: Path, model: str, dim: int) -> None:
    make_gallery().save(tmp_path / "snapshot")
    with pytest.raises(IndexFileError, match="embeddings"):
        Gallery.load(tmp_path / "snapshot", model, dim)


def test_a_missing_snapshot_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IndexFileError, match="no complete gallery snapshot"):
        Gallery.load(tmp_path / "nothing", "test", 4)


def test_what_is_saved_with_a_snapshot_comes_back_with_it(tmp_path: Path) -> None:
    make_gallery().save(tmp_path / "snapshot", {"saved_at": "2026-01-02T03:04:05+00:00"})
    loaded = Gallery.load(tmp_path / "snapshot", "test", 4)
    assert loaded.snapshot_meta == {"saved_at": "2026-01-02T03:04:05+00:00"}


@pytest.mark.parametrize(
    "damaged", ["templates.npy", "index/ids.npy", "index/vectors.npy", "index/manifest.json"]
)
def test_a_snapshot_with_a_damaged_file_is_refused(tmp_path: Path, damaged: str) -> None:
    make_gallery().save(tmp_path / "snapshot")
    path = tmp_path / "snapshot" / damaged
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # one flipped byte, same size
    path.write_bytes(bytes(data))
    with pytest.raises(IndexFileError, match="damaged"):
        Gallery.load(tmp_path / "snapshot", "test", 4)


def test_a_snapshot_with_a_missing_file_is_refused(tmp_path: Path) -> None:
    make_gallery().save(tmp_path / "snapshot")
    (tmp_path / "snapshot" / "index" / "vectors.npy").unlink()
    with pytest.raises(IndexFileError, match="damaged"):
        Gallery.load(tmp_path / "snapshot", "test", 4)


def test_a_snapshot_with_an_unreadable_manifest_is_refused(tmp_path: Path) -> None:
    make_gallery().save(tmp_path / "snapshot")
    (tmp_path / "snapshot" / "gallery.json").write_text('{"names": 3}', encoding="utf-8")
    with pytest.raises(IndexFileError, match="no complete gallery snapshot"):
        Gallery.load(tmp_path / "snapshot", "test", 4)


def test_sync_fetches_again_a_template_id_now_owned_by_someone_else() -> None:
    gallery = make_gallery()
    current = [TemplateRef(1, 100, "ada"), TemplateRef(2, 100, "ada"), TemplateRef(3, 300, "cy")]
    report = gallery.sync(current, lambda ids: [TemplateEntry(3, 300, "cy", unit(3))])
    assert report == SyncReport(added=1, removed=1, renamed=0)
    [cands] = gallery.nearest_people(unit(3)[None, :], k=3)
    assert cands[0].name == "cy"
    assert cands[0].distance == pytest.approx(0.0)
    assert "bob" not in {c.name for c in cands}


def test_sync_follows_the_database_list_of_templates() -> None:
    gallery = make_gallery()
    current = [TemplateRef(1, 100, "ada lovelace"), TemplateRef(4, 300, "cy")]
    fetched: list[list[int]] = []

    def fetch(ids: Sequence[int]) -> list[TemplateEntry]:
        fetched.append(list(ids))
        return [TemplateEntry(4, 300, "cy", unit(3))]

    report = gallery.sync(current, fetch)
    assert report == SyncReport(added=1, removed=2, renamed=1)
    assert fetched == [[4]]
    [cands] = gallery.nearest_people(unit(3)[None, :], k=3)
    assert [c.name for c in cands] == ["cy", "ada lovelace"]


def test_nearest_people_finds_each_person_once_through_an_hnsw_index() -> None:
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(300, 4)).astype(np.float32)
    gallery = Gallery("test", 4, create_index(4, IndexConfig(kind="hnsw")))
    gallery.add(TemplateEntry(i, i // 3, f"p{i // 3}", v) for i, v in enumerate(vectors))
    [cands] = gallery.nearest_people(vectors[7][None, :], k=5)
    assert cands[0].person_id == 2
    assert len({c.person_id for c in cands}) == 5


def test_erasing_a_person_from_a_snapshot_deletes_one_that_holds_them(tmp_path: Path) -> None:
    gallery = Gallery("m", 4)
    gallery.add([TemplateEntry(1, 7, "ada", np.ones(4, dtype=np.float32))])
    folder = tmp_path / "gallery"
    gallery.save(folder)
    (tmp_path / ".gallery.old-x").mkdir()  # a save cut short by a crash
    erase_person_from_snapshot(folder, 8)
    assert folder.exists()  # someone else's erasure keeps it
    assert not (tmp_path / ".gallery.old-x").exists()  # but not the leftover
    assert erase_person_from_snapshot(folder, 7)
    assert not folder.exists()

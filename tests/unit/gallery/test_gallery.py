import numpy as np

from facewatch.gallery.gallery import Gallery, TemplateEntry


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

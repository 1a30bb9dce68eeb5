import pytest

from facewatch.gallery.matching import Thresholds, assign, decide
from facewatch.types import Candidate, MatchStatus

T = Thresholds(match=0.5, unknown=0.6)


@pytest.mark.parametrize(
    ("distance", "status", "named"),
    [
        (0.30, MatchStatus.KNOWN, True),
        (0.50, MatchStatus.KNOWN, True),
        (0.55, MatchStatus.UNCERTAIN, True),
        (0.60, MatchStatus.UNKNOWN, False),
        (0.90, MatchStatus.UNKNOWN, False),
    ],
)
def test_the_two_thresholds_split_known_uncertain_and_unknown(
    distance: float, status: MatchStatus, named: bool
) -> None:
    match = decide([Candidate(1, "ada", distance)], T)
    assert match.status is status
    assert (match.person_id == 1) is named
    assert match.distance == distance


def test_confidence_falls_as_distance_grows() -> None:
    confidences = [decide([Candidate(1, "a", d)], T).confidence for d in (0.3, 0.5, 0.55)]
    assert confidences == sorted(confidences, reverse=True)
    assert 0.85 < confidences[1] < 0.9


def test_an_empty_gallery_makes_everyone_unknown() -> None:
    match = decide([], T)
    assert match.status is MatchStatus.UNKNOWN
    assert match.distance is None


def test_two_faces_never_get_the_same_person() -> None:
    faces = [
        [Candidate(1, "ada", 0.45), Candidate(2, "bob", 0.48)],
        [Candidate(1, "ada", 0.30), Candidate(2, "bob", 0.70)],
    ]
    first, second = assign(faces, T)
    assert second.name == "ada"
    assert first.name == "bob"
    assert first.status is MatchStatus.KNOWN


def test_a_face_whose_only_candidate_went_to_a_closer_face_is_unknown() -> None:
    faces = [[Candidate(1, "ada", 0.45)], [Candidate(1, "ada", 0.35)]]
    first, second = assign(faces, T)
    assert second.name == "ada"
    assert first.status is MatchStatus.UNKNOWN
    assert first.person_id is None

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facewatch.config import Settings
from facewatch.errors import ConfigurationError
from facewatch.gallery.matching import Thresholds, assign, decide, decision_score, thresholds_from
from facewatch.types import Candidate, MatchStatus
from facewatch.vision.embedders.factory import MODEL_SPECS

T = Thresholds(match=0.5, unknown=0.6, margin_weight=0)
"""Distance alone: the tests of the two thresholds and of unique assignment."""
MARGIN = Thresholds(match=0.5, unknown=0.6, margin_weight=1.0, margin_cap=0.1)


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


# --- the runner-up margin ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidates", "status", "score"),
    [
        ([("ada", 0.45), ("bob", 0.70)], MatchStatus.KNOWN, 0.45),  # clear lead: no penalty
        ([("ada", 0.45), ("bob", 0.55)], MatchStatus.KNOWN, 0.45),  # lead = cap: no penalty
        ([("ada", 0.45), ("bob", 0.47)], MatchStatus.UNCERTAIN, 0.53),  # between two people
        ([("ada", 0.45), ("bob", 0.45)], MatchStatus.UNCERTAIN, 0.55),  # a tie: full penalty
        ([("ada", 0.45)], MatchStatus.KNOWN, 0.45),  # nobody else in sight
        ([("ada", 0.52), ("bob", 0.53)], MatchStatus.UNKNOWN, 0.61),
    ],
)
def test_a_face_near_two_people_is_held_back_by_the_margin(
    candidates: list[tuple[str, float]], status: MatchStatus, score: float
) -> None:
    cands = [Candidate(i, name, d) for i, (name, d) in enumerate(candidates)]
    assert decision_score(cands, MARGIN) == pytest.approx(score)
    assert decide(cands, MARGIN).status is status
    assert decide(cands, MARGIN).distance == candidates[0][1]


RANK = {MatchStatus.KNOWN: 0, MatchStatus.UNCERTAIN: 1, MatchStatus.UNKNOWN: 2}


@settings(max_examples=200, database=None)
@given(
    distances=st.lists(st.floats(0.0, 1.2), min_size=1, max_size=5),
    weight=st.floats(0.0, 3.0),
    cap=st.floats(0.0, 0.3),
)
def test_the_margin_never_names_a_face_the_distance_alone_would_not(
    distances: list[float], weight: float, cap: float
) -> None:
    cands = [Candidate(i, f"p{i}", d) for i, d in enumerate(sorted(distances))]
    with_margin = decide(cands, Thresholds(0.5, 0.6, margin_weight=weight, margin_cap=cap))
    alone = decide(cands, T)
    assert RANK[with_margin.status] >= RANK[alone.status]


def test_a_face_that_fell_back_to_its_second_person_is_not_named_outright() -> None:
    # Face 0 looks more like ada, but ada is face 1: bob is a fallback, not a certainty.
    faces = [
        [Candidate(1, "ada", 0.45), Candidate(2, "bob", 0.48)],
        [Candidate(1, "ada", 0.30), Candidate(2, "bob", 0.70)],
    ]
    first, second = assign(faces, MARGIN)
    assert second.status is MatchStatus.KNOWN
    assert first.name == "bob"
    assert first.status is MatchStatus.UNCERTAIN


def test_the_settings_configure_the_margin() -> None:
    dlib = MODEL_SPECS["dlib_resnet_v1"].defaults
    configured = thresholds_from(Settings(margin_weight=0.5, margin_cap=0.2).recognition(dlib))
    assert (configured.margin_weight, configured.margin_cap) == (0.5, 0.2)
    assert thresholds_from(Settings().recognition(dlib)) == Thresholds(0.5, 0.6)


@pytest.mark.parametrize("model", ["dlib_resnet_v1", "edgeface_xs_int8"])
def test_unset_thresholds_are_the_models_own(model: str) -> None:
    defaults = MODEL_SPECS[model].defaults
    resolved = Settings().recognition(defaults)
    assert (resolved.match_threshold, resolved.unknown_threshold) == (
        defaults.match_threshold,
        defaults.unknown_threshold,
    )
    assert resolved.cluster_threshold == defaults.cluster_threshold


def test_a_threshold_set_applies_whatever_the_model() -> None:
    for spec in MODEL_SPECS.values():
        assert Settings(match_threshold=0.3).recognition(spec.defaults).match_threshold == 0.3


def test_thresholds_that_cross_once_resolved_are_refused() -> None:
    edgeface = MODEL_SPECS["edgeface_xs_int8"].defaults
    with pytest.raises(ConfigurationError, match="below match_threshold"):
        Settings(unknown_threshold=0.5).recognition(edgeface)


def test_a_negative_margin_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        Thresholds(0.5, 0.6, margin_weight=-1)


@pytest.mark.parametrize("thresholds", [T, MARGIN], ids=["distance alone", "margin rule"])
@pytest.mark.parametrize("distance", [0.0, 0.2])
def test_a_face_exactly_as_near_to_two_people_is_not_named(
    thresholds: Thresholds, distance: float
) -> None:
    tie = [Candidate(1, "ada", distance), Candidate(2, "bob", distance + 1e-6)]
    match = decide(tie, thresholds)
    assert match.status is MatchStatus.UNCERTAIN
    (assigned,) = assign([tie], thresholds)
    assert assigned.status is MatchStatus.UNCERTAIN


def test_a_face_clearly_nearer_to_one_of_two_people_is_named() -> None:
    match = decide([Candidate(1, "ada", 0.0), Candidate(2, "bob", 0.01)], T)
    assert (match.status, match.name) == (MatchStatus.KNOWN, "ada")

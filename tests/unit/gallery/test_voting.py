from facewatch.gallery.matching import Thresholds, decide
from facewatch.gallery.voting import VotePolicy, vote
from facewatch.types import Candidate, Match, MatchStatus

T = Thresholds(match=0.5, unknown=0.6)


def face(name: str | None, distance: float) -> Match:
    ids = {"ada": 1, "bob": 2}
    if name is None:
        return decide([], T)
    return decide([Candidate(ids[name], name, distance)], T)


def test_a_track_that_agrees_is_named() -> None:
    result = vote([face("ada", 0.4), face("ada", 0.45), face("ada", 0.58)], T)
    assert result.status is MatchStatus.KNOWN
    assert result.name == "ada"
    assert result.distance == 0.45


def test_one_lucky_frame_in_a_long_track_does_not_name_anyone() -> None:
    result = vote([face("ada", 0.49), face(None, 0), face(None, 0), face(None, 0)], T)
    assert result.status is MatchStatus.UNCERTAIN


def test_a_one_frame_track_is_named_by_its_frame() -> None:
    assert vote([face("bob", 0.4)], T).name == "bob"


def test_a_split_vote_is_uncertain() -> None:
    result = vote([face("ada", 0.4), face("bob", 0.4)], T)
    assert result.status is MatchStatus.UNCERTAIN


def test_a_track_of_strangers_is_unknown() -> None:
    result = vote([face("ada", 0.7), face("bob", 0.8)], T)
    assert result.status is MatchStatus.UNKNOWN
    assert result.person_id is None


def test_the_policy_sets_how_many_named_frames_are_needed() -> None:
    track = [face("ada", 0.4), face("ada", 0.55), face("ada", 0.55)]
    assert vote(track, T, VotePolicy(min_known=1)).status is MatchStatus.KNOWN
    assert vote(track, T, VotePolicy(min_known=2)).status is MatchStatus.UNCERTAIN

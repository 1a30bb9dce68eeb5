"""Mode local: the gallery copy (parsed, kept on disk), its sync, and the on-site decision.

The server is faked at the httpx transport seam; vectors are small made-up points, enough
to show the decision's geometry (real faces: tests/integration/edge/test_local.py).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from facewatch.edge.gallery_copy import GalleryCopy, GallerySync
from facewatch.edge.recognition import LocalRecognizer
from facewatch.edge.uplink import GalleryUnavailable, Uplink
from facewatch.types import MatchStatus

DIM = 4
MODEL = "dlib_resnet_v1"


def vector(*values: float) -> str:
    return base64.b64encode(np.array(values, dtype="<f4").tobytes()).decode()


def answer(version: str = "v1", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": version,
        "model_id": MODEL,
        "dim": DIM,
        "top_k": 3,
        "thresholds": {
            "match_threshold": 0.5,
            "unknown_threshold": 0.6,
            "margin_weight": 1.0,
            "margin_cap": 0.1,
        },
        "people": [
            {"id": 1, "name": "Ada", "category": "staff"},
            {"id": 2, "name": "Bo", "category": "watchlist"},
        ],
        "templates": [
            {"id": 10, "person_id": 1, "embedding": vector(0, 0, 0, 0)},
            {"id": 11, "person_id": 2, "embedding": vector(2, 0, 0, 0)},
        ],
    }
    return {**body, **changes}


def test_a_copy_survives_a_round_trip_to_disk_readable_by_the_owner_only(
    tmp_path: Path,
) -> None:
    copy = GalleryCopy.from_answer(answer())
    path = tmp_path / "sub" / "gallery.npz"
    copy.save(path)
    loaded = GalleryCopy.load(path)
    assert loaded is not None
    assert (loaded.version, loaded.model_id, loaded.top_k) == ("v1", MODEL, 3)
    assert loaded.people == copy.people
    assert loaded.thresholds == copy.thresholds
    np.testing.assert_array_equal(loaded.embeddings, copy.embeddings)
    assert loaded.template_people.tolist() == [1, 2]
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["gallery.npz"]  # no staging file left


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"templates": [{"id": 1, "person_id": 1, "embedding": "***"}]}, "malformed"),
        ({"templates": [{"id": 1, "person_id": 1, "embedding": vector(1, 2)}]}, "float32"),
        ({"templates": [{"id": 1, "person_id": 9, "embedding": vector(1, 2, 3, 4)}]}, "nobody"),
        ({"thresholds": {"match_threshold": 0.5}}, "malformed"),
    ],
)
def test_a_malformed_answer_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(GalleryUnavailable, match=message):
        GalleryCopy.from_answer(answer(**changes))


def test_an_unreadable_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "gallery.npz"
    path.write_bytes(b"not a gallery")
    assert GalleryCopy.load(path) is None
    assert GalleryCopy.load(tmp_path / "missing.npz") is None


@pytest.mark.parametrize(
    ("face", "status", "name"),
    [
        ((0.1, 0, 0, 0), MatchStatus.KNOWN, "Ada"),
        ((1.9, 0, 0, 0), MatchStatus.KNOWN, "Bo"),
        ((0.55, 0, 0, 0), MatchStatus.UNCERTAIN, "Ada"),
        ((0, 5, 0, 0), MatchStatus.UNKNOWN, None),
    ],
)
def test_the_on_site_decision_is_the_servers_open_set_rule(
    face: tuple[float, ...], status: MatchStatus, name: str | None
) -> None:
    recognizer = LocalRecognizer(MODEL)
    assert recognizer.recognise([np.zeros(DIM, np.float32)]) is None  # no copy yet
    recognizer.use(GalleryCopy.from_answer(answer()))
    (verdict,) = recognizer.recognise([np.array(face, dtype=np.float32)]) or []
    assert verdict.match.status is status
    assert verdict.match.name == (name if status is not MatchStatus.UNKNOWN else None)
    if status is MatchStatus.KNOWN:
        assert verdict.category == {"Ada": "staff", "Bo": "watchlist"}[name or ""]


def test_two_faces_of_one_frame_are_never_the_same_person() -> None:
    recognizer = LocalRecognizer(MODEL)
    recognizer.use(GalleryCopy.from_answer(answer()))
    near, nearer = np.array([0.2, 0, 0, 0], np.float32), np.array([0.1, 0, 0, 0], np.float32)
    verdicts = recognizer.recognise([near, nearer]) or []
    assert [v.match.name for v in verdicts if v.match.status is MatchStatus.KNOWN] == ["Ada"]
    assert verdicts[1].match.status is MatchStatus.KNOWN


def test_a_copy_of_another_model_is_not_used() -> None:
    recognizer = LocalRecognizer(MODEL)
    recognizer.use(GalleryCopy.from_answer(answer(model_id="another-model")))
    assert not recognizer.ready


class FakeServer:
    """Answers the gallery route with ``body`` (a 304 for its version), or is down."""

    def __init__(self) -> None:
        self.body = answer()
        self.down = False
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.down:
            raise httpx.ConnectError("refused")
        if request.url.params.get("since") == self.body["version"]:
            return httpx.Response(304)
        return httpx.Response(200, json=self.body)


def syncer(server: FakeServer, path: Path, listener: Callable[[GalleryCopy], None]) -> GallerySync:
    link = Uplink("http://s", "k", edge_id="e", transport=httpx.MockTransport(server))
    return GallerySync(link, path, interval=3600, listener=listener)


def test_the_sync_keeps_the_last_copy_while_the_server_is_down_and_follows_changes(
    tmp_path: Path,
) -> None:
    server, used = FakeServer(), []
    sync = syncer(server, tmp_path / "g.npz", used.append)
    sync.start()
    try:
        assert [c.version for c in used] == ["v1"]
        assert sync.refresh() is False  # unchanged: a 304
        server.down = True
        assert sync.refresh() is False
        assert sync.copy is not None
        assert sync.copy.version == "v1"
        server.down = False
        server.body = answer(
            "v2", people=answer()["people"][:1], templates=answer()["templates"][:1]
        )
        assert sync.refresh() is True
        assert [c.version for c in used] == ["v1", "v2"]
    finally:
        sync.stop()


def test_a_restart_while_offline_recognises_with_the_copy_on_disk(tmp_path: Path) -> None:
    online, path = FakeServer(), tmp_path / "g.npz"
    first = syncer(online, path, lambda _: None)
    first.start()
    first.stop()
    offline, used = FakeServer(), []
    offline.down = True
    second = syncer(offline, path, used.append)
    second.start()  # the copy on disk is used at once, before the server is asked
    assert [c.version for c in used] == ["v1"]
    assert second.refresh() is False  # the server is down: the copy stays
    second.stop()
    assert [c.version for c in used] == ["v1"]

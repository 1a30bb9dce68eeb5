"""What operators do to strangers: name, "not X", split, merge, delete."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from facewatch.server.infra.runtime import Runtime
from integration.unknowns.faces import Ingest, jpeg
from support import assert_error

UNKNOWNS = "/api/v1/unknowns"


@pytest.fixture(scope="module")
def obama_id(client: TestClient, admin: dict[str, str], knn: Path) -> int:
    """Obama enrolled from his two training photos."""
    created = client.post("/api/v1/people", json={"name": "obama"}, headers=admin).json()
    photos = sorted((knn / "train/obama").iterdir())
    files = [("images", (p.name, p.read_bytes())) for p in photos]
    added = client.post(f"/api/v1/people/{created['id']}/faces", files=files, headers=admin)
    assert added.status_code == 201, added.text
    person_id: int = created["id"]
    return person_id


def test_naming_a_stranger_makes_their_later_detections_carry_the_name(
    client: TestClient, admin: dict[str, str], ingest: Ingest, knn: Path
) -> None:
    [first] = ingest(jpeg(knn / "train/biden/biden.jpg"), camera_id="gate")
    named = client.post(
        f"{UNKNOWNS}/{first['unknown_id']}/name",
        json={"name": "joe", "category": "staff"},
        headers=admin,
    )
    assert named.status_code == 201, named.text
    body = named.json()
    assert (body["templates_added"], body["detections"]) == (1, 1)
    assert body["person"]["templates"] == 1
    [later] = ingest(jpeg(knn / "train/biden/biden2.jpg"), camera_id="lobby")
    assert (later["status"], later["name"]) == ("known", "joe")
    earlier = client.get(
        "/api/v1/detections", params={"person_id": body["person"]["id"]}, headers=admin
    )
    assert first["id"] in {d["id"] for d in earlier.json()["items"]}
    listed = client.get(UNKNOWNS, headers=admin).json()["items"]
    assert first["unknown_id"] not in {u["id"] for u in listed}  # no longer a stranger
    again = client.post(f"{UNKNOWNS}/{first['unknown_id']}/name", json={"name": "x"}, headers=admin)
    assert_error(again, 409)


def test_a_face_marked_not_a_person_is_never_named_them_again(
    client: TestClient,
    admin: dict[str, str],
    ingest: Ingest,
    knn: Path,
    obama_id: int,
    runtime: Runtime,
) -> None:
    photo = jpeg(knn / "test/obama1.jpg")
    [named] = ingest(photo, camera_id="door")
    assert named["person_id"] == obama_id
    marked = client.post(
        f"{UNKNOWNS}/detections/{named['id']}/not", json={"person_id": obama_id}, headers=admin
    )
    assert marked.status_code == 200, marked.text
    moved_to = marked.json()["moved_to"]
    assert moved_to is not None
    [again] = ingest(photo, camera_id="door")
    assert again["person_id"] is None
    assert again["status"] == "unknown"
    assert again["unknown_id"] == moved_to  # the look-alike is one stranger
    elsewhere = ingest(jpeg(knn / "train/obama/obama2.jpg"), camera_id="door")
    assert [face["person_id"] for face in elsewhere] == [obama_id]  # obama is still obama
    with runtime.uow() as uow:  # the same face embedded on an edge box
        embedding = uow.detections.get(named["id"]).embedding
    assert embedding is not None
    edge = client.post(
        "/api/v1/edge/embeddings",
        files={"embedding": ("e.bin", embedding)},
        data={"camera_id": "door", "model": runtime.model_id, "box": "0,0,90,90"},
        headers=admin,
    )
    assert edge.status_code == 201, edge.text
    assert edge.json()["detections"][0]["person_id"] is None


def test_a_stranger_marked_not_a_person_cannot_be_named_them(
    client: TestClient, admin: dict[str, str], ingest: Ingest, knn: Path, obama_id: int
) -> None:
    [face] = ingest(jpeg(knn / "train/rose_leslie/img1.jpg"))
    url = f"{UNKNOWNS}/{face['unknown_id']}"
    assert client.post(f"{url}/not", json={"person_id": obama_id}, headers=admin).status_code == 200
    assert_error(client.post(f"{url}/name", json={"person_id": obama_id}, headers=admin), 409)


def test_a_face_marked_not_a_stranger_leaves_them_and_stays_out_after_reclustering(
    client: TestClient, admin: dict[str, str], ingest: Ingest, johns: dict[str, list[Path]]
) -> None:
    chips = johns["John_Shimkus"][6:9]
    faces = [ingest(chip.read_bytes(), camera_id="porch")[0] for chip in chips]
    [stranger] = {face["unknown_id"] for face in faces}
    marked = client.post(
        f"{UNKNOWNS}/detections/{faces[0]['id']}/not", json={"unknown_id": stranger}, headers=admin
    )
    assert marked.status_code == 200, marked.text
    moved_to = marked.json()["moved_to"]
    assert moved_to not in (None, stranger)
    assert client.post(f"{UNKNOWNS}/recluster", headers=admin).status_code == 200
    face = client.get("/api/v1/detections", params={"camera_id": "porch"}, headers=admin)
    now = {d["id"]: d["unknown_id"] for d in face.json()["items"]}
    assert now[faces[0]["id"]] != now[faces[1]["id"]]
    assert now[faces[1]["id"]] == now[faces[2]["id"]]


def test_a_split_makes_a_new_stranger_that_cannot_be_merged_back(
    client: TestClient, admin: dict[str, str], ingest: Ingest, johns: dict[str, list[Path]]
) -> None:
    chips = johns["John_Savage"][:4]
    faces = [ingest(chip.read_bytes(), camera_id="hall")[0] for chip in chips]
    [unknown_id] = {face["unknown_id"] for face in faces}
    split = client.post(
        f"{UNKNOWNS}/{unknown_id}/split",
        json={"detection_ids": [faces[0]["id"]]},
        headers=admin,
    )
    assert split.status_code == 201, split.text
    new = split.json()
    assert (new["detections"], new["curated"]) == (1, True)
    kept = client.get(f"{UNKNOWNS}/{unknown_id}", headers=admin).json()
    assert kept["detections"] == 3
    merge = client.post(
        f"{UNKNOWNS}/{unknown_id}/merge", json={"other_id": new["id"]}, headers=admin
    )
    assert_error(merge, 409)


def test_merging_two_strangers_moves_every_face_and_removes_the_other(
    client: TestClient, admin: dict[str, str], ingest: Ingest, johns: dict[str, list[Path]]
) -> None:
    [a] = ingest(johns["John_Simm"][0].read_bytes())
    [b] = ingest(johns["John_Shimkus"][0].read_bytes())
    assert a["unknown_id"] != b["unknown_id"]
    counts = [
        client.get(f"{UNKNOWNS}/{face['unknown_id']}", headers=admin).json()["detections"]
        for face in (a, b)
    ]
    merged = client.post(
        f"{UNKNOWNS}/{a['unknown_id']}/merge", json={"other_id": b["unknown_id"]}, headers=admin
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["detections"] == sum(counts)
    assert_error(client.get(f"{UNKNOWNS}/{b['unknown_id']}", headers=admin), 404)


def side_by_side(*chips: Path) -> bytes:
    """One frame holding the chips next to each other on a grey background."""
    frame = Image.new("RGB", (100 + 250 * len(chips), 300), (128, 128, 128))
    for n, chip in enumerate(chips):
        frame.paste(Image.open(chip).convert("RGB"), (75 + 250 * n, 75))
    buffer = io.BytesIO()
    frame.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def test_two_strangers_seen_together_in_one_frame_cannot_be_merged(
    client: TestClient, admin: dict[str, str], ingest: Ingest, johns: dict[str, list[Path]]
) -> None:
    frame = side_by_side(johns["John_Simm"][5], johns["John_Savage"][5])
    faces = ingest(frame, camera_id="stage")
    strangers = [face["unknown_id"] for face in faces]
    assert len(strangers) == 2
    merge = client.post(
        f"{UNKNOWNS}/{strangers[0]}/merge", json={"other_id": strangers[1]}, headers=admin
    )
    assert_error(merge, 409)


def test_deleting_a_stranger_deletes_their_detections(
    client: TestClient, admin: dict[str, str], ingest: Ingest, johns: dict[str, list[Path]]
) -> None:
    [face] = ingest(johns["John_Schneider"][0].read_bytes(), camera_id="bin")
    deleted = client.delete(f"{UNKNOWNS}/{face['unknown_id']}", headers=admin)
    assert deleted.status_code == 204
    left = client.get("/api/v1/detections", params={"camera_id": "bin"}, headers=admin).json()
    assert left["total"] == 0


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("name", {"name": "a", "person_id": 1}, 422),
        ("name", {}, 422),
        ("not", {}, 422),
        ("split", {"detection_ids": []}, 422),
        ("merge", {"other_id": "unknown-000000000000"}, 404),
    ],
    ids=["name and person", "nobody", "not nothing", "split nothing", "merge a missing one"],
)
def test_bad_operator_requests_are_refused_with_a_clear_error(
    client: TestClient,
    admin: dict[str, str],
    ingest: Ingest,
    johns: dict[str, list[Path]],
    path: str,
    body: dict[str, object],
    status: int,
) -> None:
    [face] = ingest(johns["John_Salley"][0].read_bytes())
    assert_error(
        client.post(f"{UNKNOWNS}/{face['unknown_id']}/{path}", json=body, headers=admin), status
    )


def test_splitting_off_a_face_of_someone_else_is_a_400(
    client: TestClient, admin: dict[str, str], ingest: Ingest, johns: dict[str, list[Path]]
) -> None:
    [a] = ingest(johns["John_Salley"][1].read_bytes())
    [b] = ingest(johns["John_Simm"][1].read_bytes())
    split = client.post(
        f"{UNKNOWNS}/{a['unknown_id']}/split", json={"detection_ids": [b["id"]]}, headers=admin
    )
    assert_error(split, 400)


def test_a_stranger_seen_only_before_a_model_switch_can_still_be_split(
    client: TestClient,
    admin: dict[str, str],
    runtime: Runtime,
    ingest: Ingest,
    johns: dict[str, list[Path]],
) -> None:
    chips = johns["John_Savage"][4:7]
    faces = [ingest(chip.read_bytes(), camera_id="old-model")[0] for chip in chips]
    [unknown_id] = {face["unknown_id"] for face in faces}
    with runtime.uow() as uow:  # as if embedded by a model that no longer serves
        for face in faces:
            uow.detections.get(face["id"]).model = "retired_model"
        uow.commit()
    split = client.post(
        f"{UNKNOWNS}/{unknown_id}/split",
        json={"detection_ids": [faces[0]["id"]]},
        headers=admin,
    )
    assert split.status_code == 201, split.text
    [later] = ingest(johns["John_Savage"][7].read_bytes(), camera_id="old-model")
    assert later["status"] == "unknown"

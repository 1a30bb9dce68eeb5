"""Encryption at rest through the real app: what is stored is sealed, a server without the
key (or with another) reads nothing, and a rotation re-encrypts and renames everything."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import LargeBinary, select, type_coerce

from facewatch.config import Settings
from facewatch.errors import EncryptionKeyError
from facewatch.security.crypto import is_encrypted, new_master_key, person_key_id
from facewatch.server.infra.runtime import Runtime
from facewatch.server.services.encryption import rotate_key
from facewatch.store.models import Image, Template
from support import upload
from support_security import blob_files, make_key, runtime_of

JPEG_MAGIC, PNG_MAGIC = b"\xff\xd8\xff", b"\x89PNG"


def _enrol(client: TestClient, knn: Path) -> tuple[dict[str, str], list[bytes]]:
    admin = make_key(runtime_of(client), "admin")
    person = client.post("/api/v1/people", json={"name": "biden"}, headers=admin).json()
    photos = sorted((knn / "train" / "biden").iterdir())
    files = [("images", (p.name, p.read_bytes())) for p in photos]
    added = client.post(f"/api/v1/people/{person['id']}/faces", files=files, headers=admin)
    assert added.status_code == 201, added.text
    return admin, [p.read_bytes() for p in photos]


def _raw_embeddings(runtime: Runtime) -> list[bytes]:
    with runtime.uow() as uow:
        return list(uow.session.scalars(select(type_coerce(Template.embedding, LargeBinary))))


def _embeddings(runtime: Runtime) -> list[bytes]:
    """The embeddings as the application reads them (opened with the configured key)."""
    with runtime.uow() as uow:
        return list(uow.session.scalars(select(Template.embedding)))


def _recognised(client: TestClient, knn: Path, headers: dict[str, str]) -> list[str | None]:
    answer = client.post(
        "/api/v1/recognize", files=upload(knn / "test" / "obama_and_biden.jpg"), headers=headers
    )
    assert answer.status_code == 200, answer.text
    return [face["name"] for face in answer.json()["faces"]]


@pytest.fixture(scope="module")
def encrypted(
    app_factory: Callable[..., TestClient], knn: Path
) -> tuple[TestClient, dict[str, str], list[bytes]]:
    client = app_factory()
    admin, photos = _enrol(client, knn)
    return client, admin, photos


def test_stored_embeddings_and_photos_are_sealed_and_recognition_still_works(
    encrypted: tuple[TestClient, dict[str, str], list[bytes]], knn: Path
) -> None:
    client, admin, photos = encrypted
    runtime = runtime_of(client)
    stored = _raw_embeddings(runtime)
    assert stored
    assert all(person_key_id(value) is not None for value in stored)  # under the person's key
    files = blob_files(runtime.settings)
    assert files
    for path in files:
        data = path.read_bytes()
        assert is_encrypted(data)
        assert not data.startswith((JPEG_MAGIC, PNG_MAGIC))
    plain_names = {hashlib.sha256(photo).hexdigest() for photo in photos}
    assert not plain_names & {p.name for p in files}  # names do not leak the photos' hashes
    assert "biden" in _recognised(client, knn, admin)


def test_a_photo_is_served_decrypted_to_a_logged_in_user(
    encrypted: tuple[TestClient, dict[str, str], list[bytes]],
) -> None:
    client, _, photos = encrypted
    runtime = runtime_of(client)
    with runtime.uow() as uow:
        key = uow.session.scalars(select(Image.sha256)).first()
    assert key is not None
    assert runtime.blobs.get(key) in photos


def _reopen(settings: Settings, **changes: object) -> Runtime:
    return Runtime.open(Settings(**(settings.model_dump(exclude_unset=True) | changes)))


def test_without_the_key_or_with_another_nothing_is_readable(
    encrypted: tuple[TestClient, dict[str, str], list[bytes]],
) -> None:
    client, _, _ = encrypted
    settings = runtime_of(client).settings
    for key in (None, new_master_key()):
        runtime = _reopen(settings, encryption_key=key)
        try:
            with pytest.raises(EncryptionKeyError):
                _embeddings(runtime)
            with runtime.uow() as uow:
                image_key = uow.session.scalars(select(Image.sha256)).first()
            assert image_key is not None
            with pytest.raises(EncryptionKeyError):
                runtime.blobs.get(image_key)
        finally:
            runtime.close()


def test_rotation_reencrypts_everything_and_the_old_key_can_then_go(
    app_factory: Callable[..., TestClient], knn: Path
) -> None:
    client = app_factory(encryption_key=None)  # starts with the install key: rotation moves it
    _, photos = _enrol(client, knn)
    settings = runtime_of(client).settings
    clear_names = {p.name for p in blob_files(settings)}
    first, second = new_master_key(), new_master_key()
    for key, old in ((first, None), (second, first)):
        runtime = _reopen(settings, encryption_key=key, encryption_old_keys=old)
        try:
            report = rotate_key(runtime)
            # The person's key is wrapped anew; their templates stay sealed under it.
            assert report.embeddings == 1
            assert report.blobs == 2
            assert rotate_key(runtime).embeddings == 0  # nothing left to do
        finally:
            runtime.close()
    runtime = _reopen(settings, encryption_key=second)
    try:
        assert [len(e) for e in _embeddings(runtime)] == [2048, 2048]  # 512 float32 values
        names = {p.name for p in blob_files(settings)}
        assert len(names) == 2
        assert not names & clear_names
        with runtime.uow() as uow:
            keys = list(uow.session.scalars(select(Image.sha256)))
        assert sorted(runtime.blobs.get(k) for k in keys) == sorted(photos)
    finally:
        runtime.close()

"""Form input for dashboard routes: validation through the API's own schemas, uploads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import UploadFile
from pydantic import BaseModel, ValidationError

from facewatch.errors import InvalidInput
from facewatch.server.schemas import RejectedFile
from facewatch.server.services.enrollment import Upload
from facewatch.server.uploads import read_upload

M = TypeVar("M", bound=BaseModel)
MAX_FILES = 100


def parse(model: type[M], **values: Any) -> M:
    """``model`` built from form values; ``InvalidInput`` naming the first bad field."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "form"
        raise InvalidInput(f"{where}: {first['msg']}") from None


def blank_to_none(value: str | None) -> str | None:
    """Empty form fields mean "not given"."""
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


def read_uploads(
    files: list[UploadFile], max_bytes: int
) -> tuple[list[Upload], list[RejectedFile]]:
    """The readable uploads, and a rejection for each empty or oversized one."""
    if len(files) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} photos at once")
    uploads: list[Upload] = []
    unreadable: list[RejectedFile] = []
    for file in files:
        if not file.filename and not file.size:
            continue  # the browser sends an empty part when no file was chosen
        try:
            uploads.append(read_upload(file, max_bytes))
        except InvalidInput as exc:
            unreadable.append(RejectedFile.of(file.filename or "upload", exc))
    return uploads, unreadable


def parse_time(value: str, label: str) -> datetime | None:
    """A ``datetime-local`` input (UTC unless it says otherwise); None when blank."""
    if not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"'{label}' is not a date and time: {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

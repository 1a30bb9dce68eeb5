"""Reading uploaded files with a size cap."""

from __future__ import annotations

from fastapi import UploadFile

from facewatch.errors import InvalidImage, PayloadTooLarge
from facewatch.server.services.enrollment import Upload


def read_upload(file: UploadFile, max_bytes: int) -> Upload:
    """The bytes of one uploaded file, refusing empty files and files over ``max_bytes``."""
    name = file.filename or "upload"
    if file.size is not None and file.size > max_bytes:
        raise PayloadTooLarge(f"{name}: file over {max_bytes} bytes")
    data = file.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{name}: file over {max_bytes} bytes")
    if not data:
        raise InvalidImage(f"{name}: empty file")
    return Upload(filename=name, data=data)

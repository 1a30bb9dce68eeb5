"""The fields every ingest item carries, whether as form fields or in a batch manifest."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

CAMERA_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
KEY_PATTERN = r"^[\x21-\x7e]+$"
"""An idempotency key: printable ASCII, no spaces (the agent's ``camera:run:track:shot``)."""

CameraId = Annotated[str, StringConstraints(pattern=CAMERA_ID_PATTERN)]
IdempotencyKey = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=KEY_PATTERN)
]
ModelId = Annotated[str, StringConstraints(max_length=80)]
"""An embedding model's id (``vision.embedders.specs``: ``edgeface_xs_int8``...)."""

FACE_BOX = "face_box"
"""Form field of a crop: where its face lies in it, ``"l,t,r,b"`` (a hint the server checks)."""
BOX = "box"
"""Form field of an embedding: the face box in the camera frame, ``"l,t,r,b"``."""
MODEL = "model"
QUALITY = "quality"

"""The old API's request fields: where it read each one, and what it said when one was wrong.

Files came from the multipart body; the other fields from the form or the query string.
The help texts and messages are those of its Flask-RESTPlus parsers, which old clients may
show to their users.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, UploadFile
from starlette.datastructures import UploadFile as StarletteUploadFile

from facewatch.server.compat.errors import PayloadInvalid

FILES = "an uploaded file"
VALUES = "the JSON body or the post body or the query string"
_ECHO_CHARS = 40


@dataclass(frozen=True, slots=True)
class OldField:
    """One request field of the old API: its name, help text and where it was read."""

    name: str
    help: str
    where: str

    def invalid(self, problem: str) -> PayloadInvalid:
        """The refusal of this field, worded as the old parser worded it."""
        return PayloadInvalid({self.name: f"{self.help} {problem}"})

    def missing(self) -> PayloadInvalid:
        return self.invalid(f"Missing required parameter in {self.where}")


IMAGE_TO_ADD = OldField("image", "Image to add.", FILES)
IMAGE_TO_RECOGNISE = OldField(
    "image", "Image with which the face recognition will be performed.", FILES
)
INCLUDE_PREDICTIONS = OldField(
    "include_predictions",
    "Whether to include all possible predictions and their probability for each face in "
    "the response.",
    VALUES,
)
CAMERA_ID = OldField("camera_id", "Camera identifier.", VALUES)
LOCATION_ID = OldField("location_id", "Location identifier.", VALUES)


def required_file(field: OldField, value: StarletteUploadFile | str | None) -> UploadFile:
    """The uploaded file; a plain text field of that name counts as missing, as it did."""
    if isinstance(value, UploadFile):
        return value
    if isinstance(value, StarletteUploadFile):
        # What FastAPI hands over for a union type: the base of its own UploadFile.
        return UploadFile(
            value.file, size=value.size, filename=value.filename, headers=value.headers
        )
    raise field.missing()


def required_text(field: OldField, form_value: str | None, request: Request) -> str:
    """A text field from the form, else from the query string."""
    value = form_value if form_value is not None else request.query_params.get(field.name)
    if value is None:
        raise field.missing()
    return value


def optional_boolean(field: OldField, form_value: str | None, request: Request) -> bool:
    """A boolean field (``true``/``1`` or ``false``/``0``, any case); absent means false."""
    value = form_value if form_value is not None else request.query_params.get(field.name)
    if value is None:
        return False
    if not value:
        raise field.invalid("boolean type must be non-null")
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    # The old message echoes the value: keep the echo short.
    raise field.invalid(f"Invalid literal for boolean(): {lowered[:_ECHO_CHARS]}")

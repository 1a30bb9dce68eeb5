"""Errors the way the old API answered them, and the route class that renders them.

Flask-RESTPlus answered every refusal with ``{"message": ...}`` (status 400 for nearly all),
and a missing or malformed request field with ``{"errors": {field: ...}, "message": "Input
payload validation failed"}``. Compat routes keep those bodies; statuses stay Facewatch's
(``facewatch.server.errors.status_for``), which is 400 wherever the old API said 400.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from facewatch.errors import FacewatchError, InvalidInput
from facewatch.server.errors import status_for

PAYLOAD_INVALID = "Input payload validation failed"


class OldApiRefusal(InvalidInput):
    """A request the old API refused with 400 and a message, refused the same way here."""

    code = "refused"


class PayloadInvalid(OldApiRefusal):
    """A request field missing or malformed: 400 with the message for each field."""

    code = "payload_invalid"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(PAYLOAD_INVALID)
        self.errors = errors


class CompatRoute(APIRoute):
    """A route whose 4xx answers have the old API's bodies instead of Facewatch's."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except FacewatchError as exc:
                if status_for(exc) >= 500:
                    raise  # the app's handler logs it and answers a bare 500
                return refusal_response(exc)
            except RequestValidationError as exc:
                return validation_response(exc)
            except StarletteHTTPException as exc:
                return message_response(exc.status_code, str(exc.detail))

        return handle


def refusal_response(exc: FacewatchError) -> JSONResponse:
    """The old-style body for one of Facewatch's errors."""
    if isinstance(exc, PayloadInvalid):
        body: dict[str, object] = {"errors": exc.errors, "message": exc.message}
        return JSONResponse(body, status_code=status_for(exc))
    return message_response(status_for(exc), exc.message)


def validation_response(exc: RequestValidationError) -> JSONResponse:
    """A field FastAPI could not read, answered as Flask-RESTPlus's parser would."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        where = [str(part) for part in error.get("loc", ())]
        field = where[-1] if where else "request"
        errors.setdefault(field, str(error.get("msg", "invalid value")))
    return refusal_response(PayloadInvalid(errors))


def message_response(status: int, message: str) -> JSONResponse:
    """``{"message": ...}`` with ``status`` (and the Bearer challenge on 401)."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"message": message}, status_code=status, headers=headers)

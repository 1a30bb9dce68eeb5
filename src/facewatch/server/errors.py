"""The one place where exceptions become HTTP answers: JSON bodies, never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from facewatch.errors import (
    Conflict,
    FaceRejected,
    FacewatchError,
    Forbidden,
    InvalidImage,
    InvalidInput,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
)

logger = logging.getLogger(__name__)

# Most specific first: the first class that matches gives the status.
STATUS: tuple[tuple[type[FacewatchError], int], ...] = (
    (UnsupportedMediaType, 415),
    (PayloadTooLarge, 413),
    (FaceRejected, 422),
    (InvalidImage, 400),
    (InvalidInput, 400),
    (NotFound, 404),
    (Conflict, 409),
    (Unauthorized, 401),
    (Forbidden, 403),
    (TooManyRequests, 429),
    (Overloaded, 503),
)


def status_for(exc: FacewatchError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_response(
    status: int, detail: object, code: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


async def _facewatch_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FacewatchError)
    status = status_for(exc)
    if isinstance(exc, Overloaded):  # expected under load, and counted by the access log
        logger.warning("%s %s refused: %s", request.method, request.url.path, exc.message)
    elif status >= 500:
        logger.error("%s %s failed: %s", request.method, request.url.path, exc.message)
    headers = None
    if isinstance(exc, TooManyRequests | Overloaded):
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(status, exc.message, exc.code, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Keep only where and what: never echo the input back (it may be an image or a secret).
    errors = [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": err.get("type")}
        for err in exc.errors()
    ]
    return error_response(422, errors, "validation_error")


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    429: "too_many_requests",
}


async def http_error(request: Request, exc: Exception) -> Response:
    """An HTTP error (404, 405...) as the API's JSON body."""
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, str(exc.detail), code)


async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
    # A number too large for the database (an id or offset of 30 digits): bad input, not a
    # server fault. SQLite raises OverflowError; PostgreSQL's "out of range" is a DataError.
    logger.info("%s %s: value out of range (%s)", request.method, request.url.path, type(exc))
    return error_response(400, "a value in the request is out of range", "invalid_input")


async def _client_gone(request: Request, exc: Exception) -> Response:
    # Nobody reads this answer; 499 (nginx's "client closed request") shows in access logs.
    logger.info("%s %s: the client went away", request.method, request.url.path)
    return Response(status_code=499)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal error", "internal_error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FacewatchError, _facewatch_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DataError, _out_of_range)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected)

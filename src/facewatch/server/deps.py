"""FastAPI dependencies: the runtime or the narrow part of it a router uses, authentication,
and typed aliases for routers."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from facewatch.errors import Forbidden, Unauthorized, UnsupportedMediaType
from facewatch.security import audit
from facewatch.server.infra.runtime import Runtime, Storage
from facewatch.server.security import Scope, grants
from facewatch.server.services import sessions
from facewatch.server.services.users import Permission
from facewatch.store.models import ApiKey

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer fw_...`")


async def get_runtime(request: Request) -> Runtime:
    # async: a plain attribute read, not worth a hop to the thread pool (as a sync one makes)
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_storage(runtime: RuntimeDep) -> Storage:
    """The runtime as routers of plain reads and writes sees it: units of work only."""
    return runtime


StorageDep = Annotated[Storage, Depends(get_storage)]
"""For routers whose services only read and write the database (zones, webhooks, presence)."""


def require(*scopes: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that admits an API key holding (or implying) any of ``scopes``."""

    async def check(
        runtime: RuntimeDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiKey:
        # async: a key verified a moment ago is admitted on the event loop; only a lookup
        # in the database goes to the thread pool.
        token = _bearer_token(credentials)
        key = runtime.verified_keys.get(token)
        if key is None:
            key = await run_in_threadpool(_look_up, runtime, token)
        return _admit(key, scopes)

    return check


def authenticate_key(
    runtime: Runtime, credentials: HTTPAuthorizationCredentials | None, *scopes: Scope
) -> ApiKey:
    """``require``'s check from a synchronous dependency (it may query the database)."""
    token = _bearer_token(credentials)
    key = runtime.verified_keys.get(token) or _look_up(runtime, token)
    return _admit(key, scopes)


def _bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("an API key is needed: send 'Authorization: Bearer <key>'")
    return credentials.credentials


def _look_up(runtime: Runtime, token: str) -> ApiKey:
    """The key ``token`` is, from the database (remembered in ``runtime.verified_keys``)."""
    started = time.monotonic()
    with runtime.uow() as uow:
        key = uow.api_keys.authenticate(token)
        if key is not None:
            uow.commit()
    if key is None:
        raise Unauthorized("invalid, expired or revoked API key")
    runtime.verified_keys.put(token, key, started)
    return key


def _admit(key: ApiKey, scopes: tuple[Scope, ...]) -> ApiKey:
    audit.identify(f"key:{key.prefix}")
    if not grants(key.scopes, *scopes):
        needed = " or ".join(s.value for s in scopes)
        raise Forbidden(f"this API key lacks the '{needed}' scope")
    return key


async def multipart_only(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse, with 415, a body that is not multipart/form-data on upload routes.

    The key is checked first (any valid key; the route's own dependency checks its scope):
    a request without one gets 401 before anything about its body is looked at.
    """
    token = _bearer_token(credentials)
    if runtime.verified_keys.get(token) is None:
        await run_in_threadpool(_look_up, runtime, token)
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType(
            f"expected multipart/form-data, got {content_type or 'no content type'}"
        )


Multipart = Depends(multipart_only)
AdminKey = Annotated[ApiKey, Depends(require(Scope.ADMIN))]
EnrollKey = Annotated[ApiKey, Depends(require(Scope.ENROLL))]
IngestKey = Annotated[ApiKey, Depends(require(Scope.INGEST))]
GalleryKey = Annotated[ApiKey, Depends(require(Scope.GALLERY))]
ReadKey = Annotated[ApiKey, Depends(require(Scope.READ))]
RecognizeKey = Annotated[ApiKey, Depends(require(Scope.READ, Scope.INGEST))]
FaceBoxForm = Annotated[
    str | None,
    Form(
        max_length=64,
        description=(
            "Where the face lies in the image, left,top,right,bottom (an edge agent knows "
            "it): a hint the server checks, for a cheaper detection"
        ),
    ),
]
"""The optional ``face_box`` form field of the upload routes (``schemas.face_box_hint``)."""


# --- API key or dashboard session ------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request that either an API key or a dashboard login may make."""

    api_key: ApiKey | None = None
    user: sessions.SessionUser | None = None

    @property
    def name(self) -> str:
        """For logs: ``key:<prefix>`` or ``user:<username>``."""
        if self.api_key is not None:
            return f"key:{self.api_key.prefix}"
        assert self.user is not None
        return f"user:{self.user.username}"


def session_token(request: Request) -> str | None:
    """The dashboard session token of a request's cookies, if any."""
    return request.cookies.get(sessions.SECURE_COOKIE_NAME) or request.cookies.get(
        sessions.COOKIE_NAME
    )


def require_key_or_session(scope: Scope, permission: Permission) -> Callable[..., Principal]:
    """A dependency admitting an API key with ``scope``, or a dashboard session whose
    role grants ``permission`` (for GET routes the browser calls, such as the SSE stream;
    routes that change state through a session must also check its CSRF token)."""

    def check(
        request: Request,
        runtime: RuntimeDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is not None:
            return Principal(api_key=authenticate_key(runtime, credentials, scope))
        user = sessions.resolve(runtime, session_token(request))
        if user is None:
            raise Unauthorized(
                "an API key or a dashboard login is needed: send 'Authorization: Bearer <key>'"
            )
        audit.identify(f"user:{user.username}")
        if not user.can(permission):
            raise Forbidden(f"the role '{user.role}' may not do this")
        return Principal(user=user)

    return check


ReadKeyOrSession = Annotated[
    Principal, Depends(require_key_or_session(Scope.READ, Permission.VIEW))
]
"""An API key with scope ``read``, or any dashboard user (for the SSE event stream)."""

"""FastAPI dependencies: the runtime, authentication, and typed aliases for routers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from facewatch.errors import Forbidden, Unauthorized, UnsupportedMediaType
from facewatch.server.security import Scope, grants
from facewatch.server.services.runtime import Runtime
from facewatch.store.models import ApiKey

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer fw_...`")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def require(*scopes: Scope) -> Callable[..., ApiKey]:
    """A dependency that admits an API key holding (or implying) any of ``scopes``."""

    def check(
        runtime: RuntimeDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiKey:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("an API key is needed: send 'Authorization: Bearer <key>'")
        with runtime.uow() as uow:
            key = uow.api_keys.authenticate(credentials.credentials)
            if key is not None:
                uow.commit()
        if key is None:
            raise Unauthorized("invalid or revoked API key")
        if not grants(key.scopes, *scopes):
            needed = " or ".join(s.value for s in scopes)
            raise Forbidden(f"this API key lacks the '{needed}' scope")
        return key

    return check


def multipart_only(request: Request) -> None:
    """Refuse, with 415, a body that is not multipart/form-data on upload routes."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType(
            f"expected multipart/form-data, got {content_type or 'no content type'}"
        )


Multipart = Depends(multipart_only)
AdminKey = Annotated[ApiKey, Depends(require(Scope.ADMIN))]
EnrollKey = Annotated[ApiKey, Depends(require(Scope.ENROLL))]
IngestKey = Annotated[ApiKey, Depends(require(Scope.INGEST))]
ReadKey = Annotated[ApiKey, Depends(require(Scope.READ))]
RecognizeKey = Annotated[ApiKey, Depends(require(Scope.READ, Scope.INGEST))]

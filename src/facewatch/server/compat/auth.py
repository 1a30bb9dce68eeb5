"""Who may call the compat routes: an API key if one is sent, else anonymous if allowed.

The old API had no credentials, so its clients send none. With ``compat_allow_anonymous``
a request without a key is let through; a request with a key is always checked (a wrong or
revoked key is refused, and so is a key without the route's scope).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from facewatch.server.deps import RuntimeDep, authenticate_key
from facewatch.server.security import Scope
from facewatch.store.models import ApiKey

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer fw_...`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def compat_access(*scopes: Scope) -> Callable[..., ApiKey | None]:
    """A dependency admitting a key with any of ``scopes``, or no key if anonymous is on."""

    def check(runtime: RuntimeDep, credentials: Credentials) -> ApiKey | None:
        if credentials is None and runtime.settings.compat_allow_anonymous:
            return None
        return authenticate_key(runtime, credentials, *scopes)

    return check


AdminAccess = Annotated[ApiKey | None, Depends(compat_access(Scope.ADMIN))]
EnrollAccess = Annotated[ApiKey | None, Depends(compat_access(Scope.ENROLL))]
IngestAccess = Annotated[ApiKey | None, Depends(compat_access(Scope.INGEST))]
ReadAccess = Annotated[ApiKey | None, Depends(compat_access(Scope.READ))]
RecognizeAccess = Annotated[ApiKey | None, Depends(compat_access(Scope.READ, Scope.INGEST))]

"""The running app as the event tests see it (importable as ``integration.events.live``)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from facewatch.config import Settings
from facewatch.server.infra.runtime import Runtime


@dataclass
class LiveServer:
    """The running app: its URL, runtime and a client with an admin key."""

    url: str
    runtime: Runtime
    settings: Settings
    admin: dict[str, str]
    client: httpx.Client

    def key(self, *scopes: str) -> dict[str, str]:
        """A new API key with ``scopes``, as an Authorization header."""
        with self.runtime.uow() as uow:
            _, secret = uow.api_keys.create("events-test", list(scopes))
            uow.commit()
        return {"Authorization": f"Bearer {secret}"}

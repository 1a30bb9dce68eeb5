"""The audit context of each HTTP request, and the record of sensitive reads once answered."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facewatch.security.audit import ANONYMOUS, Access, acting_as

Watcher = Callable[[str, str, dict[str, str]], bool]
"""Whether a request (method, path, query) is one whose access is recorded."""
Recorder = Callable[[Access], None]
"""Records an access; called on the event loop, so it must not block (queue the access)."""


class AuditContextMiddleware:
    """Give every HTTP request a fresh ``AuditContext`` holding the client's address, and
    hand the requests ``watch`` picks to ``record`` once answered (sensitive reads)."""

    def __init__(
        self, app: ASGIApp, watch: Watcher | None = None, record: Recorder | None = None
    ) -> None:
        self.app = app
        self.watch = watch
        self.record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else ""
        method, path = scope["method"], scope["path"]
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        watched = self.watch is not None and self.record is not None
        if watched and self.watch is not None:
            watched = self.watch(method, path, query)
        status = 500

        async def send_and_see(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with acting_as(ANONYMOUS, address) as context:
            try:
                await self.app(scope, receive, send_and_see if watched else send)
            finally:
                if watched and self.record is not None:
                    access = Access(method, path, query, status, context.actor, address)
                    self.record(access)

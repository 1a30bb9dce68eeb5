"""HTTP Strict Transport Security on every answer of a server that serves https itself."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS_HEADER = (b"strict-transport-security", b"max-age=31536000")
"""A year: a browser that once reached the server over https never tries plain http again
(no ``includeSubDomains``: the other hosts of the domain are not ours to decide)."""


class StrictTransportSecurity:
    """Adds ``Strict-Transport-Security`` to every http answer (installed only under TLS)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), HSTS_HEADER]
            await send(message)

        await self.app(scope, receive, with_header)

"""A deadline for receiving request bodies: slow senders cannot hold workers forever.

A client that trickles its upload a byte at a time (slow loris) would keep a request
thread and the upload's buffer busy for as long as it likes. ``BodyTimeout`` gives the
whole body ``seconds`` to arrive, from the request's first byte read; past that the
request fails with 408. Once the body is in, nothing is timed: streaming answers (the SSE
event stream) wait for the client to leave through the same channel.
"""

from __future__ import annotations

import time

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTimeout:
    """Fail a request with 408 when its body takes longer than ``seconds`` to arrive."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.seconds
        body_done = False

        async def timed() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()
            remaining = deadline - time.monotonic()
            try:
                with anyio.fail_after(max(0.0, remaining)):
                    message = await receive()
            except TimeoutError:
                # FastAPI re-raises HTTPException from body parsing as it is: a JSON 408.
                detail = f"request body not received within {self.seconds:g} s"
                raise HTTPException(408, detail) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, timed, send)

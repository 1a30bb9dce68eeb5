"""Forwarding recognised faces to an external server, as the old send-results route did.

The old API sent one HTTP GET per face with the parameters ``id`` (the label), ``camera``
and ``blueprint`` (the location), waited up to 10 s, and passed the answer's text back.
``transport`` is the seam tests may swap (an ``httpx.MockTransport``).
"""

from __future__ import annotations

import logging

import httpx

from facewatch.server.compat.errors import OldApiRefusal

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0


class ForwardFailed(OldApiRefusal):
    """The external server could not be reached (the old API answered 400)."""

    code = "forward_failed"


class Forwarder:
    """Sends faces to one external URL."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = httpx.URL(url)
        self._timeout = timeout
        self._transport = transport
        # Logs name the host only: the URL may carry a token in its path or query.
        self._host = self._url.host

    @property
    def public_url(self) -> str:
        """The URL without credentials, query or fragment: safe to show to clients."""
        return str(self._url.copy_with(userinfo=b"", query=None, fragment=None))

    def send(self, labels: list[str], camera_id: str, location_id: str) -> list[str]:
        """GET the URL once per label, in order; the text of each answer.

        Stops at the first request that fails, as the old API did (faces sent before it stay
        sent): a non-2xx answer is not a failure, its text is passed back.
        """
        answers: list[str] = []
        with httpx.Client(
            timeout=self._timeout, transport=self._transport, follow_redirects=True
        ) as client:
            for label in labels:
                params = {"id": label, "camera": camera_id, "blueprint": location_id}
                # Kept beside any query the URL has (a token, say), as requests did.
                url = self._url.copy_merge_params(params)
                try:
                    response = client.get(url)
                except httpx.HTTPError as exc:
                    logger.warning("send-results: forwarding to %s failed: %s", self._host, exc)
                    raise ForwardFailed(
                        f"Error performing request to external server: {exc}"
                    ) from exc
                answers.append(response.text)
        logger.info("send-results: %s faces forwarded to %s", len(answers), self._host)
        return answers

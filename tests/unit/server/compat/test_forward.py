"""send-results' forwarding: one GET per face with the old parameters, through httpx."""

from __future__ import annotations

import httpx
import pytest

from facewatch.server.compat.forward import Forwarder, ForwardFailed

URL = "https://functions.example/addPerson?token=secret"


def fake_transport(seen: list[httpx.Request], fail_after: int | None = None) -> httpx.MockTransport:
    """A fake external server: records requests, answers with the id, or drops the connection."""

    def handle(request: httpx.Request) -> httpx.Response:
        if fail_after is not None and len(seen) >= fail_after:
            raise httpx.ConnectError("connection refused", request=request)
        seen.append(request)
        return httpx.Response(201, text=f"stored {request.url.params['id']}")

    return httpx.MockTransport(handle)


def test_each_label_is_sent_in_order_with_the_camera_and_the_blueprint() -> None:
    seen: list[httpx.Request] = []
    forwarder = Forwarder(URL, transport=fake_transport(seen))

    answers = forwarder.send(["kit_harington", "unknown"], "cam-1", "Floor 2")

    assert answers == ["stored kit_harington", "stored unknown"]
    assert [r.method for r in seen] == ["GET", "GET"]
    assert [dict(r.url.params) for r in seen] == [
        {"token": "secret", "id": "kit_harington", "camera": "cam-1", "blueprint": "Floor 2"},
        {"token": "secret", "id": "unknown", "camera": "cam-1", "blueprint": "Floor 2"},
    ]


def test_nothing_is_sent_for_an_image_without_faces() -> None:
    seen: list[httpx.Request] = []
    assert Forwarder(URL, transport=fake_transport(seen)).send([], "cam-1", "hall") == []
    assert seen == []


def test_a_failed_request_stops_the_sending_with_the_old_message() -> None:
    seen: list[httpx.Request] = []
    forwarder = Forwarder(URL, transport=fake_transport(seen, fail_after=1))
    with pytest.raises(ForwardFailed, match=r"^Error performing request to external server: "):
        forwarder.send(["a", "b", "c"], "cam-1", "hall")
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("configured", "shown"),
    [
        (URL, "https://functions.example/addPerson"),
        ("http://user:pw@10.0.0.5:8080/hook#frag", "http://10.0.0.5:8080/hook"),
        ("http://127.0.0.1:9000/addPerson", "http://127.0.0.1:9000/addPerson"),
    ],
)
def test_the_url_shown_to_clients_has_no_credentials_or_query(configured: str, shown: str) -> None:
    assert Forwarder(configured).public_url == shown

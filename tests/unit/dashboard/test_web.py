"""The dashboard's web helpers: a flash message and the link it leads on to."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from starlette.requests import Request

from facewatch.dashboard.web import FLASH_COOKIE, read_flash, redirect


def request_with(cookie: str) -> Request:
    headers = [(b"cookie", f"{FLASH_COOKIE}={cookie}".encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def test_a_flash_carries_its_link_to_the_next_page() -> None:
    sent = redirect("/strangers", "Stranger #0a is now kit.", link=("/people/7", "Open kit"))
    cookie = sent.headers["set-cookie"].split(";")[0].partition("=")[2]
    flash = read_flash(request_with(cookie))
    assert flash is not None
    assert (flash["lines"], flash["link"]) == (
        ["Stranger #0a is now kit."],
        ("/people/7", "Open kit"),
    )


@pytest.mark.parametrize(
    "link", ['["https://evil.example/", "Open"]', '["//evil.example/", "x"]', '["/p", ""]', '"/p"']
)
def test_a_flash_link_off_this_site_or_malformed_is_dropped(link: str) -> None:
    cookie = quote('{"lines": ["done"], "link": ' + link + "}")
    flash = read_flash(request_with(cookie))
    assert flash is not None
    assert flash["link"] is None

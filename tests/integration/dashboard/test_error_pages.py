"""What a page says when the record it shows is not there: not found (not "cannot do that")."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

ClientAs = Callable[[str], tuple[TestClient, str]]


@pytest.mark.parametrize("path", ["/people/987654", "/events/no-such-event", "/webhooks/987654"])
def test_a_record_that_is_not_there_is_not_found(client_as: ClientAs, path: str) -> None:
    client, _ = client_as("admin")
    page = client.get(path)
    assert page.status_code == 404
    assert "<h1>Not found</h1>" in page.text
    assert "Cannot do that" not in page.text

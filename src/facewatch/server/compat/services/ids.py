"""Person IDs of the old API and the Facewatch people they name.

The old API named a person by an ID made from what the client sent, lower-cased with spaces
as underscores ("Bill Gates" -> "bill_gates"); new IDs become Facewatch person names as they
are. A person enrolled through Facewatch's own API as "Alice Smith" answers to
"alice_smith" too, and appears under that ID in the old listings.
"""

from __future__ import annotations

from collections.abc import Iterator

from facewatch.server.compat.errors import OldApiRefusal
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import PersonOut
from facewatch.server.services import people

UNKNOWN_LABEL = "unknown"
"""The label of a face that belongs to nobody enrolled (reserved: no person has this ID)."""

_PAGE_SIZE = 500


def compat_id(name: str) -> str:
    """The old API's ID for a name: lower-cased, spaces as underscores."""
    return name.lower().replace(" ", "_")


def all_people(runtime: Runtime, query: str | None = None) -> Iterator[PersonOut]:
    """Every person (whose name contains ``query``, ignoring case), by name, page by page."""
    offset = 0
    while True:
        page = people.list_people(runtime, query, None, offset, _PAGE_SIZE)
        yield from page.items
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return


def find_person(runtime: Runtime, face_id: str) -> PersonOut | None:
    """The person an old ID names: the exact name first, else a name with that ID."""
    wanted = compat_id(face_id)
    exact = people.find_person(runtime, wanted)
    if exact is not None:
        return exact
    # Narrow the scan to names holding the longest word of the ID (any case).
    words = [word for word in wanted.split("_") if word]
    query = max(words, key=len) if words else None
    return next((p for p in all_people(runtime, query) if compat_id(p.name) == wanted), None)


def require_person(runtime: Runtime, face_id: str) -> PersonOut:
    """The person an old ID names; refused with the old API's message if there is none."""
    person = find_person(runtime, face_id)
    if person is None:
        raise OldApiRefusal(f"ID {compat_id(face_id)} does not exist.")
    return person

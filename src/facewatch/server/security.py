"""API key scopes and what each one grants."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from facewatch.errors import InvalidInput


class Scope(StrEnum):
    """What an API key may do."""

    ADMIN = "admin"
    """Everything, including cameras and keys."""
    ENROLL = "enroll"
    """Create, change and delete people and their faces; read people."""
    INGEST = "ingest"
    """Send images from cameras (edge agents); recognise."""
    READ = "read"
    """Read people, cameras and detections; recognise."""
    GALLERY = "gallery"
    """Download the gallery's templates (edge agents in mode local); never photos."""


_GRANTS: dict[Scope, frozenset[Scope]] = {
    Scope.ADMIN: frozenset(Scope),
    Scope.ENROLL: frozenset({Scope.ENROLL, Scope.READ}),
    Scope.INGEST: frozenset({Scope.INGEST}),
    Scope.READ: frozenset({Scope.READ}),
    Scope.GALLERY: frozenset({Scope.GALLERY}),
}


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Validate scope names (order kept, duplicates dropped)."""
    scopes: list[Scope] = []
    for value in values:
        try:
            scope = Scope(value.strip().lower())
        except ValueError:
            allowed = ", ".join(s.value for s in Scope)
            raise InvalidInput(f"unknown scope {value!r}; choose from {allowed}") from None
        if scope not in scopes:
            scopes.append(scope)
    if not scopes:
        raise InvalidInput("give at least one scope")
    return scopes


def grants(held: Iterable[str], *needed: Scope) -> bool:
    """True when the held scopes grant any one of the needed scopes."""
    granted: set[Scope] = set()
    for value in held:
        if value in Scope._value2member_map_:
            granted |= _GRANTS[Scope(value)]
    return any(scope in granted for scope in needed)

"""Roles and what each may do; password strength rules."""

from __future__ import annotations

import pytest

from facewatch.errors import InvalidInput
from facewatch.server.services.users import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    Permission,
    Role,
    check_password_strength,
    hash_password,
    parse_role,
    password_matches,
    role_allows,
)

V, A, E, M = Permission.VIEW, Permission.ACKNOWLEDGE, Permission.ENROLL, Permission.ADMINISTER


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("viewer", {V}),
        ("operator", {V, A, E}),
        ("admin", {V, A, E, M}),
        ("superuser", set()),
        ("", set()),
    ],
)
def test_each_role_grants_exactly_its_permissions(role: str, allowed: set[Permission]) -> None:
    assert {p for p in Permission if role_allows(role, p)} == allowed


@pytest.mark.parametrize(("text", "role"), [("admin", Role.ADMIN), (" Operator ", Role.OPERATOR)])
def test_role_names_are_read_in_any_case(text: str, role: Role) -> None:
    assert parse_role(text) is role


def test_an_unknown_role_is_refused_with_the_choices() -> None:
    with pytest.raises(InvalidInput, match="admin, operator, viewer"):
        parse_role("root")


@pytest.mark.parametrize(
    "password",
    ["x" * (MIN_PASSWORD_LENGTH - 1), " " * 20, "y" * (MAX_PASSWORD_LENGTH + 1)],
    ids=["short", "blank", "huge"],
)
def test_weak_or_absurd_passwords_are_refused(password: str) -> None:
    with pytest.raises(InvalidInput):
        check_password_strength(password)


def test_a_password_hash_is_argon2id_salted_and_checks_only_its_password() -> None:
    first, second = hash_password("purple elephant 42"), hash_password("purple elephant 42")
    assert first.startswith("$argon2id$")
    assert first != second  # salted
    assert "purple" not in first
    assert password_matches(first, "purple elephant 42")
    assert not password_matches(first, "purple elephant 43")
    assert not password_matches("not a hash", "purple elephant 42")

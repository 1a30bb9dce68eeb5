"""How a database's stamped revision compares with the packaged migrations."""

from __future__ import annotations

import pytest

from facewatch.store.schema import SchemaState, SchemaStatus, _state, script_directory


@pytest.mark.parametrize(
    ("current", "heads", "known", "expected"),
    [
        ((), ("0002",), {"0001", "0002"}, SchemaState.EMPTY),
        (("0001",), ("0002",), {"0001", "0002"}, SchemaState.BEHIND),
        (("0002",), ("0002",), {"0001", "0002"}, SchemaState.CURRENT),
        (("0003",), ("0002",), {"0001", "0002"}, SchemaState.TOO_NEW),
        (("0002", "x9"), ("0002",), {"0001", "0002"}, SchemaState.TOO_NEW),
    ],
    ids=["empty", "behind", "current", "unknown", "one-unknown-head"],
)
def test_the_state_follows_from_the_stamped_revisions(
    current: tuple[str, ...], heads: tuple[str, ...], known: set[str], expected: SchemaState
) -> None:
    assert _state(current, heads, known) is expected


def test_the_packaged_migrations_have_a_single_head() -> None:
    assert len(script_directory().get_heads()) == 1


def test_the_first_migration_is_0001() -> None:
    assert script_directory().get_base() == "0001"


def test_a_status_describes_itself_in_one_line() -> None:
    status = SchemaStatus(SchemaState.BEHIND, ("0001",), ("0002",))
    assert status.describe() == "database revision 0001; this Facewatch expects 0002"

"""The audit page's helpers: a target's page, and which details are folded under what."""

from __future__ import annotations

import pytest

from facewatch.dashboard.audit_views import details_summary, details_text, target_link


@pytest.mark.parametrize(
    ("target", "page"),
    [
        ("person:12", "/people/12"),
        ("unknown:unknown-0123456789ab", "/strangers/unknown-0123456789ab"),
        ("event:6f1c", "/events/6f1c"),
        ("webhook:3", "/webhooks/3"),
        ("zone:vault", "/cameras#zone-vault"),
        ("key:AbCd1234", "/settings#api-keys"),
        ("user:alice", "/settings#users"),
        ("zone:a b/c", "/cameras#zone-a%20b%2Fc"),
        ("gallery:7", None),
        ("person:", None),
        ("", None),
    ],
)
def test_a_target_links_to_the_page_of_what_it_names(target: str, page: str | None) -> None:
    assert target_link(target) == page


def test_short_details_are_shown_as_they_are() -> None:
    assert details_summary({"category": "staff"}) is None


def test_a_start_with_changed_settings_is_summed_up_by_their_names() -> None:
    details = {"settings": {f"s{n}": n for n in range(40)}, "changed": {"b": 1, "a": 2}}
    assert details_summary(details) == "changed: a, b"


def test_the_first_start_says_it_lists_the_settings_in_force() -> None:
    details = {"settings": {f"s{n}": n for n in range(40)}, "changed": {}}
    assert details_summary(details) == "settings in force (first start)"


def test_other_long_details_name_their_fields_and_unfold_as_indented_json() -> None:
    details = {"query": "x" * 100, "format": "csv"}
    assert details_summary(details) == "2 fields: format, query"
    assert details_text(details).startswith('{\n  "format": "csv"')


def test_a_purge_is_summed_up_by_its_counts_not_as_changed_settings() -> None:
    counts = {"unknown_faces": 3, "unknown_identities": 1, "detections": 5, "events": 2}
    details = {**counts, "images": 7}
    assert details_summary(details, "retention.purged") == (
        "purged: 3 strangers' faces, 1 stranger, 5 detections, 2 events, 7 images"
    )
    assert details_summary({**details, "images": 1}, "retention.purged").endswith(", 1 image")  # type: ignore[union-attr]

"""Pure helpers that shape audit entries for the audit page (no I/O)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import quote

# Where the record an entry's target names is shown ("<kind>:<id>", see store/audit_trail).
TARGET_PAGES = {
    "person": "/people/{}",
    "unknown": "/strangers/{}",
    "event": "/events/{}",
    "webhook": "/webhooks/{}",
    "camera": "/cameras#camera-{}",
    "zone": "/cameras#zone-{}",
    "key": "/settings#api-keys",
    "user": "/settings#users",
}
COUNT_WORDS = {
    "unknown_faces": ("stranger's face", "strangers' faces"),
    "unknown_identities": ("stranger", "strangers"),
}
"""How counts in audit details are called, one and many (the dashboard says "stranger")."""
SHORT_DETAILS = 80
"""Details longer than this (as JSON) are folded under a one-line summary."""


def target_link(target: str) -> str | None:
    """The dashboard page of an entry's target, or None if it has none."""
    kind, _, value = target.partition(":")
    page = TARGET_PAGES.get(kind)
    if page is None or not value:
        return None
    return page.format(quote(value, safe=""))


def details_text(details: Mapping[str, object]) -> str:
    """An entry's details as indented JSON."""
    return json.dumps(details, indent=2, sort_keys=True, default=str)


def details_summary(details: Mapping[str, object], action: str = "") -> str | None:
    """One line saying what long details hold; None when they are short enough to show."""
    if len(json.dumps(details, default=str)) <= SHORT_DETAILS:
        return None
    if details and all(type(v) is int for v in details.values()):
        return _counts(details, action)
    changed = details.get("changed")
    if isinstance(changed, Mapping) and changed:
        return f"changed: {', '.join(sorted(changed))}"
    if isinstance(changed, Mapping):
        return "settings in force (first start)"
    return f"{len(details)} fields: {', '.join(sorted(details))}"


def _counts(counts: Mapping[str, object], action: str) -> str:
    """Details that are all counts (``retention.purged``): "purged: 5 detections, 2 events"."""
    done = action.rpartition(".")[2] or "counts"
    parts = [f"{n} {_counted(name, n == 1)}" for name, n in counts.items()]
    return f"{done}: {', '.join(parts)}"


def _counted(name: str, one: bool) -> str:
    plain = name.replace("_", " ")
    singular, plural = COUNT_WORDS.get(name, (plain.removesuffix("s"), plain))
    return singular if one else plural

"""The shape of API keys: fw_<prefix>_<secret>."""

from __future__ import annotations

import secrets

import pytest

from facewatch.store.repositories.api_keys import (
    PREFIX_LENGTH,
    ParsedKey,
    format_key,
    hash_secret,
    new_prefix,
    parse_key,
)


def test_a_formatted_key_parses_back_into_its_parts() -> None:
    secret = secrets.token_urlsafe(32)
    assert parse_key(format_key("Ab3dEf9h", secret)) == ParsedKey("Ab3dEf9h", secret)


def test_a_secret_may_contain_underscores_and_dashes() -> None:
    assert parse_key("fw_Ab3dEf9h_a_b-c_") == ParsedKey("Ab3dEf9h", "a_b-c_")


def test_new_prefixes_are_eight_alphanumeric_characters() -> None:
    prefixes = {new_prefix() for _ in range(50)}
    assert all(len(p) == PREFIX_LENGTH and p.isalnum() and p.isascii() for p in prefixes)
    assert len(prefixes) == 50


@pytest.mark.parametrize(
    "text",
    [
        "",
        "fw_",
        "fw_Ab3dEf9h",
        "fw_Ab3dEf9h_",
        "fx_Ab3dEf9h_secret",
        "fw_Ab3dEf9hsecret",
        "fw_Ab3d_f9h_secret",
        "fw_short_secret",
        "Bearer fw_Ab3dEf9h_secret",
    ],
)
def test_text_not_shaped_like_a_key_does_not_parse(text: str) -> None:
    assert parse_key(text) is None


def test_only_a_sha256_of_the_secret_is_kept() -> None:
    assert hash_secret("s3cret") == (
        "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0"
    )

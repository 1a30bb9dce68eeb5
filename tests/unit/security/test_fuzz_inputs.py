"""Hardened inputs, fuzzed: whatever the bytes, decoding an upload either gives an image
within the pixel cap or raises one of our clear errors (never a crash, never a hang), and
malformed keys, durations and envelopes are refused cleanly."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from facewatch.cli.common import parse_duration
from facewatch.errors import InvalidInput
from facewatch.store.repositories.api_keys import parse_key
from facewatch.vision.image import decode_image

MAX_PIXELS = 250_000
FUZZ = settings(
    max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _encoded(fmt: str, size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (120, 60, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


SEEDS = [_encoded(fmt, (64, 48)) for fmt in ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF")]


def _decodes_or_refuses(data: bytes) -> None:
    try:
        image = decode_image(data, max_pixels=MAX_PIXELS)
    except InvalidInput:
        return
    assert image.ndim == 3
    assert image.shape[2] == 3
    assert image.shape[0] * image.shape[1] <= MAX_PIXELS


@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes_are_refused_cleanly(data: bytes) -> None:
    _decodes_or_refuses(data)


@FUZZ
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=12),
    cut=st.integers(0, 10_000),
)
def test_corrupted_and_truncated_real_images_are_refused_cleanly(
    seed: bytes, edits: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(seed)
    for position, value in edits:
        data[position % len(data)] = value
    _decodes_or_refuses(bytes(data[: max(1, cut % (len(data) + 1))]))


@settings(max_examples=20, derandomize=True, deadline=None)
@given(width=st.integers(501, 3000), height=st.integers(501, 3000))
def test_images_over_the_pixel_cap_are_refused_before_decoding(width: int, height: int) -> None:
    data = _encoded("PNG", (width, height))
    with pytest.raises(InvalidInput) as refused:
        decode_image(data, max_pixels=MAX_PIXELS)
    assert refused.value.code == "payload_too_large"


@FUZZ
@given(text=st.text(max_size=200))
def test_any_text_parses_as_a_key_or_as_nothing(text: str) -> None:
    parsed = parse_key(text)
    if parsed is not None:
        assert text == f"fw_{parsed.prefix}_{parsed.secret}"


@FUZZ
@given(text=st.text(max_size=30))
def test_any_text_is_a_duration_or_a_clear_refusal(text: str) -> None:
    with contextlib.suppress(InvalidInput):
        assert parse_duration(text).total_seconds() >= 0

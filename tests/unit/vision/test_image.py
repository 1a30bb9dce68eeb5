"""Decoding untrusted image bytes, encoding crops, cropping faces."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from facewatch.errors import InvalidImage, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from facewatch.types import Box
from facewatch.vision.image import (
    crop_face,
    decode_image,
    encode_jpeg,
    ensure_rgb,
    image_format,
    load_image,
)

from .conftest import EXAMPLES, ImageLoader

CAP = 40_000_000
SMALL_FACE = f"{EXAMPLES}/obama_small.jpg"  # 320 x 240


def encoded(image: Image.Image, pil_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=pil_format, **options)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but which holds only a few bytes of pixels."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(tag + data))
        return struct.pack(">I", len(data)) + tag + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def face_photo(testdata: Path) -> Image.Image:
    with Image.open(testdata / SMALL_FACE) as image:
        return image.convert("RGB")


@pytest.mark.parametrize(
    ("pil_format", "mime"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("WEBP", "image/webp"),
        ("BMP", "image/bmp"),
        ("GIF", "image/gif"),
        ("TIFF", "image/tiff"),
    ],
)
def test_every_accepted_format_decodes_to_rgb_and_names_its_mime_type(
    face_photo: Image.Image, pil_format: str, mime: str
) -> None:
    data = encoded(face_photo, pil_format)

    image = decode_image(data, max_pixels=CAP)

    assert image_format(data) == mime
    assert image.shape == (240, 320, 3)
    assert image.dtype == np.uint8
    assert image.flags.c_contiguous


@pytest.mark.parametrize(
    ("mode", "pil_format"),
    [
        ("RGBA", "PNG"),
        ("LA", "PNG"),
        ("L", "PNG"),
        ("1", "PNG"),
        ("P", "PNG"),
        ("I;16", "PNG"),
        ("CMYK", "JPEG"),
        ("L", "JPEG"),
        ("YCbCr", "TIFF"),
        ("I", "TIFF"),
        ("F", "TIFF"),
    ],
)
def test_any_pixel_mode_becomes_three_channel_uint8(
    face_photo: Image.Image, mode: str, pil_format: str
) -> None:
    data = encoded(face_photo.convert(mode), pil_format)

    image = decode_image(data, max_pixels=CAP)

    assert image.shape == (240, 320, 3)
    assert image.dtype == np.uint8


def test_sixteen_bit_grey_is_scaled_to_eight_bits_rather_than_clipped() -> None:
    ramp = np.array([[0, 32768, 65535]], dtype=np.uint16)
    data = encoded(Image.fromarray(ramp), "PNG")

    image = decode_image(data, max_pixels=CAP)

    assert image[0, :, 0].tolist() == [0, 128, 255]


def test_transparent_pixels_are_flattened_onto_white() -> None:
    clear = Image.new("RGBA", (4, 4), (10, 20, 30, 0))

    image = decode_image(encoded(clear, "PNG"), max_pixels=CAP)

    assert image[0, 0].tolist() == [255, 255, 255]


def test_a_32_bit_png_with_alpha_decodes_to_rgb(testdata: Path) -> None:
    data = (testdata / "face_recognition_examples/tests/test_images/32bit.png").read_bytes()

    image = decode_image(data, max_pixels=CAP)

    assert image.shape == (1200, 626, 3)


def test_exif_orientation_turns_the_image_upright() -> None:
    landscape = Image.new("RGB", (40, 20), (200, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display turned 90 degrees clockwise

    image = decode_image(encoded(landscape, "JPEG", exif=exif), max_pixels=CAP)

    assert image.shape == (40, 20, 3)


def test_an_animated_gif_gives_its_first_frame() -> None:
    red, blue = Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))
    data = encoded(red, "GIF", save_all=True, append_images=[blue])

    image = decode_image(data, max_pixels=CAP)

    assert image[4, 4].tolist() == [255, 0, 0]


def truncated_jpeg(photo: Image.Image) -> bytes:
    data = encoded(photo, "JPEG")
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("case", "make", "error", "message"),
    [
        ("empty", lambda photo: b"", InvalidImage, "empty file"),
        ("truncated JPEG", truncated_jpeg, InvalidImage, "truncated"),
        (
            "JPEG signature then garbage",
            lambda photo: b"\xff\xd8\xff" + bytes(range(256)) * 4,
            InvalidImage,
            "corrupt",
        ),
        (
            "random bytes",
            lambda photo: np.random.default_rng(7).bytes(4096),
            UnsupportedMediaType,
            "JPEG, PNG, WEBP, BMP, GIF, TIFF",
        ),
        (
            "text file",
            lambda photo: b"name,face\nobama,yes\n",
            UnsupportedMediaType,
            "accepted image format",
        ),
        ("PDF", lambda photo: b"%PDF-1.7\n" + b"0" * 200, UnsupportedMediaType, "JPEG"),
    ],
)
def test_bad_input_raises_a_clear_input_error(
    face_photo: Image.Image,
    case: str,
    make: Callable[[Image.Image], bytes],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        decode_image(make(face_photo), max_pixels=CAP)


@pytest.mark.parametrize(
    ("width", "height", "max_pixels", "reason"),
    [
        (9_000, 9_000, CAP, "over our cap, under Pillow's"),
        (10_000, 10_000, 200_000_000, "under our cap, over Pillow's warning limit"),
        (50_000, 50_000, CAP, "over Pillow's hard limit"),
        (200, 200, 10_000, "a small image with a small cap"),
    ],
)
def test_too_many_pixels_is_refused_from_the_header_before_decoding(
    width: int, height: int, max_pixels: int, reason: str
) -> None:
    # The file holds no real pixel data: decoding would fail as truncated, not as too large.
    with pytest.raises(PayloadTooLarge, match="pixels"):
        decode_image(png_claiming(width, height), max_pixels=max_pixels)


def test_image_format_refuses_bytes_that_are_not_an_accepted_image() -> None:
    with pytest.raises(UnsupportedMediaType):
        image_format(b"GIF8")


def test_load_image_reads_a_file(testdata: Path) -> None:
    image = load_image(testdata / SMALL_FACE, max_pixels=CAP)

    assert image.shape == (240, 320, 3)


def test_load_image_of_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        load_image(tmp_path / "missing.jpg", max_pixels=CAP)


def test_encode_jpeg_round_trips_through_decode(load: ImageLoader) -> None:
    original = load(SMALL_FACE)

    data = encode_jpeg(original, quality=85)
    decoded = decode_image(data, max_pixels=CAP)

    assert image_format(data) == "image/jpeg"
    assert decoded.shape == original.shape
    assert np.abs(decoded.astype(int) - original.astype(int)).mean() < 4


@pytest.mark.parametrize(
    ("box", "margin", "expected_shape"),
    [
        (Box(100, 100, 150, 150), 0.4, (90, 90, 3)),
        (Box(100, 100, 150, 150), 0.0, (50, 50, 3)),
        (Box(0, 0, 50, 50), 0.4, (70, 70, 3)),
        (Box(290, 210, 330, 250), 0.5, (50, 50, 3)),
    ],
    ids=["inside", "no margin", "clipped at the top left", "clipped at the bottom right"],
)
def test_crop_face_grows_the_box_by_the_margin_and_clips_it(
    load: ImageLoader, box: Box, margin: float, expected_shape: tuple[int, int, int]
) -> None:
    crop = crop_face(load(SMALL_FACE), box, margin)

    assert crop.shape == expected_shape
    assert crop.flags.c_contiguous


def test_crop_face_of_a_box_outside_the_image_is_an_input_error(load: ImageLoader) -> None:
    with pytest.raises(InvalidInput, match="outside"):
        crop_face(load(SMALL_FACE), Box(400, 300, 500, 400))


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((10, 10), dtype=np.uint8),
        np.zeros((10, 10, 4), dtype=np.uint8),
        np.zeros((10, 10, 3), dtype=np.float32),
        np.zeros((0, 10, 3), dtype=np.uint8),
    ],
    ids=["grey", "four channels", "float", "no pixels"],
)
def test_ensure_rgb_refuses_anything_but_an_rgb_uint8_array(array: npt.NDArray[np.generic]) -> None:
    with pytest.raises(InvalidImage):
        ensure_rgb(array)

"""Turning untrusted bytes into RGB arrays, and RGB arrays back into JPEG crops.

Only a whitelist of formats is opened (sniffed from the file signature, never from a name
or a client's content type), the pixel count and the shape (sides, aspect ratio) are checked
from the header before any pixel is decoded, and every failure becomes one of Facewatch's
input errors.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facewatch.errors import InvalidImage, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from facewatch.types import Box, RGBImage

logger = logging.getLogger(__name__)

# Pillow format name -> MIME type, in the order the error message lists them.
ACCEPTED_FORMATS: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
}
ACCEPTED_MIME_TYPES: frozenset[str] = frozenset(ACCEPTED_FORMATS.values())

_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    # (magic bytes, offset, Pillow format)
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"WEBP", 8, "WEBP"),
    (b"BM", 0, "BMP"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
)
# What Pillow raises on a corrupt or truncated file, besides its own errors.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)
_WHITE = (255, 255, 255)

MAX_ASPECT_RATIO = 20
"""Longest side over shortest side of an accepted image. Cameras give 4:3 to 32:9 and a
phone's panorama about 10:1; a strip of 65535 x 1 pixels is no photo, and the face-crop
path (which scales a short side up to the detector's face size) turned it into 8.4 M x 128
pixels and a worker of 11 GB."""
MAX_IMAGE_SIDE = 30_000
"""Longest side of an accepted image, in pixels (the largest sensors give about 16,000)."""


def image_format(data: bytes) -> str:
    """The MIME type of an accepted image, from its signature (e.g. ``"image/jpeg"``)."""
    return ACCEPTED_FORMATS[_sniff(data)]


def decode_image(data: bytes, *, max_pixels: int) -> RGBImage:
    """Decode JPEG/PNG/WebP/BMP/GIF/TIFF bytes into an upright H x W x 3 uint8 RGB array.

    Raises ``InvalidImage`` (empty, corrupt, truncated, or a shape no camera makes: see
    ``check_image_shape``), ``UnsupportedMediaType`` (any other format) or
    ``PayloadTooLarge`` (over ``max_pixels``, or over Pillow's own bomb limit of about
    89 Mpx). Animated GIF and multi-page TIFF give their first frame.
    """
    pil_format = _sniff(data)
    with _open(data, pil_format, max_pixels) as opened:
        check_image_shape(*opened.size, max_pixels=max_pixels)
        _decode_pixels(opened)
        upright = _upright(opened)
        return _to_rgb_array(upright)


def load_image(path: Path, *, max_pixels: int) -> RGBImage:
    """Read an image file and decode it like ``decode_image``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read image file {path}: {exc.strerror or exc}") from exc
    return decode_image(data, max_pixels=max_pixels)


def encode_jpeg(image: RGBImage, quality: int = 90) -> bytes:
    """Encode an RGB array as a baseline JPEG (for face crops and thumbnails)."""
    if not 1 <= quality <= 95:
        raise ValueError(f"JPEG quality must be in 1..95, not {quality}")
    buffer = io.BytesIO()
    Image.fromarray(ensure_rgb(image)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def crop_face(image: RGBImage, box: Box, margin: float = 0.4) -> RGBImage:
    """The face box grown by ``margin`` x its size on every side, clipped to the image."""
    height, width = image.shape[:2]
    grown = crop_region(box, margin, width, height)
    return np.ascontiguousarray(image[grown.top : grown.bottom, grown.left : grown.right])


def crop_region(box: Box, margin: float, width: int, height: int) -> Box:
    """Where ``crop_face`` cuts: ``box`` grown by ``margin`` on every side, in the image."""
    if margin < 0:
        raise ValueError(f"margin must not be negative, not {margin}")
    dx, dy = round(box.width * margin), round(box.height * margin)
    grown = Box(box.left - dx, box.top - dy, box.right + dx, box.bottom + dy).clip(width, height)
    if grown.area == 0:
        raise InvalidInput(f"face box {box.as_list()} lies outside the {width}x{height} image")
    return grown


def ensure_rgb(image: RGBImage) -> RGBImage:
    """``image`` as a C-contiguous H x W x 3 uint8 array, or ``InvalidImage`` if it is not one."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InvalidImage("expected a uint8 numpy array")
    if image.ndim != 3 or image.shape[2] != 3:
        raise InvalidImage(f"expected an H x W x 3 RGB array, got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InvalidImage("the image has no pixels")
    return np.ascontiguousarray(image)


def _sniff(data: bytes) -> str:
    if not data:
        raise InvalidImage("empty file")
    for magic, offset, pil_format in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            if pil_format == "WEBP" and not data.startswith(b"RIFF"):
                continue
            return pil_format
    raise UnsupportedMediaType(
        f"not an accepted image format; send one of {', '.join(ACCEPTED_FORMATS)}"
    )


def _open(data: bytes, pil_format: str, max_pixels: int) -> Image.Image:
    """Parse the header only (Pillow decodes pixels lazily)."""
    try:
        with warnings.catch_warnings():
            # Pillow warns (rather than fails) between 1x and 2x its own pixel limit. The
            # filter swap is process-wide; a race with another thread can at worst leave this
            # one filter in place, which only turns that same warning into an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=[pil_format])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
        raise PayloadTooLarge(f"image has too many pixels; the limit is {limit:,}") from exc
    except UnidentifiedImageError as exc:
        raise InvalidImage(f"corrupt {pil_format} image: the header cannot be read") from exc
    except _DECODE_ERRORS as exc:
        raise InvalidImage(f"corrupt {pil_format} image: {exc}") from exc


def check_image_shape(width: int, height: int, *, max_pixels: int) -> None:
    """Refuse an image of ``width`` x ``height`` that no camera or photo has.

    ``InvalidImage`` when a side is empty, longer than ``MAX_IMAGE_SIDE`` or the aspect
    ratio beyond ``MAX_ASPECT_RATIO``; ``PayloadTooLarge`` over ``max_pixels``.
    """
    if width <= 0 or height <= 0:
        raise InvalidImage(f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise PayloadTooLarge(
            f"image is {width}x{height} = {width * height:,} pixels; the limit is {max_pixels:,}"
        )
    if max(width, height) > MAX_IMAGE_SIDE:
        raise InvalidImage(
            f"image is {width}x{height}: a side is longer than {MAX_IMAGE_SIDE:,} pixels"
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise InvalidImage(
            f"image is {width}x{height}: its sides differ by more than {MAX_ASPECT_RATIO}:1, "
            "no camera's or photo's shape"
        )


def _decode_pixels(image: Image.Image) -> None:
    """Decode the first frame now, so a truncated file fails here with a clear message."""
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise PayloadTooLarge("image has too many pixels to decode safely") from exc
    except _DECODE_ERRORS as exc:
        raise InvalidImage(f"corrupt or truncated {image.format} image: {exc}") from exc


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a broken EXIF block is ignored, not fatal."""
    try:
        return ImageOps.exif_transpose(image)
    except _DECODE_ERRORS as exc:
        logger.warning("ignoring unreadable EXIF orientation: %s", exc)
        return image


def _to_rgb_array(image: Image.Image) -> RGBImage:
    if image.mode == "RGB":
        rgb = image
    elif image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        rgb = _high_depth_grey(image)
    elif "A" in image.mode or "transparency" in image.info:
        rgb = _flatten_alpha(image)
    else:
        rgb = image.convert("RGB")
    return np.array(rgb, dtype=np.uint8, order="C")


def _flatten_alpha(image: Image.Image) -> Image.Image:
    """Composite a transparent image over white (transparent pixels hide arbitrary colours)."""
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _high_depth_grey(image: Image.Image) -> Image.Image:
    """Scale 16/32-bit or float grey to 8 bits (Pillow's own conversion clips at 255)."""
    values = np.asarray(image, dtype=np.float64)
    peak = float(values.max(initial=0.0))
    scale = 255.0 / 65535.0 if peak > 255.0 else 1.0
    grey = np.clip(values * scale, 0, 255).round().astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")

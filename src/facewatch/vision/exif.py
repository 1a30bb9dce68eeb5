"""When and where a photo was taken, from its EXIF tags (capture time, GPS position).

Cameras that upload snapshots stamp them; a detection takes that time and place when its
sender gives none. Nothing here fails on odd metadata: an unreadable tag is simply absent.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PIL import ExifTags, Image, UnidentifiedImageError

from facewatch.errors import ConfigurationError

logger = logging.getLogger(__name__)

_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class PhotoMetadata:
    """What the EXIF tags of a photo say (each field ``None`` when absent or unreadable)."""

    taken_at: datetime | None = None
    """Capture time, timezone-aware UTC."""
    latitude: float | None = None
    longitude: float | None = None


def time_zone(name: str) -> tzinfo:
    """The zone named ``name`` (``UTC`` or an IANA name); ``ConfigurationError`` if unknown."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"unknown time zone {name!r} (exif_timezone)") from None


def read_metadata(data: bytes, default_zone: tzinfo = UTC) -> PhotoMetadata:
    """The capture time and GPS position in an image's EXIF tags.

    A time without an offset tag is read in ``default_zone``.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            exif = image.getexif()
    except (UnidentifiedImageError, OSError, ValueError):
        return PhotoMetadata()
    try:
        details = exif.get_ifd(ExifTags.IFD.Exif)
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except (KeyError, ValueError, TypeError):
        details, gps = {}, {}
    latitude, longitude = _position(gps)
    return PhotoMetadata(_taken_at(exif, details, default_zone), latitude, longitude)


def _taken_at(exif: Image.Exif, details: dict[int, object], zone: tzinfo) -> datetime | None:
    """The original capture time, else the digitised time, else the file's time (IFD0)."""
    candidates = (
        (
            details.get(ExifTags.Base.DateTimeOriginal),
            details.get(ExifTags.Base.OffsetTimeOriginal),
        ),
        (
            details.get(ExifTags.Base.DateTimeDigitized),
            details.get(ExifTags.Base.OffsetTimeDigitized),
        ),
        (exif.get(ExifTags.Base.DateTime), details.get(ExifTags.Base.OffsetTime)),
    )
    for text, offset in candidates:
        moment = _parse_time(text, offset, zone)
        if moment is not None:
            return moment
    return None


def _parse_time(text: object, offset: object, zone: tzinfo) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        naive = datetime.strptime(text.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    local = naive.replace(tzinfo=_offset(offset) or zone)
    return local.astimezone(UTC)


def _offset(value: object) -> tzinfo | None:
    match = _OFFSET.match(value.strip("\x00 ")) if isinstance(value, str) else None
    if match is None:
        return None
    sign = -1 if match.group(1) == "-" else 1
    return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def _position(gps: dict[int, object]) -> tuple[float | None, float | None]:
    latitude = _coordinate(
        gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "S", 90
    )
    longitude = _coordinate(
        gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "W", 180
    )
    if latitude is None or longitude is None:
        return None, None
    return latitude, longitude


def _coordinate(value: object, ref: object, negative: str, bound: float) -> float | None:
    """Degrees from EXIF's (degrees, minutes, seconds) rationals and N/S or E/W."""
    if not isinstance(value, tuple) or len(value) != 3:
        return None
    try:
        degrees, minutes, seconds = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = degrees + minutes / 60 + seconds / 3600
    if isinstance(ref, str) and ref.strip("\x00 ").upper() == negative:
        result = -result
    if not -bound <= result <= bound or result != result:  # out of range or NaN
        return None
    return round(result, 7)

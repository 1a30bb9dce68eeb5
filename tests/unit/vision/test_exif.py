"""EXIF capture time and GPS position of a photo; odd metadata is ignored, never fatal."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from PIL import ExifTags, Image

from facewatch.errors import ConfigurationError
from facewatch.vision.exif import PhotoMetadata, read_metadata, time_zone


def photo(
    original: str | None = None,
    offset: str | None = None,
    ifd0_time: str | None = None,
    gps: dict[int, object] | None = None,
) -> bytes:
    exif = Image.Exif()
    if ifd0_time is not None:
        exif[ExifTags.Base.DateTime] = ifd0_time
    details = exif.get_ifd(ExifTags.IFD.Exif)
    if original is not None:
        details[ExifTags.Base.DateTimeOriginal] = original
    if offset is not None:
        details[ExifTags.Base.OffsetTimeOriginal] = offset
    if gps is not None:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(gps)
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


PARIS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (48.0, 51.0, 29.5),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (2.0, 17.0, 40.0),
}
RIO = {
    ExifTags.GPS.GPSLatitudeRef: "S",
    ExifTags.GPS.GPSLatitude: (22.0, 54.0, 0.0),
    ExifTags.GPS.GPSLongitudeRef: "W",
    ExifTags.GPS.GPSLongitude: (43.0, 12.0, 0.0),
}


@pytest.mark.parametrize(
    ("data", "zone", "expected"),
    [
        (photo("2026:11:20 09:15:00"), "UTC", datetime(2026, 11, 20, 9, 15, tzinfo=UTC)),
        (photo("2026:11:20 09:15:00", "+02:00"), "UTC", datetime(2026, 11, 20, 7, 15, tzinfo=UTC)),
        (photo("2026:11:20 09:15:00"), "Europe/Paris", datetime(2026, 11, 20, 8, 15, tzinfo=UTC)),
        (photo(ifd0_time="2026:01:02 03:04:05"), "UTC", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (photo("not a time"), "UTC", None),
        (photo(), "UTC", None),
    ],
    ids=["original", "with offset", "local zone", "file time", "garbage", "none"],
)
def test_the_capture_time_is_read_in_utc(data: bytes, zone: str, expected: datetime | None) -> None:
    assert read_metadata(data, time_zone(zone)).taken_at == expected


@pytest.mark.parametrize(
    ("gps", "expected"),
    [
        (PARIS, (48.858194, 2.294444)),
        (RIO, (-22.9, -43.2)),
        ({ExifTags.GPS.GPSLatitude: (48.0, 51.0, 29.5)}, (None, None)),
        ({**PARIS, ExifTags.GPS.GPSLatitude: (148.0, 0.0, 0.0)}, (None, None)),
    ],
    ids=["north east", "south west", "latitude only", "out of range"],
)
def test_the_gps_position_becomes_signed_degrees(
    gps: dict[int, object], expected: tuple[float | None, float | None]
) -> None:
    found = read_metadata(photo(gps=gps))
    assert found.latitude == pytest.approx(expected[0], abs=1e-5)
    assert found.longitude == pytest.approx(expected[1], abs=1e-5)


def test_bytes_that_are_no_image_have_no_metadata() -> None:
    assert read_metadata(b"not an image") == PhotoMetadata()


def test_an_unknown_time_zone_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="Mars/Olympus"):
        time_zone("Mars/Olympus")

"""The shapes the detectors hand to native code: ones it survives, within a pixel budget.

dlib's HOG detector corrupts its heap and aborts the process (``malloc(): corrupted top
size``) on images about 127,000 px wide and 128 px high or more (measured with dlib-bin:
126,000 x 128 runs, 128,000 x 128 and 128,000 x 150 abort), and every scaling step of the
pipeline (a crop scaled up to the detector's face size, the detectors' own upsampling) can
multiply an image's pixels. So every image reaching a detector's model, and every image a
scaling step makes, is held to these limits: a refusal (``InvalidImage``, 400) instead of a
dead worker or a worker of many gigabytes.
"""

from __future__ import annotations

from facewatch.errors import InvalidImage

MAX_NATIVE_SIDE = 32_768
"""Longest side given to a detector, after its own upsampling: a quarter of dlib's crash."""
MAX_NATIVE_ASPECT = 40
"""Longest over shortest side given to a detector (decoding accepts 20:1 at most)."""
MAX_SCALED_PIXELS = 40_000_000
"""Most pixels any scaling step may make (the default decoding limit): an image is upsampled
only while it stays within this, and a scaled copy beyond it is refused."""
MAX_NATIVE_PIXELS = 100_000_000
"""Most pixels given to a detector at all (above Pillow's own limit of about 89 Mpx)."""


def check_native_shape(height: int, width: int) -> None:
    """Refuse (``InvalidImage``) an image a detector's native code must not be given."""
    problem = _problem(height, width, MAX_NATIVE_PIXELS)
    if problem is not None:
        raise InvalidImage(f"the image cannot be analysed: {problem}")


def check_scaled_shape(height: int, width: int) -> None:
    """Refuse (``InvalidImage``) a scaled copy of ``height`` x ``width`` before making it."""
    problem = _problem(height, width, MAX_SCALED_PIXELS)
    if problem is not None:
        raise InvalidImage(f"the image cannot be analysed once scaled: {problem}")


def upsamples_within(height: int, width: int, wanted: int) -> int:
    """How many of ``wanted`` doublings the image takes and stays within the limits."""
    times = max(wanted, 0)
    while times > 0 and _problem(height << times, width << times, MAX_SCALED_PIXELS):
        times -= 1
    return times


def _problem(height: int, width: int, max_pixels: int) -> str | None:
    if height <= 0 or width <= 0:
        return f"{width}x{height} has no pixels"
    if max(height, width) > MAX_NATIVE_SIDE:
        return f"{width}x{height} has a side over {MAX_NATIVE_SIDE:,} px"
    if max(height, width) > MAX_NATIVE_ASPECT * min(height, width):
        return f"{width}x{height} has sides beyond {MAX_NATIVE_ASPECT}:1"
    if height * width > max_pixels:
        return f"{width}x{height} has over {max_pixels:,} pixels"
    return None

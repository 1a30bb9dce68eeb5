"""The frame sampler: keep ``fps`` frames a second of a source, evenly spread."""

from __future__ import annotations


class FrameSampler:
    """Says which frame positions (seconds) to keep so that ``fps`` frames a second remain.

    The schedule advances by exactly one period per kept frame, so a 25 fps video sampled
    at 6 fps keeps 6 frames a second on average rather than every fifth frame (5 fps). After
    a gap longer than a period (a stream that stalled) the schedule restarts from the gap's
    end instead of keeping a burst of frames to catch up.
    """

    def __init__(self, fps: float) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, not {fps}")
        self.period = 1.0 / fps
        self._next: float | None = None

    def keep(self, position: float) -> bool:
        """Whether the frame at ``position`` seconds is kept; call once per frame, in order."""
        if self._next is None or position >= self._next + self.period:
            self._next = position + self.period
            return True
        # A small tolerance: 25 fps positions are multiples of 0.04 s in binary floating point.
        if position + 1e-6 >= self._next:
            self._next += self.period
            return True
        return False

    def reset(self) -> None:
        """Start a new schedule (after a source reconnects)."""
        self._next = None

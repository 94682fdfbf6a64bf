"""
Thread-safe store of the newest camera data, shared by callbacks and the worker.

Callbacks only swap references (no conversion, no queue growth); the worker picks the frame
a command should be grounded on and the depth frame closest to it in time.
"""

from collections import deque
from dataclasses import dataclass
import threading
import time
from typing import Any


@dataclass(frozen=True)
class Frame:
    """A received message, its header stamp (ns) and its arrival order."""

    msg: Any
    stamp_ns: int
    sequence: int


def stamp_ns(header: Any) -> int:
    """Nanoseconds of a std_msgs/Header stamp."""
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


class FrameStore:
    """Latest colour frame, recent depth frames and the latest camera_info."""

    def __init__(self, depth_buffer_size: int = 30) -> None:
        self._changed = threading.Condition()
        self._colour: Frame | None = None
        self._sequence = 0
        self._depth: deque[Frame] = deque(maxlen=depth_buffer_size)
        self.camera_info: Any = None

    def add_colour(self, msg: Any) -> None:
        """Keep only the newest colour frame and wake a worker waiting for one."""
        with self._changed:
            self._sequence += 1
            self._colour = Frame(msg, stamp_ns(msg.header), self._sequence)
            self._changed.notify_all()

    def add_depth(self, msg: Any) -> None:
        """Remember a depth frame for pairing by stamp."""
        with self._changed:
            self._depth.append(Frame(msg, stamp_ns(msg.header), 0))

    def latest(self) -> tuple[Frame | None, int]:
        """
        Return the newest colour frame (if any) and the count of frames so far.

        Read together under the lock, so a frame arriving in between cannot make a command
        wait for one frame more than it should.
        """
        with self._changed:
            return self._colour, self._sequence

    def wait_after(self, sequence: int, timeout_s: float) -> Frame | None:
        """Wait for the first colour frame newer than `sequence`; None after timeout_s."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self._colour is None or self._colour.sequence <= sequence:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._changed.wait(remaining):
                    return None
            return self._colour

    def depth_near(self, stamp: int, tolerance_s: float) -> Frame | None:
        """Find the depth frame closest to `stamp`, if within tolerance_s."""
        with self._changed:
            candidates = list(self._depth)
        if not candidates:
            return None
        best = min(candidates, key=lambda frame: abs(frame.stamp_ns - stamp))
        return best if abs(best.stamp_ns - stamp) <= tolerance_s * 1e9 else None

"""
Thread-safe store of the newest camera data, shared by callbacks and the worker.

Callbacks only swap references (no conversion, no queue growth) and pair commands with frames
by the frame policy as both arrive; the worker waits for its command's frame and picks the
depth frame closest to it in time.
"""

from collections import deque
from dataclasses import dataclass
import threading
import time
from typing import Any

from ..frame_policy import FramePairer, FramePolicy, Pairing, stamp_ns


@dataclass(frozen=True)
class Frame:
    """
    A received message, its header stamp (ns) and its arrival order.

    A frame refused on arrival (over max_frame_pixels, unreadable header) keeps its header
    but not its pixel data, and says why: the command paired with it is answered with that.
    """

    msg: Any
    stamp_ns: int
    sequence: int
    refused: str = ''


class FrameStore:
    """Latest colour frame, commands waiting for one, recent depth frames, camera_info."""

    def __init__(self, depth_buffer_size: int = 30) -> None:
        self._changed = threading.Condition()
        self._closed = False
        self._sequence = 0
        self._pairer: FramePairer[Frame] = FramePairer()
        self._depth: deque[Frame] = deque(maxlen=depth_buffer_size)
        self.camera_info: Any = None

    def add_colour(self, msg: Any, refused: str = '') -> None:
        """Keep the newest colour frame; it is the frame of every command waiting for one."""
        with self._changed:
            self._sequence += 1
            frame = Frame(msg, stamp_ns(msg.header), self._sequence, refused)
            # Waiting commands time out in wait(), which knows the current timeout.
            self._pairer.frame(frame, time.monotonic_ns(), timeout_ns=2**62)
            self._changed.notify_all()

    def add_depth(self, msg: Any, refused: str = '') -> None:
        """Remember a depth frame for pairing by stamp."""
        with self._changed:
            self._depth.append(Frame(msg, stamp_ns(msg.header), 0, refused))
            self._changed.notify_all()

    def pair(self, policy: FramePolicy) -> Pairing[Frame]:
        """Claim a frame for a command arriving now, under the frame policy."""
        with self._changed:
            return self._pairer.command(time.monotonic_ns(), policy)

    def given(self, msg: Any, refused: str = '') -> Pairing[Frame]:
        """
        Pair a request with the image it brought (a service or action call), not the camera's.

        It takes a sequence number like a camera frame, so the frame cache never confuses it
        with another image of the same stamp; it never becomes the latest camera frame.
        """
        with self._changed:
            self._sequence += 1
            frame = Frame(msg, stamp_ns(msg.header), self._sequence, refused)
            return Pairing(time.monotonic_ns(), frame, decided=True)

    def cancel(self, pairing: Pairing[Frame]) -> None:
        """Withdraw the claim of a command that will not be answered."""
        with self._changed:
            self._pairer.cancel(pairing)

    def wait(self, pairing: Pairing[Frame], timeout_s: float) -> Frame | None:
        """Wait until the command has its frame, at most timeout_s after it arrived."""
        timeout_ns = int(timeout_s * 1e9)
        deadline = (pairing.arrived_ns + timeout_ns) / 1e9
        with self._changed:
            self._changed.wait_for(lambda: pairing.decided or self._closed,
                                   max(0.0, deadline - time.monotonic()))
            if not pairing.decided:
                self._pairer.expire(time.monotonic_ns(), timeout_ns)
            return pairing.frame

    def close(self) -> None:
        """Wake every waiting command: the node is going down (they get no frame)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def depth_near(self, stamp: int, tolerance_s: float, wait_s: float = 0.0) -> Frame | None:
        """
        Find the depth frame closest to `stamp`, if within tolerance_s.

        Depth and colour travel on topics of their own, so the depth frame taken with a colour
        frame may arrive after it: while the depth stream has not yet reached `stamp`, wait
        for it up to wait_s. Without any depth stream, or once it has passed `stamp`, the
        answer is immediate.
        """
        tolerance_ns = tolerance_s * 1e9
        with self._changed:
            self._changed.wait_for(
                lambda: self._closed or not self._depth
                or self._depth[-1].stamp_ns >= stamp - tolerance_ns, wait_s)
            candidates = list(self._depth)
        if not candidates:
            return None
        best = min(candidates, key=lambda frame: abs(frame.stamp_ns - stamp))
        return best if abs(best.stamp_ns - stamp) <= tolerance_ns else None

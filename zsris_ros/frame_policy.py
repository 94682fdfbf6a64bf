"""
Which camera frame a command is grounded on: the one rule of the live node and of bag replay.

`latest` grounds a command on the newest frame that arrived before it; `next` on the first
frame that arrives after it. A command that has no frame yet (under `next`, or before the
first frame under `latest`) waits for the next frame, at most `timeout_ns`; then it has none.
Time is whatever clock the caller uses (monotonic in the node, log time in a bag), so the
same commands and frames are paired identically live and in replay.
"""

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

FramePolicy = Literal['latest', 'next']
FrameT = TypeVar('FrameT')


def stamp_ns(header: Any) -> int:
    """Nanoseconds of a std_msgs/Header stamp (a live message or one read from a bag)."""
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


@dataclass
class Pairing(Generic[FrameT]):
    """A command's claim on a frame: when it arrived and, once decided, its frame."""

    arrived_ns: int
    frame: FrameT | None = None
    decided: bool = False


@dataclass
class FramePairer(Generic[FrameT]):
    """Pairs commands with frames as both arrive, in arrival order; not thread-safe."""

    latest: FrameT | None = None
    waiting: deque[Pairing[FrameT]] = field(default_factory=deque)

    def command(self, arrived_ns: int, policy: FramePolicy) -> Pairing[FrameT]:
        """Register a command; it is decided at once when the policy allows."""
        pairing: Pairing[FrameT] = Pairing(arrived_ns)
        if policy == 'latest' and self.latest is not None:
            pairing.frame, pairing.decided = self.latest, True
        else:
            self.waiting.append(pairing)
        return pairing

    def frame(self, frame: FrameT, arrived_ns: int, timeout_ns: int
              ) -> list[Pairing[FrameT]]:
        """Take a new frame: it is the first after every waiting command still in time."""
        decided = self.expire(arrived_ns, timeout_ns)
        for pairing in self.waiting:
            pairing.frame, pairing.decided = frame, True
        decided += self.waiting
        self.waiting.clear()
        self.latest = frame
        return decided

    def expire(self, now_ns: int, timeout_ns: int) -> list[Pairing[FrameT]]:
        """Give up on the commands that waited longer than timeout_ns (they have no frame)."""
        expired = []
        while self.waiting and now_ns - self.waiting[0].arrived_ns > timeout_ns:
            expired.append(self.waiting.popleft())
            expired[-1].decided = True
        return expired

    def cancel(self, pairing: Pairing[FrameT]) -> None:
        """Forget a waiting command that will not be answered (dropped before queueing)."""
        if pairing in self.waiting:
            self.waiting.remove(pairing)

    def flush(self) -> list[Pairing[FrameT]]:
        """End of input: every command still waiting has no frame."""
        flushed = list(self.waiting)
        for pairing in flushed:
            pairing.decided = True
        self.waiting.clear()
        return flushed

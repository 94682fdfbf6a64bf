"""FrameStore pairs a colour frame with its depth frame, even one still on its way."""

import threading
import time

from std_msgs.msg import Header

from zsris_ros.ros.frames import FrameStore

SECOND = 1_000_000_000


class Stamped:
    """The one thing the store reads of a message: its header."""

    def __init__(self, stamp_ns: int) -> None:
        self.header = Header()
        self.header.stamp.sec, self.header.stamp.nanosec = divmod(stamp_ns, SECOND)


def test_a_depth_frame_arriving_after_its_colour_frame_is_still_paired():
    store = FrameStore()
    store.add_depth(Stamped(10 * SECOND))
    late = threading.Timer(0.2, store.add_depth, [Stamped(11 * SECOND)])
    late.start()
    paired = store.depth_near(11 * SECOND, tolerance_s=0.05, wait_s=5.0)
    late.join()
    assert paired is not None and paired.stamp_ns == 11 * SECOND


def test_no_wait_without_a_depth_stream_or_once_it_has_passed_the_frame():
    store = FrameStore()
    start = time.monotonic()
    assert store.depth_near(11 * SECOND, tolerance_s=0.05, wait_s=5.0) is None
    store.add_depth(Stamped(12 * SECOND))
    assert store.depth_near(11 * SECOND, tolerance_s=0.05, wait_s=5.0) is None
    assert time.monotonic() - start < 1.0, 'nothing was worth waiting for'


def test_a_lagging_depth_stream_is_waited_for_only_wait_s():
    store = FrameStore()
    store.add_depth(Stamped(10 * SECOND))
    start = time.monotonic()
    assert store.depth_near(11 * SECOND, tolerance_s=0.05, wait_s=0.3) is None
    assert 0.25 < time.monotonic() - start < 3.0

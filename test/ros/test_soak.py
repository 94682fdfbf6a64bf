"""
Staying power: the node under a 30 Hz camera with bursts of commands.

CI runs a short soak (ZSRIS_SOAK_SECONDS, default 20 s). For a long run, e.g. an hour:
    ZSRIS_SOAK_SECONDS=3600 .venv/bin/python -m pytest -m soak test/ros/test_soak.py
Every command must be answered exactly once, the node's resident memory must stay within
SOAK_RSS_GROWTH_MB of its value after warm-up, and its log must hold no traceback.
"""

import os
from pathlib import Path
import sys
import threading
import time

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from node_harness import Harness, image_msg, sample_rgb, stamp  # noqa: E402, I100

SOAK_SECONDS = float(os.environ.get('ZSRIS_SOAK_SECONDS', '20'))
SOAK_RSS_GROWTH_MB = 150
FRAME_PERIOD_S = 1 / 30
BURST_EVERY_S = 3.0
BURST_SIZE = 4


def stream_frames(harness: Harness, stop: threading.Event) -> None:
    """Publish 30 frames a second, each with a new stamp, until stopped."""
    rgb, second = sample_rgb(), 1_700_000_000
    while not stop.is_set():
        second += 1
        harness.image_pub.publish(image_msg(rgb, 'rgb8', stamp(second)))
        time.sleep(FRAME_PERIOD_S)


@pytest.mark.soak
def test_camera_stream_with_command_bursts(ros_context, tmp_path):
    harness = Harness(ros_context, f'zsris_soak_{os.getpid()}', {'command_queue_size': 3},
                      tmp_path / 'soak.log')
    stop = threading.Event()
    streamer = threading.Thread(target=stream_frames, args=(harness, stop), daemon=True)
    try:
        harness.wait_ready(image_msg(sample_rgb(), 'rgb8', stamp(1_600_000_000)))
        streamer.start()
        baseline = harness.process.rss()
        sent, deadline = [], time.monotonic() + SOAK_SECONDS
        while time.monotonic() < deadline:
            sent += [harness.send(harness.unique('pick up the red mug'))
                     for _ in range(BURST_SIZE)]
            time.sleep(BURST_EVERY_S)
        harness.wait_for(lambda: all(harness.results_for(text) for text in sent), 120.0,
                         'a result for every command')
        growth_mb = (harness.process.rss() - baseline) / 2**20
    finally:
        stop.set()
        log = harness.close()
    counts = {text: len(harness.results_for(text)) for text in sent}
    assert set(counts.values()) == {1}, counts
    statuses = {harness.results_for(text)[0]['status'] for text in sent}
    assert statuses <= {'ok', 'dropped'} and 'ok' in statuses, statuses
    assert growth_mb < SOAK_RSS_GROWTH_MB, f'resident memory grew {growth_mb:.0f} MB'
    assert 'Traceback' not in log and 'Exception' not in log, log

"""
`zsris eval bag` on real MCAP and sqlite3 bags written with rosbags.

The tiny preset's answers are random, so these tests check pairing, files, statuses and
that the metrics agree with the lines, never accuracy.
"""

import json
from pathlib import Path
import sys
import tracemalloc

import cv2
import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from zsris_ros.tools import cli
from zsris_ros.tools.bags.layout import COMMAND_TOPIC, IMAGE_TOPIC, INFO_TOPIC, TRUTH_TOPIC
from zsris_ros.tools.bags.reader import Bag, BagTopics, paired_commands

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bag_helpers import (frame, frame_pixels, image_msg, MS, png_msg,  # noqa: E402, I100
                         read_metrics, read_results, seed_of, square_mask, string_msg, T0,
                         write_events)

STORAGES = ('mcap', 'sqlite3')
TOPICS = BagTopics(IMAGE_TOPIC, COMMAND_TOPIC, TRUTH_TOPIC, INFO_TOPIC)
SEEDS = (10, 20, 30)
TINY = ['--preset', 'tiny', '--device', 'cpu']


def timeline():
    """Commands before, between and at the same log time as frames (offsets in ms)."""
    return [
        (0, COMMAND_TOPIC, string_msg('the early cup')),
        (100, IMAGE_TOPIC, frame(10, 100)),
        (150, COMMAND_TOPIC, string_msg('the red cup')),
        (150, TRUTH_TOPIC, image_msg(square_mask(), 'mono8', T0 + 150 * MS)),
        (150, INFO_TOPIC, string_msg(json.dumps({'type': 'attribute'}))),
        (200, IMAGE_TOPIC, frame(20, 200)),
        (200, COMMAND_TOPIC, string_msg('the cup logged with a frame')),
        (300, COMMAND_TOPIC, string_msg('the blue cup')),
        (300, TRUTH_TOPIC, image_msg(square_mask((10, 10), (2, 2, 5, 5)), 'mono8')),
        (400, IMAGE_TOPIC, frame(30, 400)),
        (500, COMMAND_TOPIC, string_msg('the last cup')),
    ]


def eval_bag(bag, out, *options):
    return cli.main(['eval', 'bag', str(bag), *TINY, '--out', str(out), *options])


@pytest.mark.parametrize('storage', STORAGES)
@pytest.mark.parametrize('policy, timeout, expected', [
    ('latest', 5.0, [10, 10, 20, 20, 30]),   # before any frame: wait for the first, as the node
    ('latest', 0.05, [None, 10, 20, 20, 30]),
    ('next', 5.0, [10, 20, 30, 30, None]),
    ('next', 0.15, [10, 20, None, 30, None]),
])
def test_commands_meet_the_frame_the_node_would_use(tmp_path, storage, policy, timeout,
                                                    expected):
    bag = write_events(tmp_path / 'bag', storage, timeline())
    with Bag(bag) as opened:
        commands = list(paired_commands(opened, TOPICS, policy, timeout))
        assert [c.index for c in commands] == [0, 1, 2, 3, 4]
        assert [seed_of(c.frame, SEEDS) for c in commands] == expected


@pytest.mark.parametrize('storage', STORAGES)
def test_truth_and_info_belong_to_the_command_at_the_same_log_time(tmp_path, storage):
    bag = write_events(tmp_path / 'bag', storage, timeline())
    with Bag(bag) as opened:
        commands = list(paired_commands(opened, TOPICS, 'latest', 5.0))
        assert [c.text for c in commands][1] == 'the red cup'
        assert np.array_equal(commands[1].truth.mask(), square_mask() > 0)
        assert commands[1].info == {'type': 'attribute'}
        assert commands[3].truth.mask().shape == (10, 10)
        assert [c.truth is None for c in commands] == [True, False, True, False, True]
        assert commands[1].frame.stamp_ns == T0 + 100 * MS
        assert commands[1].log_ns == T0 + 150 * MS


def test_compressed_frames_use_the_node_conversion(tmp_path):
    pixels = frame_pixels(7)
    bag = write_events(tmp_path / 'bag', 'mcap', [
        (0, '/camera/image/compressed', png_msg(pixels)), (10, COMMAND_TOPIC, string_msg('x'))])
    with Bag(bag) as opened:
        topics = BagTopics('/camera/image/compressed', COMMAND_TOPIC)
        [command] = paired_commands(opened, topics, 'latest', 1.0)
        assert np.array_equal(command.frame.rgb(), pixels)


@pytest.mark.parametrize('storage', STORAGES)
def test_eval_bag_end_to_end(tmp_path, storage, capsys):
    bag = write_events(tmp_path / 'bag', storage, timeline())
    out = tmp_path / 'run'
    assert eval_bag(bag, out, '--next-frame-timeout', '0.05', '--overlays') == 0
    assert capsys.readouterr().out.startswith('n=5 scored=1 ')

    records = read_results(out)
    assert [r['index'] for r in records] == [0, 1, 2, 3, 4]
    early, red, _, blue, _ = records
    assert early['status'] == 'no_image' and early['image_stamp_ns'] is None
    assert [r['status'] for r in records[1:]] == ['ok'] * 4
    assert red['command'] == 'the red cup' and red['info'] == {'type': 'attribute'}
    assert red['command_log_ns'] == T0 + 150 * MS
    assert red['image_log_ns'] == red['image_stamp_ns'] == T0 + 100 * MS
    assert red['gt'] == 'ok' and red['union'] >= 600 and 0 <= red['iou'] <= 1
    assert red['iou'] == pytest.approx(red['intersection'] / red['union'])
    assert set(red['timings_ms']) >= {'proposals', 'visual', 'text', 'total'}
    assert blue['gt'] == 'size_mismatch' and blue['iou'] is None
    assert '10x10' in blue['gt_message'] and '64x48' in blue['gt_message']

    metrics = read_metrics(out)
    assert metrics['n'] == 5 and metrics['n_scored'] == 1
    assert metrics['oIoU'] == pytest.approx(red['intersection'] / red['union'])
    assert metrics['status_counts'] == {'no_image': 1, 'ok': 4}
    assert set(metrics['latency_ms']['total']) == {'p50', 'p95', 'max'}
    assert metrics['by_type']['attribute']['n'] == 1
    overlays = sorted(p.name for p in (out / 'overlays').iterdir())
    assert overlays == ['000001.png', '000002.png', '000003.png', '000004.png']


def test_interrupted_run_resumes_without_losing_or_repeating_lines(tmp_path,
                                                                   capsys):
    bag = write_events(tmp_path / 'bag', 'mcap', timeline())
    out = tmp_path / 'run'
    assert eval_bag(bag, out, '--limit', '2') == 0
    results = out / 'results.jsonl'
    finished = results.read_text()
    assert len(finished.splitlines()) == 2 and read_metrics(out)['n'] == 2
    with results.open('a') as file:
        file.write('{"index": 2, "command": "the cup logg')   # killed mid-line

    assert eval_bag(bag, out) == 0
    assert results.read_text().startswith(finished)
    assert [r['index'] for r in read_results(out)] == [0, 1, 2, 3, 4]
    assert read_metrics(out)['n'] == 5

    capsys.readouterr()
    assert eval_bag(bag, out, '--v', '0.5') == cli.EXIT_CONFIG
    error = capsys.readouterr().err
    assert 'other settings (v)' in error and 'Traceback' not in error


def test_truth_from_a_json_file(tmp_path):
    bag = write_events(tmp_path / 'bag', 'sqlite3', timeline())
    cv2.imwrite(str(tmp_path / 'one.png'), square_mask())
    cv2.imwrite(str(tmp_path / 'three.png'), square_mask(box=(0, 0, 48, 64)))
    truth = tmp_path / 'truth.json'
    truth.write_text(json.dumps([{'command_index': 1, 'mask': 'one.png'},
                                 {'stamp_ns': T0 + 300 * MS, 'mask': 'three.png'},
                                 {'command_index': 4, 'mask': 'missing.png'}]))
    out = tmp_path / 'run'
    assert eval_bag(bag, out, '--gt-file', str(truth)) == 0
    gt = [r['gt'] for r in read_results(out)]
    assert gt == ['none', 'ok', 'none', 'ok', 'unreadable']
    assert read_results(out)[3]['union'] == 48 * 64


def test_missing_topic_names_the_topics_there_are(tmp_path, capsys):
    bag = write_events(tmp_path / 'bag', 'mcap', timeline())
    code = eval_bag(bag, tmp_path / 'run', '--image-topic', '/camera/nope')
    assert code == cli.EXIT_CONFIG
    [line] = capsys.readouterr().err.strip().splitlines()
    assert '/camera/nope' in line and '--image-topic' in line
    assert f'{IMAGE_TOPIC} [sensor_msgs/msg/Image]' in line and COMMAND_TOPIC in line


def test_a_topic_of_the_wrong_type_is_refused(tmp_path, capsys):
    bag = write_events(tmp_path / 'bag', 'mcap', timeline())
    assert eval_bag(bag, tmp_path / 'run', '--command-topic', IMAGE_TOPIC) == cli.EXIT_CONFIG
    assert 'std_msgs/msg/String' in capsys.readouterr().err


@pytest.mark.parametrize('storage, suffix', [('mcap', '.mcap'), ('sqlite3', '.db3')])
def test_truncated_bag_is_one_line_and_exit_2(tmp_path, capsys, storage, suffix):
    bag = write_events(tmp_path / 'bag', storage, timeline())
    [data] = bag.glob(f'*{suffix}')
    data.write_bytes(data.read_bytes()[:data.stat().st_size // 2])
    assert eval_bag(bag, tmp_path / 'run') == cli.EXIT_CONFIG
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith('zsris: error: cannot open bag') and str(bag) in line


def test_a_read_error_midway_keeps_the_finished_lines(tmp_path, monkeypatch,
                                                      capsys):
    bag = write_events(tmp_path / 'bag', 'mcap', timeline())
    readable = AnyReader.messages

    def failing(self, connections=()):
        for number, message in enumerate(readable(self, connections)):
            if number == 6:   # the command logged with the second frame
                raise ValueError('chunk crc mismatch')
            yield message

    monkeypatch.setattr(AnyReader, 'messages', failing)
    out = tmp_path / 'run'
    assert eval_bag(bag, out) == cli.EXIT_CONFIG
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith('zsris: error: cannot read') and 'chunk crc mismatch' in error
    assert [r['index'] for r in read_results(out)] == [0, 1]
    assert read_metrics(out)['n'] == 2


def test_not_a_bag_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / 'notes.txt').write_text('not a bag')
    assert eval_bag(tmp_path / 'notes.txt', tmp_path / 'run') == cli.EXIT_CONFIG
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def replay_peak_memory(path, storage, frames):
    """Peak traced bytes while pairing every command of a bag and decoding its frame."""
    events = []
    for i in range(frames):
        events += [(i * 100, IMAGE_TOPIC, frame(i, i * 100, (240, 320))),
                   (i * 100 + 50, COMMAND_TOPIC, string_msg(f'command {i}'))]
    with Bag(write_events(path, storage, events)) as opened:
        tracemalloc.start()
        try:
            for command in paired_commands(opened, BagTopics(IMAGE_TOPIC, COMMAND_TOPIC),
                                           'latest', 1.0):
                command.frame.rgb()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


@pytest.mark.parametrize('storage', STORAGES)
def test_replay_memory_does_not_grow_with_the_bag(tmp_path, storage):
    short = replay_peak_memory(tmp_path / 'short', storage, 24)
    long = replay_peak_memory(tmp_path / 'long', storage, 72)
    assert long < 1.2 * short, f'{short} bytes for 24 frames, {long} for 72'
    # An MCAP chunk (about 1 MiB) is read whole; sqlite3 hands rows over one by one.
    assert long < 20 * 240 * 320 * 3


@pytest.mark.parametrize('content', [
    b'[{"command_index": Infinity, "mask": "one.png"}]',
    b'[{"stamp_ns": NaN, "mask": "one.png"}]',
    b'[{"command_index": "1", "mask": "one.png"}]',
    b'[{"command_index": true, "mask": "one.png"}]',
    b'[{"command_index": 1.5, "mask": "one.png"}]',
    b'[{"command_index": -1, "mask": "one.png"}]',
    b'[{"command_index": 1, "mask": 7}]',
    b'[{"mask": "one.png"}]',
    b'[["command_index", 1]]',
    b'{"command_index": 1, "mask": "one.png"}',
    b'[{"command_index": 1, "mask": "one.png"}',
    b'[{"command_index": 1, "mask": "\xff.png"}]',
])
def test_a_malformed_gt_file_is_one_line_and_exit_2(tmp_path, capsys, content):
    bag = write_events(tmp_path / 'bag', 'mcap', timeline())
    truth = tmp_path / 'truth.json'
    truth.write_bytes(content)
    assert eval_bag(bag, tmp_path / 'run', '--gt-file', str(truth)) == cli.EXIT_CONFIG
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f'zsris: error: cannot use --gt-file {truth}: ')
    assert not (tmp_path / 'run').exists()

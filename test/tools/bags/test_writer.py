"""`zsris bag from-toy` writes bags that `zsris eval bag` replays onto the right scenes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from zsris_ros.tools import cli
from zsris_ros.tools.bags.layout import COMMAND_TOPIC, IMAGE_TOPIC, INFO_TOPIC, TRUTH_TOPIC
from zsris_ros.tools.bags.reader import Bag, BagTopics, paired_commands
from zsris_ros.tools.bags.writer import COMMAND_GAP_NS, SCENE_GAP_NS, START_NS
from zsris_ros.toy.scenes import generate_scene

TOPICS = BagTopics(IMAGE_TOPIC, COMMAND_TOPIC, TRUTH_TOPIC, INFO_TOPIC)


@pytest.mark.parametrize('storage', ('mcap', 'sqlite3'))
def test_toy_bag_pairs_every_command_with_its_own_scene(tmp_path, storage, capsys):
    bag = tmp_path / 'toy'
    assert cli.main(['bag', 'from-toy', '--n', '2', '--seed', '5', '--out', str(bag),
                     '--storage', storage]) == 0
    scenes = [generate_scene(5), generate_scene(6)]
    expected = [(scene, e) for scene in scenes for e in scene.expressions
                if e.expected_status == 'ok']
    assert len(expected) < sum(len(scene.expressions) for scene in scenes), (
        'an ambiguous expression has no one mask and is left out of the bag')
    assert capsys.readouterr().out.startswith(f'wrote {len(expected)} commands on 2 scenes')
    with Bag(bag) as opened:
        commands = list(paired_commands(opened, TOPICS, 'latest', 5.0))
        assert len(commands) == len(expected)
        for command, (scene, expression) in zip(commands, expected):
            assert command.text == expression.text
            assert np.array_equal(command.frame.rgb(), scene.image)
            assert np.array_equal(command.truth.mask(), scene.objects[expression.target].mask)
            assert command.info == {'type': expression.type, 'target': expression.target,
                                    'scene_seed': scene.seed}
    first_scene = sum(e.expected_status == 'ok' for e in scenes[0].expressions)
    assert commands[0].log_ns == START_NS + COMMAND_GAP_NS
    assert commands[first_scene].frame.log_ns == (
        START_NS + first_scene * COMMAND_GAP_NS + SCENE_GAP_NS)


def test_an_existing_bag_is_never_overwritten(tmp_path, capsys):
    (tmp_path / 'toy').mkdir()
    code = cli.main(['bag', 'from-toy', '--n', '1', '--out', str(tmp_path / 'toy')])
    assert code == cli.EXIT_CONFIG
    assert 'exists already' in capsys.readouterr().err


def test_toy_bag_through_the_real_command(tmp_path):
    """The `zsris` process itself: progress on stderr, one summary line on stdout."""
    bag, out = tmp_path / 'toy', tmp_path / 'run'
    assert cli.main(['bag', 'from-toy', '--n', '1', '--seed', '2', '--out', str(bag),
                     '--storage', 'sqlite3']) == 0
    done = subprocess.run(
        [sys.executable, '-m', 'zsris_ros.tools.cli', 'eval', 'bag', str(bag), '--preset',
         'tiny', '--device', 'cpu', '--limit', '2', '--out', str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ, 'HF_HUB_OFFLINE': '1'})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f'n=2 scored=2 oIoU={_fixed(out, "oIoU")} mIoU={_fixed(out, "mIoU")} '
        f'no_match_rate=0.0000 -> {out / "metrics.json"}']
    assert '2/2' in done.stderr and 'Traceback' not in done.stderr
    metrics = json.loads((out / 'metrics.json').read_text())
    types = [expression.type for expression in generate_scene(2).expressions[:2]]
    assert sum(group['n'] for group in metrics['by_type'].values()) == 2
    assert set(metrics['by_type']) == set(types)


def _fixed(out, key):
    return f'{json.loads((out / "metrics.json").read_text())[key]:.4f}'


def test_toy_bag_carries_each_scenes_depth_and_camera(tmp_path):
    from zsris_ros.image_io import depth_from_image
    from zsris_ros.tools.bags.layout import CAMERA_INFO_TOPIC, DEPTH_TOPIC

    bag = tmp_path / 'toy'
    assert cli.main(['bag', 'from-toy', '--n', '2', '--seed', '5', '--out', str(bag)]) == 0
    topics = BagTopics(IMAGE_TOPIC, COMMAND_TOPIC, TRUTH_TOPIC, INFO_TOPIC, DEPTH_TOPIC,
                       CAMERA_INFO_TOPIC)
    with Bag(bag) as opened:
        for command in paired_commands(opened, topics, 'latest', 5.0):
            scene = generate_scene(command.info['scene_seed'])
            depth = opened.deserialize(command.frame.depth.raw, 'sensor_msgs/msg/Image')
            assert depth.header.stamp == opened.deserialize(
                command.frame.raw, 'sensor_msgs/msg/Image').header.stamp
            assert np.array_equal(depth_from_image(depth), scene.depth)
            info = opened.deserialize(command.frame.camera_info, 'sensor_msgs/msg/CameraInfo')
            assert np.allclose(info.k, scene.camera.k)
            assert (info.width, info.height) == (scene.camera.width, scene.camera.height)

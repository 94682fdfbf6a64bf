"""
`zsris ground` and `zsris parse` end to end, through the real weight-loading path.

Also the layering the command line relies on: light subcommands never load torch, the core's
errors name settings (the CLI words them as its options), and `zsris eval bag` needs no ROS
message packages.
"""

import json
import os
from pathlib import Path
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import torch

from zsris_ros.grounding import GroundingConfig, ModelConfigError, weights
from zsris_ros.grounding.models import load_clip
from zsris_ros.tools import cli

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bag_helpers import frame, frame_pixels, png_msg, string_msg, write_events  # noqa: E402, I100

RESULT_KEYS = {'expression', 'referring_expression', 'noun_phrase', 'status', 'score', 'margin',
               'bbox', 'centroid', 'area', 'num_proposals', 'timings_ms', 'warnings'}


def zsris(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'zsris_ros.tools.cli', *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'HF_HUB_OFFLINE': '1'})


def run_python(script: str, *args: str) -> subprocess.CompletedProcess:
    """Run a script in a fresh interpreter, where nothing the tests imported is loaded yet."""
    return subprocess.run([sys.executable, '-c', textwrap.dedent(script), *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'HF_HUB_OFFLINE': '1'})


def test_ground_end_to_end_with_checkpoint_files(tmp_path, tiny_checkpoints, sample_image):
    clip_file, sam_file = tiny_checkpoints
    out = tmp_path / 'mask.png'
    done = zsris('ground', '--preset', 'tiny', '--device', 'cpu', '--image', str(sample_image),
                 '--text', 'pick up the red mug on the left', '--out', str(out),
                 '--clip-pretrained', str(clip_file), '--sam-checkpoint', str(sam_file))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert RESULT_KEYS <= result.keys()
    assert result['status'] == 'ok'
    assert result['referring_expression'] == 'the red mug on the left'
    assert result['noun_phrase'] == 'the red mug'
    assert set(result['timings_ms']) == {'proposals', 'sam_encoder', 'sam_decoder', 'sam_post',
                                         'visual', 'text', 'spatial', 'total'}
    assert result['warnings'], 'tiny models must warn that answers are meaningless'
    mask = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (240, 320) and set(np.unique(mask)) <= {0, 255}
    ys, xs = np.nonzero(mask)
    assert (mask > 0).sum() == result['area']
    assert result['bbox'] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    u, v = result['centroid']
    assert mask[round(v), round(u)] == 255


def test_missing_checkpoint_file_is_one_line_and_exit_2(tmp_path, sample_image):
    missing = tmp_path / 'sam_vit_b_01ec64.pth'
    done = zsris('ground', '--image', str(sample_image), '--text', 'the mug',
                 '--sam-checkpoint', str(missing))
    assert done.returncode == cli.EXIT_CONFIG
    assert done.stdout == ''
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in done.stderr
    assert str(missing) in lines[0] and '--sam-checkpoint' in lines[0]


def test_unreachable_download_fails_fast_naming_url(tmp_path, monkeypatch, capsys,
                                                    sample_image):
    url = 'https://weights.invalid/segment_anything/sam_vit_b_01ec64.pth'
    monkeypatch.setitem(weights.SAM_URLS, 'vit_b', url)
    code = cli.main(['ground', '--image', str(sample_image), '--text', 'the mug',
                     '--weights-dir', str(tmp_path)])
    captured = capsys.readouterr()
    assert code == cli.EXIT_CONFIG
    assert url in captured.err and '--sam-checkpoint' in captured.err
    assert not list(tmp_path.iterdir()), 'no partial download may stay behind'


def test_missing_clip_file_names_the_option(tmp_path, capsys, sample_image):
    missing = tmp_path / 'clip.bin'
    code = cli.main(['ground', '--image', str(sample_image), '--text', 'the mug', '--preset',
                     'tiny', '--clip-pretrained', str(missing)])
    assert code == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert str(missing) in err and '--clip-pretrained' in err


def test_invalid_knob_is_a_config_error(capsys, sample_image):
    code = cli.main(['ground', '--image', str(sample_image), '--text', 'x', '--v', '1.5'])
    assert code == cli.EXIT_CONFIG
    assert 'v:' in capsys.readouterr().err


def test_parse_prints_the_phrases():
    done = zsris('parse', 'bring me the screwdriver on the table')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        'expression': 'bring me the screwdriver on the table',
        'referring_expression': 'the screwdriver on the table',
        'noun_phrase': 'the screwdriver'}


# Runs every subcommand's --help, then `params` and `parse`, in one interpreter, and prints
# which heavy packages each step had loaded by its end.
LIGHT_COMMANDS = """
    import argparse, contextlib, io, json, sys
    from zsris_ros.tools import cli

    def subcommands(parser, prefix=()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from subcommands(sub, prefix + (name,))
                return
        yield list(prefix)

    steps = [[*command, '--help'] for command in subcommands(cli.build_parser())]
    steps += [['--help'], ['params'], ['params', '--markdown'], ['parse', 'pick up the red mug']]
    loaded = {}
    for argv in steps:
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                cli.main(argv)
            except SystemExit:
                pass
        loaded[' '.join(argv)] = sorted({name.split('.')[0] for name in sys.modules})
    print(json.dumps(loaded))
"""
HEAVY = {'torch', 'open_clip', 'segment_anything', 'cv2', 'rclpy'}


def test_help_params_and_parse_never_load_torch():
    done = run_python(LIGHT_COMMANDS)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert 'eval bag --help' in loaded and 'toy train --help' in loaded
    for step, packages in loaded.items():
        assert not HEAVY & set(packages), f'zsris {step} loaded {HEAVY & set(packages)}'
        if not step.startswith('parse'):
            assert 'spacy' not in packages, f'zsris {step} loaded spaCy'
    assert 'spacy' in loaded['parse pick up the red mug'], 'parse must really have parsed'


def test_core_errors_name_the_setting_and_the_cli_its_option(tmp_path):
    with pytest.raises(weights.WeightsUnavailableError) as sam:
        weights.sam_checkpoint_path('vit_b', str(tmp_path / 'sam.pth'))
    with pytest.raises(weights.WeightsUnavailableError) as clip:
        weights.clip_checkpoint_path('ViT-B-32', str(tmp_path / 'clip.bin'))
    with pytest.raises(ModelConfigError) as model:
        load_clip(GroundingConfig(preset='tiny', clip_model='no-such-model'),
                  torch.device('cpu'))
    errors = {'sam_checkpoint': sam.value, 'clip_pretrained': clip.value,
              'clip_model': model.value}
    ground = cli.build_parser().parse_args(['ground', '--image', 'x.png', '--text', 'x'])
    params = cli.build_parser().parse_args(['params'])
    for setting, error in errors.items():
        assert error.setting == setting
        assert setting in str(error) and '--' not in str(error), 'the core names no option'
        option = '--' + setting.replace('_', '-')
        assert cli.describe_error(error, ground) == f'{error} (option {option})'
        assert cli.describe_error(error, params) == str(error), 'params has no such option'


# Imports the offline evaluation with the ROS message packages made unimportable, then reads
# a raw and a PNG-compressed frame from a bag and saves what it decoded.
WITHOUT_ROS = """
    import sys
    from pathlib import Path

    import numpy as np

    BLOCKED = {'rclpy', 'sensor_msgs', 'std_msgs', 'geometry_msgs', 'builtin_interfaces'}

    class NoRos:
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in BLOCKED:
                raise ImportError(f'{name} is blocked in this test')
            return None

    sys.meta_path.insert(0, NoRos())
    try:
        import sensor_msgs.msg
    except ImportError:
        pass
    else:
        sys.exit('the blocker let sensor_msgs through')

    import zsris_ros.tools.evaluation.bag
    from zsris_ros.tools.bags.reader import Bag, BagTopics, paired_commands

    bag_path, out = Path(sys.argv[1]), Path(sys.argv[2])
    with Bag(bag_path) as bag:
        for topic in ('/raw', '/png'):
            command = next(paired_commands(bag, BagTopics(topic, '/command'), 'latest', 1.0))
            np.save(out / (topic.strip('/') + '.npy'), command.frame.rgb())
    print(sorted(BLOCKED & {name.split('.')[0] for name in sys.modules}))
"""


def test_eval_bag_decodes_frames_without_ros_message_packages(tmp_path):
    pixels = frame_pixels(7)
    bag = write_events(tmp_path / 'bag', 'mcap', [
        (0, '/raw', frame(7, 0)), (0, '/png', png_msg(pixels)),
        (10, '/command', string_msg('the mug'))])
    done = run_python(WITHOUT_ROS, str(bag), str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '[]'
    assert np.array_equal(np.load(tmp_path / 'raw.npy'), pixels)
    assert np.array_equal(np.load(tmp_path / 'png.npy'), pixels)

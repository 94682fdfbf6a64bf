"""`zsris ground` and `zsris parse` end to end, through the real weight-loading path."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np

from zsris_ros.grounding import weights
from zsris_ros.tools import cli

RESULT_KEYS = {'expression', 'referring_expression', 'noun_phrase', 'status', 'score', 'margin',
               'bbox', 'centroid', 'area', 'num_proposals', 'timings_ms', 'warnings'}


def zsris(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'zsris_ros.tools.cli', *args],
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
    assert set(result['timings_ms']) == {'proposals', 'visual', 'text', 'total'}
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

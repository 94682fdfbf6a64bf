"""
`zsris ground --out`: refused before any model loads when unusable; the JSON is never lost.

The refusals are run with a SAM checkpoint that does not exist: had the models been loaded
first, the error would name the checkpoint instead of --out.
"""

import errno
import json
from pathlib import Path

import cv2
import pytest

from zsris_ros.tools import cli

TINY = ['--preset', 'tiny', '--device', 'cpu']


def ground(image, out, *options):
    return cli.main(['ground', '--image', str(image), '--text', 'the red mug', '--out',
                     str(out), *options])


@pytest.mark.parametrize('make_out, problem', [
    (lambda tmp: tmp, 'is a folder'),
    (lambda tmp: tmp / 'mask', 'give a name ending in .png'),
    (lambda tmp: tmp / 'mask.jpg', 'give a name ending in .png'),
    (lambda tmp: tmp / 'notes.txt' / 'mask.png', 'is a file, not a folder'),
    (lambda tmp: tmp / 'notes.txt' / 'deeper' / 'mask.png', 'is a file, not a folder'),
])
def test_an_unusable_out_is_one_line_before_models_load(tmp_path, capsys, sample_image,
                                                        make_out, problem):
    (tmp_path / 'notes.txt').write_text('not a folder')
    out = make_out(tmp_path)
    code = ground(sample_image, out, *TINY, '--sam-checkpoint', str(tmp_path / 'no.pth'))
    captured = capsys.readouterr()
    assert code == cli.EXIT_CONFIG and captured.out == ''
    [line] = captured.err.strip().splitlines()
    assert line.startswith(f'zsris: error: --out {out}') and problem in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ['notes.txt'], 'nothing written'


def test_a_mask_goes_into_new_folders(tmp_path, capsys, sample_image):
    out = tmp_path / 'masks' / 'today' / 'mug.PNG'
    assert ground(sample_image, out, *TINY) == 0
    result = json.loads(capsys.readouterr().out)
    mask = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert result['status'] == 'ok' and (mask > 0).sum() == result['area']


def test_a_failed_write_still_prints_the_result(tmp_path, capsys, sample_image, monkeypatch):
    def disk_full(self, data):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(Path, 'write_bytes', disk_full)
    out = tmp_path / 'mask.png'
    assert ground(sample_image, out, *TINY) == cli.EXIT_CONFIG
    captured = capsys.readouterr()
    assert json.loads(captured.out)['status'] == 'ok'
    [line] = captured.err.strip().splitlines()
    assert line == f'zsris: error: cannot write the mask to {out}: No space left on device'

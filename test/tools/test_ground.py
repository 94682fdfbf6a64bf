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


@pytest.fixture(scope='module')
def toy_files(tmp_path_factory):
    """Write a toy scene as a user has one: colour PNG, 16-bit depth PNG (mm), intrinsics."""
    import numpy as np

    from zsris_ros.toy.scenes import generate_scene

    scene = generate_scene(10_003)
    folder = tmp_path_factory.mktemp('toy_files')
    cv2.imwrite(str(folder / 'colour.png'), cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / 'depth.png'), np.round(scene.depth * 1000).astype(np.uint16))
    camera = scene.camera
    return scene, folder, [str(v) for v in (camera.fx, camera.fy, camera.cx, camera.cy)]


def test_depth_and_intrinsics_give_the_3d_target_point(toy_files, capsys):
    import numpy as np

    from zsris_ros.grounding.geometry import back_project, mask_depth

    scene, folder, intrinsics = toy_files
    out = folder / 'mask.png'
    code = cli.main(['ground', '--preset', 'toy', '--device', 'cpu', '--image',
                     str(folder / 'colour.png'), '--depth', str(folder / 'depth.png'),
                     '--intrinsics', *intrinsics, '--text', 'pick up the nearest circle',
                     '--out', str(out)])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result['depth_status'] == 'ok', result
    assert result['reading']['positions'] == ['nearest']
    mask = cv2.imread(str(out), cv2.IMREAD_UNCHANGED) > 0
    depth_m = cv2.imread(str(folder / 'depth.png'), cv2.IMREAD_UNCHANGED) / 1000.0
    k = np.array(scene.camera.k).reshape(3, 3)
    expected = back_project(*result['centroid'], mask_depth(mask, depth_m), k)
    assert result['target_point'] == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize('content, problem', [
    (b'not an image', 'single-channel 16-bit PNG'),
    (None, 'no such file'),
])
def test_an_unreadable_depth_is_one_line(tmp_path, capsys, sample_image, content, problem):
    depth = tmp_path / 'depth.png'
    if content is not None:
        depth.write_bytes(content)
    code = cli.main(['ground', '--image', str(sample_image), '--text', 'the cup', '--depth',
                     str(depth), *TINY])
    captured = capsys.readouterr()
    assert code == cli.EXIT_CONFIG and captured.out == ''
    assert problem in captured.err and len(captured.err.strip().splitlines()) == 1

"""
Where weights are looked for, and what happens when the file found is not good.

A weights_dir given for CLIP is used offline. A cached SAM checkpoint is checked against the
sha256 prefix in its official name whenever it is used (the check is remembered per size and
mtime), and any checkpoint that does not load is one error naming the file, the setting and
how to replace it. With `offline`, a missing file is an error naming it and the fetch command.
(Downloads themselves are tested against real servers in test/tools/test_weights_cli.py.)
"""

import hashlib
import os

import pytest
import torch

from zsris_ros.grounding import GroundingConfig, ModelConfigError, weights
from zsris_ros.grounding.models import load_clip, load_sam
from zsris_ros.grounding.weights import (clip_checkpoint_path, expected_digest, fetch_command,
                                         HF_DEFAULT_FILE, sam_checkpoint_path,
                                         unusable_checkpoint, verification, VERIFIED_SUFFIX,
                                         WeightsUnavailableError)
from zsris_ros.tools import cli

CPU = torch.device('cpu')
GARBAGE = b'<html><body>404 Not Found</body></html>\n'


def test_clip_weights_already_in_weights_dir_are_found_without_the_network(tmp_path):
    # The Hugging Face cache layout open_clip downloads into.
    repo = tmp_path / 'models--timm--vit_base_patch32_clip_224.openai'
    snapshot = repo / 'snapshots' / '0123abcd'
    snapshot.mkdir(parents=True)
    (repo / 'refs').mkdir()
    (repo / 'refs' / 'main').write_text('0123abcd')
    weights_file = snapshot / HF_DEFAULT_FILE
    weights_file.write_bytes(b'weights')
    assert clip_checkpoint_path('ViT-B-32', 'openai', str(tmp_path)) == str(weights_file)


@pytest.fixture
def cached_sam(tmp_path, monkeypatch, tiny_checkpoints):
    """Put the tiny SAM file in the cache under an official-style name: <name>_<sha256[:6]>."""
    data = tiny_checkpoints[1].read_bytes()
    name = f'sam_tiny_{hashlib.sha256(data).hexdigest()[:6]}.pth'
    monkeypatch.setitem(weights.SAM_URLS, 'tiny', f'https://weights.invalid/{name}')
    cached = tmp_path / name
    cached.write_bytes(data)
    return cached


def damage(path, keep_mtime):
    """Flip one byte in the middle; the size stays, and the mtime too when asked."""
    status = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    if keep_mtime:
        os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))


def test_a_cached_sam_checkpoint_is_verified_when_used(cached_sam, tmp_path):
    assert sam_checkpoint_path('tiny', 'auto', str(tmp_path)) == cached_sam
    assert (tmp_path / (cached_sam.name + VERIFIED_SUFFIX)).is_file()
    damage(cached_sam, keep_mtime=False)
    with pytest.raises(WeightsUnavailableError) as error:
        sam_checkpoint_path('tiny', 'auto', str(tmp_path))
    message = str(error.value)
    assert f'cached checkpoint {cached_sam} is damaged' in message
    assert 'delete it so it is downloaded again, or set sam_checkpoint' in message
    assert error.value.setting == 'sam_checkpoint'


def test_a_passed_check_is_remembered_by_size_and_mtime(cached_sam, tmp_path):
    """Not hashed again while size and mtime hold: shown by a damage that keeps both."""
    sam_checkpoint_path('tiny', 'auto', str(tmp_path))
    damage(cached_sam, keep_mtime=True)
    assert sam_checkpoint_path('tiny', 'auto', str(tmp_path)) == cached_sam
    os.utime(cached_sam)
    with pytest.raises(WeightsUnavailableError, match='is damaged'):
        sam_checkpoint_path('tiny', 'auto', str(tmp_path))


def test_a_cache_from_before_the_check_is_hashed_once(cached_sam, tmp_path):
    sidecar = tmp_path / (cached_sam.name + VERIFIED_SUFFIX)
    for remembered in (None, b'[1, 2]', b'{"size": '):
        if remembered is not None:
            sidecar.write_bytes(remembered)
        assert sam_checkpoint_path('tiny', 'auto', str(tmp_path)) == cached_sam
        record = sidecar.read_text()
        assert f'"size": {cached_sam.stat().st_size}' in record
        assert hashlib.sha256(cached_sam.read_bytes()).hexdigest() in record


@pytest.mark.parametrize('content', ('garbage', 'truncated'))
def test_an_unreadable_sam_file_names_file_and_setting(tmp_path, tiny_checkpoints, content):
    bad = tmp_path / 'sam.pth'
    good = tiny_checkpoints[1].read_bytes()
    bad.write_bytes(GARBAGE if content == 'garbage' else good[:len(good) // 2])
    config = GroundingConfig(preset='tiny', device='cpu', sam_checkpoint=str(bad))
    with pytest.raises(WeightsUnavailableError) as error:
        load_sam(config, CPU)
    message = str(error.value)
    assert message.startswith(f'cannot load SAM checkpoint {bad} (')
    assert message.endswith('set sam_checkpoint to a good checkpoint file')
    assert '\n' not in message and 'weights_only' not in message


def test_a_clip_file_given_as_sam_is_a_model_config_error(tiny_checkpoints):
    clip_file = tiny_checkpoints[0]
    config = GroundingConfig(preset='tiny', device='cpu', sam_checkpoint=str(clip_file))
    with pytest.raises(ModelConfigError) as error:
        load_sam(config, CPU)
    assert error.value.setting == 'sam_checkpoint'
    assert f'SAM checkpoint {clip_file} does not fit sam_model ' in str(error.value)


@pytest.mark.parametrize('content', ('garbage', 'a SAM checkpoint'))
def test_an_unusable_clip_file_names_file_and_setting(tmp_path, tiny_checkpoints, content):
    bad = tmp_path / 'clip.bin'
    bad.write_bytes(GARBAGE if content == 'garbage' else tiny_checkpoints[1].read_bytes())
    config = GroundingConfig(preset='tiny', device='cpu', clip_pretrained=str(bad))
    with pytest.raises(WeightsUnavailableError) as error:
        load_clip(config, CPU)
    message = str(error.value)
    assert message.startswith(f'cannot load CLIP checkpoint for zsris-tiny {bad} (')
    assert message.endswith('set clip_pretrained to a good checkpoint file')
    assert error.value.setting == 'clip_pretrained' and '\n' not in message


def test_a_bad_cached_file_is_named_where_it_really_lies(tmp_path):
    """Hub caches link names to blobs: deleting the blob is what makes a download happen."""
    blob = tmp_path / 'blobs' / 'f00d'
    blob.parent.mkdir()
    blob.write_bytes(GARBAGE)
    link = tmp_path / HF_DEFAULT_FILE
    link.symlink_to(blob)
    error = unusable_checkpoint('CLIP checkpoint', link, 'clip_pretrained',
                                RuntimeError('PytorchStreamReader failed'), cached=True)
    assert str(error) == (
        f'cannot load CLIP checkpoint {link} (RuntimeError: PytorchStreamReader failed); '
        f'delete {blob} so it is downloaded again, or set clip_pretrained to a good file')


def test_the_cli_reports_a_garbage_checkpoint_in_one_line(tmp_path, capsys, sample_image):
    bad = tmp_path / 'sam.pth'
    bad.write_bytes(GARBAGE)
    code = cli.main(['ground', '--image', str(sample_image), '--text', 'the mug', '--preset',
                     'tiny', '--device', 'cpu', '--sam-checkpoint', str(bad)])
    assert code == cli.EXIT_CONFIG
    [line] = capsys.readouterr().err.strip().splitlines()
    assert str(bad) in line and line.endswith('(option --sam-checkpoint)')


def test_the_fetch_command_spells_only_what_differs_from_the_preset():
    assert fetch_command(GroundingConfig()) == 'zsris weights fetch --preset real'
    config = GroundingConfig(preset='tiny', sam_checkpoint='auto', weights_dir='/w x',
                             v=0.5, offline=True)
    assert fetch_command(config) == \
        "zsris weights fetch --preset tiny --sam-checkpoint auto --weights-dir '/w x'"


def hub_cache(root, files):
    """Lay files out as the Hugging Face cache does: blobs named by sha256, linked by name."""
    repo = root / 'models--timm--vit_base_patch32_clip_224.openai'
    (repo / 'refs').mkdir(parents=True)
    (repo / 'refs' / 'main').write_text('0123abcd')
    (repo / 'blobs').mkdir()
    snapshot = repo / 'snapshots' / '0123abcd'
    snapshot.mkdir(parents=True)
    for name, data in files.items():
        blob = repo / 'blobs' / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / name).symlink_to(blob)
    return snapshot


def test_offline_clip_lookup_finds_the_file_open_clip_prefers(tmp_path):
    snapshot = hub_cache(tmp_path, {HF_DEFAULT_FILE: b'bin', 'open_clip_model.safetensors': b's'})
    found = clip_checkpoint_path('ViT-B-32', 'openai', str(tmp_path), offline=True)
    assert found == str(snapshot / 'open_clip_model.safetensors')


def test_offline_names_the_missing_file_and_an_interrupted_download(tmp_path, monkeypatch):
    monkeypatch.setenv('ZSRIS_SAM_URL_TINY', 'http://127.0.0.1:9/sam_tiny_abcdef.pth')
    (tmp_path / 'sam_tiny_abcdef.pth.part').write_bytes(b'half')
    with pytest.raises(WeightsUnavailableError) as error:
        sam_checkpoint_path('tiny', 'auto', str(tmp_path), offline=True, fetch_hint='zsris x')
    assert error.value.setting == 'offline'
    assert str(error.value) == (
        f'SAM checkpoint {tmp_path / "sam_tiny_abcdef.pth"} is missing and offline is true, '
        'so it is not downloaded; fetch it beforehand with `zsris x` (it resumes the '
        f'interrupted download {tmp_path / "sam_tiny_abcdef.pth.part"}), or set offline to '
        'false')
    with pytest.raises(WeightsUnavailableError, match='offline is true'):
        clip_checkpoint_path('ViT-B-32', 'openai', str(tmp_path), offline=True)


def test_cached_files_are_checked_against_the_digest_their_name_gives(tmp_path):
    data = b'weights' * 100
    snapshot = hub_cache(tmp_path, {'model.bin': data})
    git_blob = snapshot.parent.parent / 'blobs' / hashlib.sha1(
        b'blob %d\0' % len(data) + data).hexdigest()
    git_blob.write_bytes(data)
    named = tmp_path / f'sam_tiny_{hashlib.sha256(data).hexdigest()[:6]}.pth'
    named.write_bytes(data)
    plain = tmp_path / 'weights.pth'
    plain.write_bytes(data)
    for path in (snapshot / 'model.bin', git_blob, named):
        assert verification(path) == 'unchecked'
        assert verification(path, rehash=True) == 'verified'
        assert verification(path) == 'verified', 'a passed check is remembered'
        damage(path.resolve(), keep_mtime=False)
        assert verification(path, rehash=True) == 'damaged'
    assert expected_digest(plain) is None and verification(plain, rehash=True) == 'unknown'

"""
Finding model weights on disk, or fetching them with bounded waits.

Machines without hub access must get one clear error naming what is missing and which
setting points at a local copy, never a retry loop or a stack trace.

A SAM checkpoint in the cache is checked against the sha256 prefix in its official file name
each time it is used, not only when downloaded. Hashing took 0.27 s for 375 MB (vit_b) on a
server CPU with SHA instructions; vit_h is 2.5 GB and small CPUs are several times slower.
So a passed check is remembered in a sidecar file beside the checkpoint, keyed by the file's
size and modification time: a file changed in any ordinary way (rewritten, truncated,
replaced) is hashed again before it is trusted.

`download` is the one download of the project (CLIP files come through open_clip and the
Hugging Face hub, which keep their own cache): the bytes go to `<name>.part` beside the
target, resumed with an HTTP Range request when an interrupted run left one, fsynced,
checked, and only then renamed to the final name, so that name never holds a partial or
unverified file. With `offline` nothing is downloaded at all: a missing file is an error
that names it and the `zsris weights fetch` command that gets it beforehand.

Importing this module is cheap (open_clip is imported when a CLIP tag is resolved, tqdm when
a download starts), so a command line can recognise its errors without loading torch.
"""

from contextlib import suppress
import hashlib
import http.client
import json
import os
from pathlib import Path
import pickle
import re
import shlex
import socket
import sys
import tempfile
from typing import Any, BinaryIO
from urllib.error import HTTPError
from urllib.parse import urlparse
import urllib.request

try:
    import fcntl
except ImportError:  # not POSIX: two downloads of one file are not kept apart
    fcntl = None

SAM_URLS = {
    'vit_b': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth',
    'vit_l': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth',
    'vit_h': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth',
}
#: Replaces the download URL of one SAM model's checkpoint (a mirror), e.g.
#: ZSRIS_SAM_URL_VIT_B; its file name must end in the sha256 prefix, as the official names do.
SAM_URL_ENV = 'ZSRIS_SAM_URL_{}'
NETWORK_TIMEOUT_S = 10.0
HF_DEFAULT_FILE = 'open_clip_pytorch_model.bin'
#: Beside a verified cached checkpoint: its size, mtime and sha256 when the check passed.
VERIFIED_SUFFIX = '.verified.json'
#: Beside the target while it downloads; an interrupted download leaves it for the next try.
PARTIAL_SUFFIX = '.part'
#: The settings that point at local weights, named in every WeightsUnavailableError.
SAM_SETTING = 'sam_checkpoint'
CLIP_SETTING = 'clip_pretrained'
OFFLINE_SETTING = 'offline'
WEIGHTS_DIR_SETTING = 'weights_dir'
#: The settings that decide which weight files a configuration needs: the options of
#: `zsris weights fetch`, and what the offline error's fetch command spells out.
FETCH_SETTINGS = ('preset', 'proposer', 'sam_model', 'sam_checkpoint', 'clip_model',
                  'clip_pretrained', 'weights_dir')
CHUNK_BYTES = 1 << 20
#: A digest at the end of a file name's stem (official SAM names: sam_vit_b_01ec64).
NAME_DIGEST = re.compile(r'_([0-9a-f]{6,64})$')


class WeightsUnavailableError(RuntimeError):
    """
    Weights are neither on disk nor downloadable; the message says what to set.

    `setting` names that setting as the core knows it (e.g. 'sam_checkpoint'), so each front
    end can show it its own way: the CLI as its --option, the node as its parameter.
    """

    def __init__(self, message: str, setting: str) -> None:
        """Keep the setting apart from the message, which names it but no option."""
        super().__init__(message)
        self.setting = setting


def unusable_checkpoint(what: str, path: Path | str, setting: str, error: Exception,
                        cached: bool) -> WeightsUnavailableError:
    """
    Word a checkpoint file that failed to load: which file, why, and how to replace it.

    torch's own unpickling message advises loading with weights_only=False, which is wrong
    advice for a file that is simply not a checkpoint, so that case gets plain words.
    """
    if isinstance(error, (pickle.UnpicklingError, EOFError)):
        reason = 'not a PyTorch checkpoint, or a damaged one'
    else:
        text = ' '.join(str(error).split())
        reason = f'{type(error).__name__}: {text[:157] + "..." if len(text) > 160 else text}'
    remedy = (f'delete {Path(path).resolve()} so it is downloaded again, or set {setting} '
              'to a good file' if cached else f'set {setting} to a good checkpoint file')
    return WeightsUnavailableError(f'cannot load {what} {path} ({reason}); {remedy}', setting)


def cache_dir(weights_dir: str = '') -> Path:
    """Where downloads go: the configured folder, else the XDG cache."""
    if weights_dir:
        return Path(weights_dir).expanduser()
    xdg = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(xdg) / 'zsris_ros'


def fetch_command(config: Any) -> str:
    """
    Spell the `zsris weights fetch` command that gets every file a configuration needs.

    Only the model settings that differ from the preset's are given, so the command stays
    short and still fetches exactly what this configuration loads.
    """
    from .config import GroundingConfig

    preset = GroundingConfig(preset=config.preset)
    words = ['zsris', 'weights', 'fetch', '--preset', config.preset]
    for name in FETCH_SETTINGS[1:]:
        value = getattr(config, name)
        if value != getattr(preset, name):
            words += ['--' + name.replace('_', '-'), str(value)]
    return shlex.join(words)


def offline_error(what: str, fetch_hint: str, partial: Path | None = None) -> \
        WeightsUnavailableError:
    """Word a file that offline mode will not download: which file, why, how to get it."""
    hint = fetch_hint or 'zsris weights fetch'
    resume = (f' (it resumes the interrupted download {partial})'
              if partial is not None and partial.is_file() else '')
    return WeightsUnavailableError(
        f'{what} is missing and offline is true, so it is not downloaded; fetch it '
        f'beforehand with `{hint}`{resume}, or set offline to false', OFFLINE_SETTING)


def sam_url(sam_model: str) -> str:
    """Return where a SAM model's checkpoint downloads from: its mirror variable, else Meta."""
    variable = SAM_URL_ENV.format(sam_model.upper())
    override = os.environ.get(variable, '').strip()
    if not override:
        if sam_model not in SAM_URLS:
            raise WeightsUnavailableError(
                f'sam_model {sam_model!r} has no official checkpoint; set sam_checkpoint to a '
                "file or 'none'", SAM_SETTING)
        return SAM_URLS[sam_model]
    if not NAME_DIGEST.search(Path(Path(urlparse(override).path).name).stem):
        raise WeightsUnavailableError(
            f'{variable}={override} must name a file whose name ends in its sha256 prefix, '
            'as the official names do (sam_vit_b_01ec64.pth)', SAM_SETTING)
    return override


def sam_cache_path(sam_model: str, weights_dir: str = '') -> Path:
    """Return where `sam_checkpoint: auto` keeps a SAM model's checkpoint."""
    return cache_dir(weights_dir) / Path(urlparse(sam_url(sam_model)).path).name


def partial_path(target: Path) -> Path:
    """Return the temporary file a download of target writes to, beside it."""
    return target.with_name(target.name + PARTIAL_SUFFIX)


def sam_checkpoint_path(sam_model: str, checkpoint: str, weights_dir: str = '', *,
                        offline: bool = False, fetch_hint: str = '',
                        progress: bool = False) -> Path:
    """
    Resolve the SAM checkpoint setting to an existing, verified file.

    'auto' downloads a missing checkpoint to the cache, unless offline: then it is an error
    naming the file and the fetch_hint command that gets it beforehand.
    """
    if checkpoint != 'auto':
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise WeightsUnavailableError(
                f'SAM checkpoint {path} not found; set sam_checkpoint to an existing file '
                "or 'auto'", SAM_SETTING)
        return path
    url = sam_url(sam_model)
    target = sam_cache_path(sam_model, weights_dir)
    if target.is_file():
        verify_cached(target, SAM_SETTING)
    elif offline:
        raise offline_error(f'SAM checkpoint {target}', fetch_hint, partial_path(target))
    else:
        download(url, target, SAM_SETTING, progress=progress)
    return target


def expected_sha256_prefix(path: Path) -> str:
    """Official SAM file names end in the first hex digits of their sha256."""
    return path.stem.rsplit('_', 1)[-1]


def expected_digest(path: Path) -> tuple[str, str] | None:
    """
    Return the (algorithm, hex digits) a cached weight file must hash to, if its name says.

    Official SAM names end in a sha256 prefix; Hugging Face cache blobs, where hub snapshots
    link to, are named by their full sha256 (LFS files) or git blob sha1 (small files).
    """
    real = path.resolve()
    if real.parent.name == 'blobs':
        if re.fullmatch('[0-9a-f]{64}', real.name):
            return 'sha256', real.name
        if re.fullmatch('[0-9a-f]{40}', real.name):
            return 'git-sha1', real.name
        return None
    found = NAME_DIGEST.search(real.stem)
    return ('sha256', found.group(1)) if found else None


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks so memory stays flat."""
    return file_digest(path, 'sha256')


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file: 'sha256', or 'git-sha1' (git's blob id, as the hub names blobs)."""
    if algorithm == 'git-sha1':
        digest = hashlib.sha1(b'blob %d\0' % path.stat().st_size, usedforsecurity=False)
    else:
        digest = hashlib.sha256()
    with path.open('rb') as stream:
        for chunk in iter(lambda: stream.read(CHUNK_BYTES), b''):
            digest.update(chunk)
    return digest.hexdigest()


def verify_cached(path: Path, setting: str) -> None:
    """
    Check a cached official checkpoint against its name, hashing it only when it changed.

    A damaged file is left in place, for the user to look at or delete: the error says how
    to get a good copy.
    """
    stamp = _stamp(path)
    if _remembered(path) == stamp:
        return
    prefix = expected_sha256_prefix(path)
    digest = file_sha256(path)
    if not digest.startswith(prefix):
        raise WeightsUnavailableError(
            f'cached checkpoint {path} is damaged (its sha256 does not start with {prefix}); '
            f'delete it so it is downloaded again, or set {setting} to a good copy', setting)
    _remember(path, stamp, digest)


def verification(path: Path, rehash: bool = False) -> str:
    """
    Say whether a cached weight file matches the digest its name gives.

    'verified': a passed check is on record for the file's size and mtime (or, with rehash,
    it hashed right just now, which is then recorded); 'unchecked': no such record (a SAM
    file is hashed at its next use); 'damaged': it hashed wrong; 'unknown': its name gives
    no digest to check against.
    """
    expected = expected_digest(path)
    if expected is None:
        return 'unknown'
    real = path.resolve()
    stamp = _stamp(real)
    if not rehash:
        return 'verified' if _remembered(real) == stamp else 'unchecked'
    algorithm, prefix = expected
    digest = file_digest(real, algorithm)
    if not digest.startswith(prefix):
        return 'damaged'
    _remember(real, stamp, digest, algorithm)
    return 'verified'


def _stamp(path: Path) -> dict[str, int]:
    status = path.stat()
    return {'size': status.st_size, 'mtime_ns': status.st_mtime_ns}


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + VERIFIED_SUFFIX)


def _remembered(path: Path) -> dict[str, int] | None:
    """Return the size and mtime the file had when it last passed its check, if recorded."""
    try:
        record = json.loads(_sidecar(path).read_text(encoding='utf-8'))
        return {'size': record['size'], 'mtime_ns': record['mtime_ns']}
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _remember(path: Path, stamp: dict[str, int], digest: str,
              algorithm: str = 'sha256') -> None:
    """Record a passed check; a read-only cache only means hashing again next time."""
    with suppress(OSError):
        _sidecar(path).write_text(json.dumps({**stamp, algorithm: digest}) + '\n',
                                  encoding='utf-8')


def clip_checkpoint_path(model_name: str, pretrained: str, weights_dir: str = '', *,
                         offline: bool = False, fetch_hint: str = '') -> str:
    """
    Resolve an open_clip pretrained tag or file to a local file path.

    A tag's file is looked up in the hub cache without any request, and downloaded (by
    open_clip, through the hub) only when it is missing and offline is false.
    """
    from open_clip.pretrained import download_pretrained, get_pretrained_cfg

    if os.path.isfile(pretrained):
        return pretrained
    pretrained_cfg = get_pretrained_cfg(model_name, pretrained)
    if not pretrained_cfg:
        raise WeightsUnavailableError(
            f'clip_pretrained {pretrained!r} is neither a file nor an open_clip tag of '
            f'{model_name}; set clip_pretrained to a checkpoint file', CLIP_SETTING)
    hub_cache = hub_cache_dir(weights_dir)
    cached = cached_hub_file(pretrained_cfg, hub_cache)
    if cached:
        return cached
    if offline:
        from huggingface_hub.constants import HF_HUB_CACHE

        raise offline_error(f'CLIP file {hub_file_name(pretrained_cfg)} ({model_name} '
                            f'{pretrained}) in {hub_cache or HF_HUB_CACHE}', fetch_hint)
    source = _source_url(pretrained_cfg)
    _require_reachable(source, CLIP_SETTING)
    try:
        return download_pretrained(pretrained_cfg, cache_dir=hub_cache)
    except OSError as error:
        text = ' '.join(str(error).split())
        raise WeightsUnavailableError(
            f'cannot download {source} ({text[:200]}); download it elsewhere and set '
            f'{CLIP_SETTING} to the local file', CLIP_SETTING) from None


def hub_cache_dir(weights_dir: str = '') -> str | None:
    """Return where CLIP hub files go: the weights_dir, or None for the hub's own cache."""
    return str(cache_dir(weights_dir)) if weights_dir else None


def _hub_file(pretrained_cfg: dict) -> tuple[str, str]:
    """Split a tag's hub entry, 'org/repo/' or 'org/repo/file', into repo id and file."""
    repo_id, filename = os.path.split(pretrained_cfg.get('hf_hub', ''))
    return repo_id, filename or HF_DEFAULT_FILE


def hub_file_name(pretrained_cfg: dict) -> str:
    """Name a tag's weights as the hub does, 'org/repo/file', with the file open_clip prefers."""
    repo_id, filename = _hub_file(pretrained_cfg)
    first, *others = _hub_candidates(filename)
    return f'{repo_id}/{first}' + ''.join(f' (or {other})' for other in others)


def _hub_candidates(filename: str) -> list[str]:
    """List the files open_clip tries for a hub entry, in its order: safetensors first."""
    if filename == HF_DEFAULT_FILE:
        return ['open_clip_model.safetensors', filename]
    if filename.endswith(('.bin', '.pth')):
        return [filename[:-4] + '.safetensors', filename]
    return [filename]


def cached_hub_file(pretrained_cfg: dict, hub_cache: str | None) -> str | None:
    """
    Return the path of a tag's weights when already in the hub cache; never use the network.

    Looks for each file open_clip would download, in open_clip's order, so the file found is
    the one it would load. Only the cache's folders are read: the hub's own offline lookup,
    hf_hub_download(local_files_only=True), still builds request headers, and that fetches
    the hub's agent registry over the network once a day (seen with huggingface_hub 2.4 unless
    HF_HUB_OFFLINE or HF_HUB_DISABLE_TELEMETRY is set when it is imported).
    """
    from huggingface_hub import try_to_load_from_cache

    if not pretrained_cfg.get('hf_hub', ''):
        return None
    repo_id, filename = _hub_file(pretrained_cfg)
    for name in _hub_candidates(filename):
        found = try_to_load_from_cache(repo_id, name, cache_dir=hub_cache)
        if isinstance(found, str):
            return found
    return None


def _source_url(pretrained_cfg: dict) -> str:
    if pretrained_cfg.get('hf_hub', ''):
        from huggingface_hub import hf_hub_url

        return hf_hub_url(*_hub_file(pretrained_cfg))
    return pretrained_cfg.get('url', '')


def _require_reachable(url: str, setting: str) -> None:
    """Fail within NETWORK_TIMEOUT_S when the host (or the proxy to it) cannot be reached."""
    parsed = urlparse(url)
    host = parsed.hostname or ''
    port = parsed.port or (80 if parsed.scheme == 'http' else 443)
    proxy = urllib.request.getproxies().get(parsed.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxied = urlparse(proxy if '://' in proxy else f'http://{proxy}')
        host, port = proxied.hostname or '', proxied.port or 80
    try:
        socket.create_connection((host, port), timeout=NETWORK_TIMEOUT_S).close()
    except OSError as error:
        raise WeightsUnavailableError(
            f'cannot download {url} ({error}); download it elsewhere and set {setting} to '
            'the local file', setting) from None


def ensure_writable(folder: Path) -> None:
    """Create a weights folder when missing and check that files can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise WeightsUnavailableError(
            f'weights folder {folder} is not writable ({error.strerror or error}); set '
            f'{WEIGHTS_DIR_SETTING} to a folder you can write to', WEIGHTS_DIR_SETTING) from None


def download(url: str, target: Path, setting: str, *, progress: bool = False) -> str:
    """
    Download url to target and check it against the sha256 prefix in target's name.

    The bytes go to target's .part file in the same folder, resumed with an HTTP Range
    request when an interrupted download left one (from a server that ignores Range, the
    whole file replaces it); then fsync, the check, and os.replace, so target never names a
    partial or unverified file. An interrupted download keeps its .part for the next try;
    one that fails its check is deleted. Errors name the URL; returns the file's sha256.
    """
    _require_reachable(url, setting)
    ensure_writable(target.parent)
    partial = partial_path(target)
    with partial.open('ab') as stream:
        _lock(stream, partial, setting)
        offset = stream.seek(0, os.SEEK_END)
        try:
            total = _receive(url, stream, offset, target.name, progress)
        except (OSError, http.client.HTTPException) as error:
            raise _failed(url, partial, stream, setting, error) from None
        stream.flush()
        os.fsync(stream.fileno())
        size = os.fstat(stream.fileno()).st_size
    if total is not None and size < total:
        raise WeightsUnavailableError(
            f'downloading {url} stopped after {size} of {total} bytes (the server closed the '
            f'connection); {partial} keeps them and the next try resumes from there',
            setting)
    digest = file_sha256(partial)
    prefix = expected_sha256_prefix(target)
    if not digest.startswith(prefix):
        partial.unlink(missing_ok=True)
        raise WeightsUnavailableError(
            f'downloaded {url}, but its sha256 {digest[:12]}... does not start with {prefix} '
            f'as its name says, so the download {partial} was removed; check the URL, or set '
            f'{setting} to a good local copy', setting)
    os.replace(partial, target)
    _fsync_folder(target.parent)
    _remember(target, _stamp(target), digest)
    return digest


def _lock(stream: BinaryIO, partial: Path, setting: str) -> None:
    """Keep two processes from writing one .part file (the lock goes with the file)."""
    if fcntl is None:
        return
    try:
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise WeightsUnavailableError(
            f'{partial} is being downloaded by another process; wait for it to finish',
            setting) from None


def _receive(url: str, stream: BinaryIO, offset: int, name: str, progress: bool) -> int | None:
    """Append the rest of url's bytes from offset to stream; return the full size if known."""
    request = urllib.request.Request(url, headers={'Range': f'bytes={offset}-'} if offset
                                     else {})
    try:
        response = urllib.request.urlopen(request, timeout=NETWORK_TIMEOUT_S)
    except HTTPError as error:
        if error.code != 416 or not offset:
            raise
        # Range Not Satisfiable: what is on disk is no prefix of this file; start over.
        error.close()
        _restart(stream)
        offset = 0
        response = urllib.request.urlopen(url, timeout=NETWORK_TIMEOUT_S)
    with response:
        if offset and _range_start(response) != offset:
            _restart(stream)
            if response.status == 206:
                raise http.client.HTTPException(
                    f'the server sent a range other than the one asked for (bytes={offset}-)')
            offset = 0  # the server ignores Range: it sends the whole file
        length = response.headers.get('Content-Length')
        total = offset + int(length) if length and length.isdigit() else None
        from tqdm import tqdm

        # With progress, drawn on a terminal only (None): logs and pipes get no bar.
        with tqdm(total=total, initial=offset, desc=name, unit='B', unit_scale=True,
                  unit_divisor=1024, disable=None if progress else True, leave=False,
                  file=sys.stderr) as bar:
            for chunk in iter(lambda: response.read(CHUNK_BYTES), b''):
                stream.write(chunk)
                bar.update(len(chunk))
    return total


def _restart(stream: BinaryIO) -> None:
    """Empty the .part file, so the whole file is received again."""
    stream.flush()
    stream.seek(0)
    stream.truncate(0)


def _range_start(response: http.client.HTTPResponse) -> int | None:
    """Return the first byte a 206 answer holds, from its Content-Range; None otherwise."""
    if response.status != 206:
        return None
    found = re.match(r'bytes (\d+)-', response.headers.get('Content-Range', ''))
    return int(found.group(1)) if found else None


def _failed(url: str, partial: Path, stream: BinaryIO, setting: str,
            error: Exception) -> WeightsUnavailableError:
    """Word a failed transfer; keep the bytes received for a resume, if there are any."""
    stream.flush()
    size = os.fstat(stream.fileno()).st_size
    reason = ' '.join(str(error).split()) or type(error).__name__
    if not size:
        partial.unlink(missing_ok=True)
        return WeightsUnavailableError(
            f'cannot download {url} ({reason}); download it elsewhere and set {setting} to '
            'the local file', setting)
    return WeightsUnavailableError(
        f'downloading {url} was interrupted after {size} bytes ({reason}); {partial} keeps '
        'them and the next try resumes from there', setting)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in folder durable (POSIX); a no-op where folders cannot be opened."""
    with suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)

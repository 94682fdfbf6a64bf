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

Importing this module is cheap (open_clip is imported when a CLIP tag is resolved), so a
command line can recognise its errors without loading torch.
"""

from contextlib import suppress
import hashlib
import json
import os
from pathlib import Path
import pickle
import shutil
import socket
from urllib.parse import urlparse
import urllib.request

SAM_URLS = {
    'vit_b': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth',
    'vit_l': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth',
    'vit_h': 'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth',
}
NETWORK_TIMEOUT_S = 10.0
HF_DEFAULT_FILE = 'open_clip_pytorch_model.bin'
#: Beside a verified cached checkpoint: its size, mtime and sha256 when the check passed.
VERIFIED_SUFFIX = '.verified.json'
#: The settings that point at local weights, named in every WeightsUnavailableError.
SAM_SETTING = 'sam_checkpoint'
CLIP_SETTING = 'clip_pretrained'


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


def sam_checkpoint_path(sam_model: str, checkpoint: str, weights_dir: str = '') -> Path:
    """Resolve the SAM checkpoint setting to an existing, verified file."""
    if checkpoint != 'auto':
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise WeightsUnavailableError(
                f'SAM checkpoint {path} not found; set sam_checkpoint to an existing file '
                "or 'auto'", SAM_SETTING)
        return path
    if sam_model not in SAM_URLS:
        raise WeightsUnavailableError(
            f'sam_model {sam_model!r} has no official checkpoint; set sam_checkpoint to a file '
            "or 'none'", SAM_SETTING)
    url = SAM_URLS[sam_model]
    target = cache_dir(weights_dir) / Path(urlparse(url).path).name
    if target.is_file():
        verify_cached(target, SAM_SETTING)
    else:
        _download(url, target, SAM_SETTING)
    return target


def expected_sha256_prefix(path: Path) -> str:
    """Official SAM file names end in the first hex digits of their sha256."""
    return path.stem.rsplit('_', 1)[-1]


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks so memory stays flat."""
    digest = hashlib.sha256()
    with path.open('rb') as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256_prefix(path: Path, prefix: str, setting: str) -> str:
    """Reject a truncated or tampered download before torch ever unpickles it."""
    digest = file_sha256(path)
    if not digest.startswith(prefix):
        raise WeightsUnavailableError(
            f'{path} failed its sha256 check (expected prefix {prefix}); delete it and retry',
            setting)
    return digest


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


def _remember(path: Path, stamp: dict[str, int], digest: str) -> None:
    """Record a passed check; a read-only cache only means hashing again next time."""
    with suppress(OSError):
        _sidecar(path).write_text(json.dumps({**stamp, 'sha256': digest}) + '\n',
                                  encoding='utf-8')


def clip_checkpoint_path(model_name: str, pretrained: str, weights_dir: str = '') -> str:
    """Resolve an open_clip pretrained tag or file to a local file path."""
    from open_clip.pretrained import download_pretrained, get_pretrained_cfg

    if os.path.isfile(pretrained):
        return pretrained
    pretrained_cfg = get_pretrained_cfg(model_name, pretrained)
    if not pretrained_cfg:
        raise WeightsUnavailableError(
            f'clip_pretrained {pretrained!r} is neither a file nor an open_clip tag of '
            f'{model_name}; set clip_pretrained to a checkpoint file', CLIP_SETTING)
    # Given a weights_dir, open_clip downloads there too; otherwise to its usual caches.
    hub_cache = str(cache_dir(weights_dir)) if weights_dir else None
    cached = _cached_hub_file(pretrained_cfg, hub_cache)
    if cached:
        return cached
    source = _source_url(pretrained_cfg)
    _require_reachable(source, CLIP_SETTING)
    return download_pretrained(pretrained_cfg, cache_dir=hub_cache)


def _cached_hub_file(pretrained_cfg: dict, hub_cache: str | None) -> str | None:
    """Path of the hub file when already downloaded (avoids the hub's network retries)."""
    from huggingface_hub import try_to_load_from_cache

    hub = pretrained_cfg.get('hf_hub', '')
    if not hub:
        return None
    repo_id, filename = os.path.split(hub)
    found = try_to_load_from_cache(repo_id, filename or HF_DEFAULT_FILE, cache_dir=hub_cache)
    return found if isinstance(found, str) else None


def _source_url(pretrained_cfg: dict) -> str:
    hub = pretrained_cfg.get('hf_hub', '')
    if hub:
        repo_id, filename = os.path.split(hub)
        return f'https://huggingface.co/{repo_id}/resolve/main/{filename or HF_DEFAULT_FILE}'
    return pretrained_cfg.get('url', '')


def _require_reachable(url: str, setting: str) -> None:
    """Fail within NETWORK_TIMEOUT_S when the host cannot be reached at all."""
    host = urlparse(url).hostname or ''
    try:
        socket.create_connection((host, 443), timeout=NETWORK_TIMEOUT_S).close()
    except OSError as error:
        raise WeightsUnavailableError(
            f'cannot download {url} ({error}); download it elsewhere and set {setting} to '
            'the local file', setting) from None


def _download(url: str, target: Path, setting: str) -> None:
    """Download to a .part file, verify, then rename, so a partial file is never used."""
    _require_reachable(url, setting)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + '.part')
    try:
        with urllib.request.urlopen(url, timeout=NETWORK_TIMEOUT_S) as response, \
                partial.open('wb') as stream:
            shutil.copyfileobj(response, stream, 1 << 20)
        digest = verify_sha256_prefix(partial, expected_sha256_prefix(target), setting)
    except (OSError, WeightsUnavailableError) as error:
        partial.unlink(missing_ok=True)
        raise WeightsUnavailableError(
            f'downloading {url} failed ({error}); set {setting} to a local copy',
            setting) from None
    partial.rename(target)
    _remember(target, _stamp(target), digest)

"""
`zsris weights fetch` and `zsris weights list`: weights fetched before a mission, and the cache.

A robot should never download weights mid-mission: `fetch` gets and verifies every file a
configuration loads (through the same code the pipeline uses, so the files land exactly where
it looks), after which `offline: true` forbids any download at run time. `list` shows what is
cached and whether it verified, from the checks on record unless asked to hash again.

Importing this module is cheap; open_clip (and torch) load only when a CLIP tag is fetched.
"""

from dataclasses import asdict, dataclass
import json
import os
from pathlib import Path
import sys
from typing import Iterator

from ..grounding.config import GroundingConfig, TOY_CHECKPOINT
from ..grounding.weights import (cache_dir, cached_hub_file, clip_checkpoint_path, CLIP_SETTING,
                                 ensure_writable, expected_digest, hub_cache_dir, PARTIAL_SUFFIX,
                                 sam_cache_path, sam_checkpoint_path, sam_url, verification,
                                 VERIFIED_SUFFIX, WeightsUnavailableError)

#: How `list` shows each verification status.
STATUS_WORDS = {'verified': 'yes', 'damaged': 'NO (damaged)', 'unchecked': 'unchecked',
                'unknown': 'no digest', 'partial': 'partial'}
#: The hub marks a folder it caches in with this file, which is no weight file.
HUB_CACHE_TAG = 'CACHEDIR.TAG'
#: Exit status of a fetch stopped with Ctrl-C (128 + SIGINT), its .part file kept.
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Need:
    """One model's weights as a configuration needs them."""

    model: str
    #: 'download' (fetched into a cache), 'file' (a local file, as set) or 'none'.
    source: str
    detail: str


@dataclass(frozen=True)
class CachedFile:
    """One file in a weights cache, as `zsris weights list` shows it."""

    name: str
    #: 'sam' (named by its digest), 'clip' (a hub file) or 'other'.
    kind: str
    path: str
    size: int
    #: 'verified', 'unchecked', 'damaged', 'unknown' (no digest to check) or 'partial'.
    status: str

    def to_dict(self) -> dict:
        """Return the JSON record: the fields, the size in words and verified as a bool."""
        verified = {'verified': True, 'damaged': False}.get(self.status)
        return {**asdict(self), 'size_human': human_size(self.size), 'verified': verified}


def needs(config: GroundingConfig) -> list[Need]:
    """Say, per model, whether the configuration's weights download, are a file, or none."""
    result = []
    sam = f'SAM {config.sam_model}'
    if config.proposer != 'sam':
        result.append(Need('proposals', 'none', f'{config.proposer}, which uses no weights'))
    elif config.sam_checkpoint == 'none':
        result.append(Need(sam, 'none', 'random weights'))
    elif config.sam_checkpoint != 'auto':
        result.append(Need(sam, 'file', config.sam_checkpoint))
    else:
        result.append(Need(sam, 'download', sam_url(config.sam_model)))
    clip = f'CLIP {config.clip_model}'
    if config.clip_pretrained == 'none':
        result.append(Need(clip, 'none', 'random weights'))
    elif os.path.isfile(config.clip_pretrained):
        shipped = Path(config.clip_pretrained).resolve() == Path(TOY_CHECKPOINT).resolve()
        result.append(Need(clip, 'file', 'ships with the package' if shipped
                           else config.clip_pretrained))
    else:
        result.append(Need(f'{clip} {config.clip_pretrained}', 'download',
                           config.clip_pretrained))
    return result


def fetch_weights(config: GroundingConfig) -> int:
    """Download and verify every weight file the configuration needs; print what was done."""
    plan = needs(config)
    for need in plan:
        if need.source == 'file' and need.model.startswith('SAM'):
            sam_checkpoint_path(config.sam_model, config.sam_checkpoint)
    downloads = [need for need in plan if need.source == 'download']
    if not downloads:
        print(f'preset {config.preset} needs no downloads: '
              + '; '.join(f'{need.model}: {need.detail}' for need in plan))
        return 0
    if config.weights_dir or any(need.model.startswith('SAM') for need in downloads):
        ensure_writable(cache_dir(config.weights_dir))
    try:
        for need in downloads:
            fetch = _fetch_sam if need.model.startswith('SAM') else _fetch_clip
            name, path, note = fetch(config)
            print(f'{name}  {human_size(path.stat().st_size)}  {note}  {path}', flush=True)
    except KeyboardInterrupt:
        print('zsris: interrupted; the partial download is kept, and the same command '
              'resumes it', file=sys.stderr)
        return EXIT_INTERRUPTED
    keep = f' and weights_dir {config.weights_dir}' if config.weights_dir else ''
    print(f'ready: with offline true{keep}, nothing is downloaded at run time')
    return 0


def _fetch_sam(config: GroundingConfig) -> tuple[str, Path, str]:
    """Download the SAM checkpoint unless cached; either way it is checked."""
    target = sam_cache_path(config.sam_model, config.weights_dir)
    cached = target.is_file()
    path = sam_checkpoint_path(config.sam_model, 'auto', config.weights_dir, progress=True)
    return path.name, path, ('already cached' if cached else 'downloaded') + ', sha256 verified'


def _fetch_clip(config: GroundingConfig) -> tuple[str, Path, str]:
    """
    Download the CLIP tag's hub file unless cached, then check it against its blob's name.

    A fresh download that fails the check is removed; a cached one is left for the user.
    """
    from open_clip.pretrained import get_pretrained_cfg

    pretrained_cfg = get_pretrained_cfg(config.clip_model, config.clip_pretrained)
    hub_cache = hub_cache_dir(config.weights_dir)
    cached = bool(pretrained_cfg) and cached_hub_file(pretrained_cfg, hub_cache) is not None
    path = Path(clip_checkpoint_path(config.clip_model, config.clip_pretrained,
                                     config.weights_dir))
    name = hub_name(path)
    status = verification(path)
    if status == 'unchecked':
        status = verification(path, rehash=True)
    if status == 'damaged':
        blob = path.resolve()
        if cached:
            raise WeightsUnavailableError(
                f'cached CLIP file {path} is damaged ({blob} does not hash to its name); '
                f'delete {blob} and fetch again', CLIP_SETTING)
        blob.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        raise WeightsUnavailableError(
            f'downloaded {name}, but {blob} does not hash to its name, so it was removed; '
            'fetch again', CLIP_SETTING)
    checked = 'sha256 verified' if status == 'verified' else 'no digest to check'
    return name, path, ('already cached' if cached else 'downloaded') + f', {checked}'


def hub_name(path: Path) -> str:
    """Name a file of a hub snapshot as the hub does, 'org/repo/file'."""
    for parent in path.parents:
        if parent.name.startswith('models--') and parent.parent != parent:
            repo_id = parent.name.removeprefix('models--').replace('--', '/')
            snapshot = path.relative_to(parent / 'snapshots')
            return '/'.join((repo_id, *snapshot.parts[1:]))
    return path.name


def human_size(size: int) -> str:
    """Write a byte count the way people read it: 1023 B, 293.0 KiB, 357.7 MiB."""
    value = float(size)
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB'):
        if value < 1024 or unit == 'TiB':
            break
        value /= 1024
    return f'{size} B' if unit == 'B' else f'{value:.1f} {unit}'


def hub_root(weights_dir: str) -> Path:
    """Return the folder CLIP hub files are kept in for this weights_dir."""
    if weights_dir:
        return cache_dir(weights_dir)
    from huggingface_hub.constants import HF_HUB_CACHE

    return Path(HF_HUB_CACHE)


def cached_files(weights_dir: str = '', rehash: bool = False) -> list[CachedFile]:
    """
    List the weight files cached for this weights_dir, each with its verification status.

    The weights folder's own files (SAM checkpoints, .part downloads), then the hub files in
    it; with no weights_dir, CLIP files are in the Hugging Face cache, of which only the
    repositories holding open_clip files are listed.
    """
    folder = cache_dir(weights_dir)
    files = list(_folder_files(folder, rehash))
    files += _hub_files(hub_root(weights_dir), rehash, only_open_clip=not weights_dir)
    return files


def _folder_files(folder: Path, rehash: bool) -> Iterator[CachedFile]:
    if not folder.is_dir():
        return
    for path in sorted(folder.iterdir()):
        if path.name.startswith('.') or path.name.endswith(VERIFIED_SUFFIX) or \
                path.name == HUB_CACHE_TAG or not path.is_file():
            continue
        target = path.with_name(path.name.removesuffix(PARTIAL_SUFFIX))
        kind = 'sam' if expected_digest(target) else 'other'
        status = ('partial' if path.name.endswith(PARTIAL_SUFFIX)
                  else verification(path, rehash))
        yield CachedFile(path.name, kind, str(path), path.stat().st_size, status)


def _hub_files(root: Path, rehash: bool, only_open_clip: bool) -> Iterator[CachedFile]:
    """Each file of each snapshot of each model repository, and unfinished hub downloads."""
    for repo in sorted(root.glob('models--*')) if root.is_dir() else ():
        repo_id = repo.name.removeprefix('models--').replace('--', '/')
        snapshots = sorted(path for path in (repo / 'snapshots').glob('*/**/*')
                           if path.is_file())
        if only_open_clip and not any(path.name.startswith('open_clip') for path in snapshots):
            continue
        for path in snapshots:
            yield CachedFile(hub_name(path), 'clip', str(path), path.stat().st_size,
                             verification(path, rehash))
        for path in sorted((repo / 'blobs').glob('*.incomplete')):
            yield CachedFile(f'{repo_id} (unfinished hub download)', 'clip', str(path),
                             path.stat().st_size, 'partial')


def list_weights(weights_dir: str, rehash: bool, as_json: bool) -> int:
    """Print the cached weight files as a table, or as one JSON object."""
    files = cached_files(weights_dir, rehash)
    folder, hub = cache_dir(weights_dir), hub_root(weights_dir)
    if as_json:
        print(json.dumps({'weights_dir': str(folder), 'hub_cache': str(hub),
                          'files': [item.to_dict() for item in files]}))
        return 0
    where = str(folder) if folder == hub else f'{folder} and, for CLIP, {hub}'
    if not files:
        print(f'no weight files in {where}')
        return 0
    rows = [('name', 'size', 'verified', 'path')] + [
        (item.name, human_size(item.size), STATUS_WORDS[item.status], item.path)
        for item in files]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    print(f'weights in {where}:')
    for row in rows:
        print('  '.join(cell.ljust(width) for cell, width in zip(row, widths)) + '  ' + row[3])
    total = human_size(sum(item.size for item in files))
    print(f'{len(files)} files, {total}')
    if any(item.status == 'unchecked' for item in files):
        print('unchecked: no passed check on record for the file as it is now (a SAM file is '
              "checked when first used); 'zsris weights list --verify' hashes every file")
    return 0

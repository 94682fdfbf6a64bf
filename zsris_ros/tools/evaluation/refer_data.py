"""
RefCOCO, RefCOCO+ and RefCOCOg in the REFER layout (github.com/lichengunc/refer).

ROOT/<dataset>/refs(<split_by>).p  pickled list of refs: ref_id, ann_id, image_id, split,
                                   sentences [{sent_id, raw, sent, tokens}, ...]
ROOT/<dataset>/instances.json      COCO images and annotations (polygons or RLE)
ROOT/images/mscoco/images/train2014/COCO_train2014_<image_id:012d>.jpg  (or ROOT/images/train2014)

An image's file_name must be a relative path inside that image folder: one that is absolute
or climbs out with '..' is refused for the whole split (one error naming the image), so a
doctored instances.json cannot make the tools read or replay files from elsewhere.

Sentences are read as the paper's official script reads them (the raw sentence, lower-cased),
split membership follows REFER's getRefIds (testA also matches a testAB ref), and the target
mask is the union of the annotation's polygons or its RLE, rasterised as pycocotools does.
"""

from dataclasses import dataclass
import json
from pathlib import Path
import pickle
from typing import Any, BinaryIO

import numpy as np

from .coco_masks import decode_segmentation
from ..errors import InputError

#: Dataset -> the split-by the paper evaluates with.
DEFAULT_SPLIT_BY = {'refcoco': 'unc', 'refcoco+': 'unc', 'refcocog': 'umd'}
SPLITS = ('val', 'testA', 'testB', 'test')
SPLIT_BYS = ('unc', 'umd', 'google')
IMAGE_DIRS = ('images/mscoco/images/train2014', 'images/train2014')


@dataclass(frozen=True)
class RefSentence:
    """One expression to evaluate, with the ids that find it again in the dataset."""

    index: int
    text: str
    ref_id: int
    ann_id: int
    sent_id: int


@dataclass
class RefImage:
    """A COCO image, its expressions, and the segmentations of the objects they refer to."""

    image_id: int
    path: Path
    height: int
    width: int
    sentences: list[RefSentence]
    segmentations: dict[int, Any]

    def target(self, ann_id: int) -> np.ndarray:
        """Boolean HxW mask of an annotation."""
        return decode_segmentation(self.segmentations[ann_id], self.height, self.width)


class _PlainUnpickler(pickle.Unpickler):
    """refs(*).p holds only lists, dicts, strings and numbers; refuse anything that runs code."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f'refusing to load {module}.{name}')


def load_split(root: Path, dataset: str, split: str, split_by: str) -> list[RefImage]:
    """Every sentence of a split, grouped by image in the order REFER lists the refs."""
    refs = _read_refs(root / dataset / f'refs({split_by}).p')
    instances = _read_json(root / dataset / 'instances.json')
    image_dir = find_image_dir(root)
    try:
        images = _group_by_image([ref for ref in refs if in_split(ref['split'], split)],
                                 instances, image_dir)
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise InputError(f'{root / dataset} does not follow the REFER schema '
                         f'({_reason(error)})') from None
    if not images:
        raise InputError(f'{dataset} ({split_by}) has no refs in split {split!r}')
    return images


def _group_by_image(refs: list[dict[str, Any]], instances: dict[str, Any],
                    image_dir: Path) -> list[RefImage]:
    """Collect the sentences under their images, numbered in ref order."""
    wanted = {ref['ann_id'] for ref in refs}
    segmentations = {a['id']: a['segmentation'] for a in instances['annotations']
                     if a['id'] in wanted}
    images = {image['id']: image for image in instances['images']}
    grouped: dict[int, RefImage] = {}
    index = 0
    for ref in refs:
        if ref['image_id'] not in grouped:
            grouped[ref['image_id']] = _ref_image(images[ref['image_id']], image_dir)
        image = grouped[ref['image_id']]
        image.segmentations[ref['ann_id']] = segmentations[ref['ann_id']]
        for sentence in ref['sentences']:
            image.sentences.append(RefSentence(
                index, sentence.get('raw', sentence['sent']).lower(), ref['ref_id'],
                ref['ann_id'], sentence['sent_id']))
            index += 1
    return list(grouped.values())


def in_split(ref_split: str, split: str) -> bool:
    """Apply the split rule of REFER: testA matches testA and testAB, test every test split."""
    if split in ('testA', 'testB'):
        return split[-1] in ref_split
    if split == 'test':
        return 'test' in ref_split
    return ref_split == split


def find_image_dir(root: Path) -> Path:
    """Find the COCO train2014 folder, in either of the two layouts people use."""
    for relative in IMAGE_DIRS:
        if (root / relative).is_dir():
            return root / relative
    raise InputError(f'no COCO train2014 images under {root} (looked for '
                     f'{" and ".join(str(root / d) for d in IMAGE_DIRS)})')


def _ref_image(image: dict[str, Any], image_dir: Path) -> RefImage:
    name = image.get('file_name') or f'COCO_train2014_{image["id"]:012d}.jpg'
    if Path(name).is_absolute() or '..' in Path(name).parts:
        raise InputError(f'image {image["id"]} has file_name {name!r}, which is not a path '
                         f'inside {image_dir}; fix instances.json')
    return RefImage(image['id'], image_dir / name, image['height'], image['width'], [], {})


def _read_refs(path: Path) -> list[dict[str, Any]]:
    with _open(path) as file:
        try:
            return _PlainUnpickler(file, encoding='utf-8').load()
        except Exception as error:  # noqa: BLE001 - a malformed pickle fails in many ways
            raise InputError(f'cannot read {path}: {_reason(error)}') from None


def _reason(error: Exception) -> str:
    """Name an error by type and message: some (MemoryError) have no message at all."""
    return f'{type(error).__name__}: {error}' if str(error) else type(error).__name__


def _read_json(path: Path) -> dict[str, Any]:
    with _open(path) as file:
        try:
            return json.load(file)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f'cannot read {path}: {error}') from None


def _open(path: Path) -> BinaryIO:
    if not path.is_file():
        raise InputError(f'{path} not found (expected the REFER layout: '
                         'ROOT/<dataset>/refs(<split_by>).p and instances.json)')
    return path.open('rb')

"""
`zsris eval refer`: the paper's protocol on RefCOCO, RefCOCO+ and RefCOCOg.

Every sentence of the split is one expression; the sentences of one image are grounded
together, so proposals and visual features are computed once per image, as in the official
script (which runs them once per ref). Stage timings of `proposals` and `visual` are therefore
per image, repeated on each of its sentences.
"""

from functools import partial
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .refer_data import DEFAULT_SPLIT_BY, load_split, RefImage
from .run import Batch, ImageUnavailable, Item, run_evaluation, TruthUnavailable
from ...grounding import GroundingConfig
from ...image_io import read_rgb

#: The paper's v for RefCOCOg, whose longer expressions lean more on the local crop.
REFCOCOG_V = 0.85


def paper_v(dataset: str) -> float:
    """Return the paper's v for a dataset: 0.85 for RefCOCOg, else 0.95 (doc/method.md)."""
    return REFCOCOG_V if dataset == 'refcocog' else GroundingConfig.model_fields['v'].default


def evaluate_refer(config: GroundingConfig, root: Path, dataset: str, split: str,
                   split_by: str | None, out: Path, limit: int | None,
                   overlays: bool) -> dict[str, Any]:
    """
    Evaluate every sentence of the split; results.jsonl and metrics.json go to `out`.

    Unless the user or the preset set v, the paper's v for the dataset is used.
    """
    if 'v' not in config.model_fields_set:
        config = config.model_copy(update={'v': paper_v(dataset)})
    split_by = split_by or DEFAULT_SPLIT_BY[dataset]
    images = load_split(root, dataset, split, split_by)
    total = sum(len(image.sentences) for image in images)
    settings = {'root': str(root.resolve()), 'dataset': dataset, 'split': split,
                'split_by': split_by}
    return run_evaluation(config, settings, _batches(images, limit), out,
                          total if limit is None else min(total, limit), overlays)


def _batches(images: list[RefImage], limit: int | None) -> Iterator[Batch]:
    """One batch per image with its sentences, the first `limit` sentences in all."""
    for image in images:
        items = [Item(s.index, s.text, {'image_id': image.image_id, 'ref_id': s.ref_id,
                                        'ann_id': s.ann_id, 'sent_id': s.sent_id},
                      partial(_target, image, s.ann_id))
                 for s in image.sentences if limit is None or s.index < limit]
        if not items:
            return
        yield Batch(partial(_image, image.path), items)


def _image(path: Path) -> np.ndarray:
    rgb = read_rgb(str(path))
    if rgb is None:
        raise ImageUnavailable('error', f'cannot read image {path}')
    return rgb


def _target(image: RefImage, ann_id: int) -> np.ndarray:
    try:
        return image.target(ann_id)
    except (ValueError, TypeError, KeyError, IndexError) as error:
        raise TruthUnavailable('unreadable', f'annotation {ann_id}: {error!r}') from None

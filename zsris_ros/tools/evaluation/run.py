"""
Ground batches of expressions, score them against ground truth and fill a run folder.

Shared by `zsris eval bag` and `zsris eval refer`. A source only says which expressions belong
to which image and how to load each lazily, so a resumed run decodes nothing it already did.
"""

from dataclasses import dataclass
from pathlib import Path
import sys
from typing import Any, Callable, Iterable, Iterator

import cv2
import numpy as np
from tqdm import tqdm

from .metrics import overlap, summarize
from .run_folder import METRICS, RunFolder
from ...grounding import GroundingConfig, GroundingPipeline, GroundingResult
from ...grounding.overlay import draw_overlay
from ...grounding.result import Status

TRUTH_COLOUR = (255, 0, 255)


class ImageUnavailable(Exception):
    """No image for a batch; `status` is what its results say (no_image or error)."""

    def __init__(self, status: Status, message: str) -> None:
        """Keep the status beside the one-line message."""
        super().__init__(message)
        self.status = status


class TruthUnavailable(Exception):
    """Ground truth that exists but cannot be used; `status` goes to the record's gt field."""

    def __init__(self, status: str, message: str) -> None:
        """Keep the status beside the one-line message."""
        super().__init__(message)
        self.status = status


@dataclass
class Item:
    """One expression to ground: its index in the source, record fields, lazy target mask."""

    index: int
    text: str
    fields: dict[str, Any]
    truth: Callable[[], np.ndarray | None]


@dataclass
class Batch:
    """Expressions grounded on one image, so proposals and visual features run once."""

    image: Callable[[], np.ndarray]
    items: list[Item]


def no_truth() -> None:
    """Ground truth of an expression that has none."""
    return None


def run_evaluation(config: GroundingConfig, source: dict[str, Any], batches: Iterable[Batch],
                   out: Path, total: int | None, overlays: bool) -> dict[str, Any]:
    """Open the run folder (refusing other settings) before loading models, then evaluate."""
    folder = RunFolder(out, {**source, **config.model_dump()})
    try:
        return evaluate(GroundingPipeline.from_config(config), batches, folder, total, overlays)
    finally:
        folder.close()


def describe(metrics: dict[str, Any], out: Path) -> str:
    """Summarise a run in the one line `zsris eval` prints, and say where the rest is."""
    def number(key: str) -> str:
        value = metrics[key]
        return 'n/a' if value is None else f'{value:.4f}'
    return (f"n={metrics['n']} scored={metrics['n_scored']} oIoU={number('oIoU')} "
            f"mIoU={number('mIoU')} no_match_rate={number('no_match_rate')} "
            f'-> {out / METRICS}')


def evaluate(pipeline: GroundingPipeline, batches: Iterable[Batch], folder: RunFolder,
             total: int | None, overlays: bool = False) -> dict[str, Any]:
    """Ground every expression not yet in the folder; metrics.json is written even on errors."""
    try:
        with tqdm(total=total, file=sys.stderr, unit='expr', dynamic_ncols=True) as bar:
            for batch in batches:
                todo = [item for item in batch.items if item.index not in folder.done]
                for record in _ground_batch(pipeline, batch, todo, folder, overlays):
                    folder.append(record)
                bar.update(len(batch.items))
    finally:
        metrics = summarize(folder.records())
        folder.write_metrics(metrics)
    return metrics


def _ground_batch(pipeline: GroundingPipeline, batch: Batch, items: list[Item],
                  folder: RunFolder, overlays: bool) -> Iterator[dict[str, Any]]:
    if not items:
        return
    image: np.ndarray | None = None
    try:
        image = batch.image()
        results = pipeline.ground_many(image, [item.text for item in items])
    except ImageUnavailable as error:
        results = [GroundingResult.failure(item.text, error.status, str(error))
                   for item in items]
    for item, result in zip(items, results):
        target, score = _score(item, result.mask, image)
        if overlays and image is not None:
            _write_overlay(folder, item.index, image, target, result)
        yield {'index': item.index, **item.fields, **result.to_dict(), **score}


def _score(item: Item, mask: np.ndarray | None, image: np.ndarray | None
           ) -> tuple[np.ndarray | None, dict[str, Any]]:
    """Return the target mask (when usable) and the record's gt, IoU and count fields."""
    unscored = {'iou': None, 'intersection': None, 'union': None}
    try:
        target = item.truth()
    except TruthUnavailable as error:
        return None, {'gt': error.status, 'gt_message': str(error), **unscored}
    if target is None:
        return None, {'gt': 'none', 'gt_message': '', **unscored}
    if image is not None and target.shape != image.shape[:2]:
        return None, {'gt': 'size_mismatch', 'gt_message': (
            f'ground-truth mask {target.shape[1]}x{target.shape[0]} does not match image '
            f'{image.shape[1]}x{image.shape[0]}'), **unscored}
    counts = overlap(mask, target)
    return target, {'gt': 'ok', 'gt_message': '', 'iou': counts.iou,
                    'intersection': counts.intersection, 'union': counts.union}


def _write_overlay(folder: RunFolder, index: int, image: np.ndarray, target: np.ndarray | None,
                   result: GroundingResult) -> None:
    """Draw the answer as the node's overlay does, plus the target's outline in magenta."""
    picture = draw_overlay(image, result.mask, result.centroid, result.noun_phrase)
    if target is not None:
        contours, _ = cv2.findContours(target.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(picture, contours, -1, TRUTH_COLOUR, 1)
    cv2.imwrite(str(folder.overlay_path(index)), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))

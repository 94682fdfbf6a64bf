"""
The paper's segmentation metrics (doc/method.md, "Metrics") and latency percentiles.

Computed from the lines of ``results.jsonl`` rather than from masks kept in memory, so a
resumed run and a finished run give identical numbers from the same file.

Conventions beyond the paper, chosen for what a robot experiences:
- A command without a predicted mask (``no_match``, ``no_proposals``, ``no_image``,
  ``error``) is scored as a prediction of nothing: IoU 0, its target pixels in the union.
- An empty union (empty target, nothing predicted) is a correct answer: IoU 1 for mIoU and
  Pr@X, and 0/0 added to the overall sums. The official script scores it 0, but RefCOCO
  targets are never empty.
- Records whose ground truth is missing or unusable have no IoU and are left out of the
  IoU metrics (``n_scored`` counts the rest); they still count in ``n`` and the rates.
"""

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

IOU_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
PERCENTILES = {'p50': 50, 'p95': 95}
#: Status of the one outcome the official script drops (FreeSOLO found no mask at all).
SKIPPED_BY_OFFICIAL_SCRIPT = 'no_proposals'


@dataclass(frozen=True)
class Overlap:
    """Pixel counts of one prediction against its target."""

    intersection: int
    union: int

    @property
    def iou(self) -> float:
        """Intersection over union; 1.0 when both masks are empty (nothing to find)."""
        return self.intersection / self.union if self.union else 1.0


def overlap(predicted: np.ndarray | None, target: np.ndarray) -> Overlap:
    """Overlap of a predicted mask (None: nothing predicted) with a target of the same shape."""
    target = target.astype(bool, copy=False)
    if predicted is None:
        return Overlap(0, int(target.sum()))
    predicted = predicted.astype(bool, copy=False)
    return Overlap(int(np.logical_and(predicted, target).sum()),
                   int(np.logical_or(predicted, target).sum()))


def iou_metrics(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """oIoU, mIoU and Pr@X over the records that carry an IoU; None where there are none."""
    scored = [r for r in records if r.get('iou') is not None]
    ious = np.array([r['iou'] for r in scored], dtype=float)
    union = sum(r['union'] for r in scored)
    metrics: dict[str, Any] = {
        'n_scored': len(scored),
        'oIoU': sum(r['intersection'] for r in scored) / union if union else None,
        'mIoU': float(ious.mean()) if len(scored) else None,
    }
    for threshold in IOU_THRESHOLDS:
        metrics[f'pr@{threshold}'] = float((ious > threshold).mean()) if len(scored) else None
    return metrics


def latency(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """p50, p95 and max of every timed stage (ms), over the records that ran that stage."""
    stages: dict[str, list[float]] = {}
    for record in records:
        for stage, value in (record.get('timings_ms') or {}).items():
            stages.setdefault(stage, []).append(value)
    summary = {}
    for stage, values in stages.items():
        array = np.array(values, dtype=float)
        summary[stage] = {name: round(float(np.percentile(array, q)), 3)
                          for name, q in PERCENTILES.items()}
        summary[stage]['max'] = round(float(array.max()), 3)
    return summary


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything metrics.json holds, from the records of results.jsonl."""
    n = len(records)
    statuses: dict[str, int] = {}
    for record in records:
        statuses[record['status']] = statuses.get(record['status'], 0) + 1
    official = [r for r in records if r['status'] != SKIPPED_BY_OFFICIAL_SCRIPT]
    skip_style = iou_metrics(official)
    return {
        'n': n,
        **iou_metrics(records),
        'no_match_rate': statuses.get('no_match', 0) / n if n else None,
        'status_counts': dict(sorted(statuses.items())),
        'official_skip_style': {'n_scored': skip_style['n_scored'],
                                'oIoU': skip_style['oIoU'], 'mIoU': skip_style['mIoU']},
        'latency_ms': latency(records),
        'by_type': _by_type(records),
    }


def _by_type(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Score each expression type apart, when the ground truth names one (toy bags do)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        kind = (record.get('info') or {}).get('type')
        if kind is not None:
            groups.setdefault(str(kind), []).append(record)
    return {kind: {'n': len(group), **iou_metrics(group)}
            for kind, group in sorted(groups.items())}

"""
`zsris toy eval`: grounding accuracy on held-out toy scenes, with the method's ablations.

Runs the real GroundingPipeline (phrase parser, proposals, token masking, crops, scoring) on
scenes generated from a seed the training never saw, and scores with the same metrics as
`zsris eval`. The ablations switch one part of the method off at a time.
"""

from typing import Any, Iterable

from tqdm import tqdm

from .metrics import iou_metrics, overlap
from ...grounding import GroundingConfig, GroundingPipeline
from ...toy.scenes import EXPRESSION_TYPES, generate_scene

#: Name -> settings of each variant; 'full' is the configuration as given.
ABLATIONS: dict[str, dict[str, Any]] = {
    'full': {},
    'paper': {'spatial': False},
    'global_only': {'v': 1.0},
    'local_only': {'v': 0.0},
    'sentence_only': {'r': 1.0},
    'phrase_only': {'r': 0.0},
}


def evaluate_toy(config: GroundingConfig, n: int, seed: int) -> dict[str, Any]:
    """Metrics per expression type for the full method, and Pr@0.5 of every ablation."""
    pipeline = GroundingPipeline.from_config(config)
    records = {name: [] for name in ABLATIONS}
    for scene_seed in tqdm(range(seed, seed + n), desc='toy scenes', unit='scene'):
        scene = generate_scene(scene_seed)
        texts = [expression.text for expression in scene.expressions]
        for name, changes in ABLATIONS.items():
            pipeline.reconfigure(config.model_copy(update=changes))
            results = pipeline.ground_many(scene.image, texts, frame_key=scene_seed,
                                           depth_m=scene.depth)
            records[name] += [_record(expression, scene, result)
                              for expression, result in zip(scene.expressions, results)]
    full = records['full']
    return {
        'n_scenes': n, 'seed': seed, 'n': len(full),
        'by_type': {kind: _scores(r for r in full if r['type'] == kind)
                    for kind in EXPRESSION_TYPES},
        'overall': _scores(full),
        'paper_by_type': {kind: _scores(r for r in records['paper'] if r['type'] == kind)
                          for kind in EXPRESSION_TYPES},
        # A robot that asks when it need not is a nuisance: how often a clear expression
        # was answered with a question.
        'ambiguous_when_clear': _rate(r['status'] == 'ambiguous' for r in full
                                      if r['type'] != 'ambiguous'),
        'ablation': {name: {'pr50': _scores(rows)['pr50']} for name, rows in records.items()},
    }


def _record(expression: Any, scene: Any, result: Any) -> dict[str, Any]:
    """Score a mask by IoU; an expression whose answer is a status scores 1 for that status."""
    if expression.expected_status != 'ok':
        hit = float(result.status == expression.expected_status)
        return {'type': expression.type, 'status': result.status, 'iou': hit,
                'intersection': 0, 'union': 0}
    counts = overlap(result.mask, scene.objects[expression.target].mask)
    return {'type': expression.type, 'status': result.status, 'iou': counts.iou,
            'intersection': counts.intersection, 'union': counts.union}


def _rate(hits: Iterable[bool]) -> float | None:
    hits = list(hits)
    return round(sum(hits) / len(hits), 4) if hits else None


def _scores(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    metrics = iou_metrics(list(records))
    return {'n': metrics['n_scored'], 'pr50': metrics['pr@0.5'], 'miou': metrics['mIoU'],
            'oiou': metrics['oIoU']}


def format_toy_report(report: dict[str, Any]) -> str:
    """Format the per-type table and the ablation table for people."""
    lines = [f"toy eval: {report['n_scenes']} scenes from seed {report['seed']}, "
             f"{report['n']} expressions",
             f"{'type':<14}{'n':>6}{'Pr@0.5':>9}{'mIoU':>8}{'oIoU':>8}{'paper Pr@0.5':>14}"]
    paper = {**report['paper_by_type'],
             'overall': {'pr50': report['ablation']['paper']['pr50']}}
    for kind, row in [*report['by_type'].items(), ('overall', report['overall'])]:
        lines.append(f"{kind:<14}{row['n']:>6}{_cell(row['pr50'])}{_cell(row['miou'], 8)}"
                     f"{_cell(row['oiou'], 8)}{_cell(paper[kind]['pr50'], 14)}")
    asked = _cell(report['ambiguous_when_clear'], 0)
    lines.append(f'asked which one when the expression was clear: {asked}')
    lines.append(f"{'ablation':<14}{'Pr@0.5':>15}")
    for name, row in report['ablation'].items():
        lines.append(f"{name:<14}{_cell(row['pr50'], 15)}")
    return '\n'.join(lines)


def _cell(value: float | None, width: int = 9) -> str:
    return f"{'-':>{width}}" if value is None else f'{value:>{width}.3f}'

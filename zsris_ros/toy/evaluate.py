"""
Grounding accuracy on held-out toy scenes, per expression type (ALGORITHM.md, "Metrics").

The method's own encoders score the proposals (ground-truth masks, or a proposer's), so the
numbers measure Global-Local CLIP itself; the pipeline class only adds I/O around them. Each
scene also gets one query for an object that is not there, which shows how well a
score_threshold separates "no such object" from real answers.
"""

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from .scenes import COLOURS, EXPRESSION_TYPES, generate_scene, Scene, SHAPES
from ..grounding.config import GroundingConfig
from ..grounding.models import ClipModel
from ..grounding.phrase import PhraseParser
from ..grounding.text import TextEncoder
from ..grounding.visual import VisualEncoder

#: Seeds from here on are never used for training (train.py starts at 1,000,000).
EVAL_SEED = 10_000
ABSENT = 'absent'


class Proposer(Protocol):
    """Anything with SamProposer's contract."""

    def propose(self, image_rgb: np.ndarray, config: GroundingConfig) -> np.ndarray:
        """(N, H, W) bool masks."""


@dataclass
class Record:
    """One expression's outcome: best score, overlap of the chosen mask, the target's area."""

    kind: str
    score: float
    intersection: int
    union: int
    target_area: int


def evaluate(clip: ClipModel, proposer: Proposer | None, n: int, seed: int, v: float, r: float,
             masking_block: int, score_threshold: float = -1.0,
             config: GroundingConfig | None = None) -> dict:
    """
    Pr@0.5, mIoU and oIoU per expression type on scenes seed..seed+n-1.

    proposer None scores the ground-truth masks (a pure test of the CLIP side); config sets
    the proposal filters (the toy preset's by default).
    """
    records = collect(clip, proposer, range(seed, seed + n), [v], r, [masking_block], config)
    return summarise(records[v, masking_block], score_threshold)


def collect(clip: ClipModel, proposer: Proposer | None, seeds: Iterable[int],
            vs: list[float], r: float, blocks: list[int],
            config: GroundingConfig | None = None) -> dict[tuple[float, int], list[Record]]:
    """Score every (v, masking_block); proposals and features are computed once per scene."""
    config = config or GroundingConfig(preset='toy')
    device = next(clip.model.parameters()).device
    visual = VisualEncoder(clip, device)
    texts = _TextFeatures(TextEncoder(clip, device, cache_size=100_000), r)
    records: dict[tuple[float, int], list[Record]] = defaultdict(list)
    for seed in seeds:
        scene = generate_scene(seed)
        masks = _proposals(scene, proposer, config)
        queries = _queries(scene)
        with torch.inference_mode():
            features = _features(visual, scene, masks, vs, blocks)
            for key, feature in features.items():
                records[key] += [_record(feature, texts(text), masks, scene, kind, target)
                                 for text, kind, target in queries]
    return dict(records)


def summarise(records: list[Record], score_threshold: float = -1.0) -> dict:
    """Metrics per type and overall; answers scoring below the threshold count as IoU 0."""
    by_type: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_type[record.kind].append(record)
    out = {kind: _metrics(by_type[kind], score_threshold)
           for kind in EXPRESSION_TYPES if by_type[kind]}
    out['overall'] = _metrics([r for r in records if r.kind != ABSENT], score_threshold)
    absent = by_type[ABSENT]
    if absent:
        rejected = sum(r.score < score_threshold for r in absent)
        out[ABSENT] = {'n': len(absent), 'rejected': rejected / len(absent)}
    return out


class _TextFeatures:
    """t = r * s + (1 - r) * n from the phrase parser, normalised, cached per expression."""

    def __init__(self, encoder: TextEncoder, r: float) -> None:
        self.encoder, self.r = encoder, r
        self.parser = PhraseParser()
        self.cache: dict[str, torch.Tensor] = {}

    def __call__(self, text: str) -> torch.Tensor:
        if text not in self.cache:
            phrase = self.parser.parse(text)
            with torch.inference_mode():
                mixed = self.encoder.mix(phrase.referring_expression, phrase.noun_phrase, self.r)
            self.cache[text] = F.normalize(mixed.float(), dim=-1)
        return self.cache[text]


def _proposals(scene: Scene, proposer: Proposer | None, config: GroundingConfig) -> np.ndarray:
    if proposer is None:
        return np.stack([obj.mask for obj in scene.objects])
    return proposer.propose(scene.image, config)


def _queries(scene: Scene) -> list[tuple[str, str, int]]:
    """List the scene's expressions plus one about an absent object (target -1)."""
    queries = [(e.text, e.type, e.target) for e in scene.expressions]
    present = {(o.colour, o.shape) for o in scene.objects}
    absent = [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in present]
    colour, shape = absent[np.random.default_rng(scene.seed).integers(len(absent))]
    return queries + [(f'the {colour} {shape}', ABSENT, -1)]


def _features(visual: VisualEncoder, scene: Scene, masks: np.ndarray, vs: list[float],
              blocks: list[int]) -> dict[tuple[float, int], torch.Tensor]:
    """Normalised f_i = v g_i + (1 - v) l_i for every (v, block); empty without proposals."""
    if len(masks) == 0:
        return {(v, block): torch.zeros(0) for v in vs for block in blocks}
    image = visual.normalize(scene.image)
    mask_tensor = torch.from_numpy(masks).to(visual.device)
    local = visual.local_features(image, mask_tensor)
    out = {}
    for block in blocks:
        global_ = visual.global_features(image, mask_tensor, block)
        for v in vs:
            out[v, block] = F.normalize((v * global_ + (1.0 - v) * local).float(), dim=-1)
    return out


def _record(features: torch.Tensor, text: torch.Tensor, masks: np.ndarray, scene: Scene,
            kind: str, target: int) -> Record:
    truth = scene.objects[target].mask if target >= 0 else np.zeros(masks.shape[1:], bool)
    if len(features) == 0:
        return Record(kind, -1.0, 0, int(truth.sum()), int(truth.sum()))
    scores = features @ text
    best = int(scores.argmax())
    chosen = masks[best]
    return Record(kind, float(scores[best]), int((chosen & truth).sum()),
                  int((chosen | truth).sum()), int(truth.sum()))


def _metrics(records: list[Record], score_threshold: float) -> dict:
    """Pr@0.5 (IoU > 0.5, as the paper), mIoU and oIoU; no-match answers predict nothing."""
    if not records:
        return {'n': 0, 'pr50': 0.0, 'miou': 0.0, 'oiou': 0.0}
    ious, inter, union = [], 0, 0
    for record in records:
        answered = record.score >= score_threshold
        i = record.intersection if answered else 0
        u = record.union if answered else record.target_area
        ious.append(i / u if u else 0.0)
        inter, union = inter + i, union + u
    ious = np.array(ious)
    return {'n': len(records), 'pr50': float((ious > 0.5).mean()), 'miou': float(ious.mean()),
            'oiou': inter / union if union else 0.0}

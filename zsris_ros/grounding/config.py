"""
The one home of every setting: models, method knobs and proposal settings.

The CLI options, the ROS parameters (with their descriptors and ranges) and
``config/grounding.yaml`` are all generated from or checked against this model, so a
default cannot drift between them.
"""

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Settings that only take effect when the models are (re)loaded.
RESTART = {'read_only': True}

#: The toy-world CLIP trained by `zsris toy train`, shipped with the package.
TOY_CHECKPOINT = str(Path(__file__).resolve().parents[1] / 'data' / 'toy_clip.pt')

#: Named bundles of defaults; explicit settings always win over the preset's.
PRESETS: dict[str, dict[str, Any]] = {
    'real': {},
    # Random-initialised small models of the real architectures: wiring tests and CI only.
    'tiny': {
        'clip_model': 'zsris-tiny',
        'clip_pretrained': 'none',
        'sam_model': 'tiny',
        'sam_checkpoint': 'none',
        'masking_block': 2,
        'points_per_side': 4,
        'score_threshold': -1.0,
        'pred_iou_thresh': 0.0,
        'stability_score_thresh': 0.0,
        # Random SAM masks overlap heavily; keep several so margins and ranking are exercised.
        'box_nms_thresh': 1.0,
        'max_proposals': 8,
        'min_mask_area': 16,
    },
    # A small CLIP trained offline on toy tabletop scenes + weight-free proposals: real
    # answers on machines without GPU or hub access (`make demo`, `zsris toy eval`).
    'toy': {
        'clip_model': 'zsris-toy',
        'clip_pretrained': TOY_CHECKPOINT,
        'proposer': 'felzenszwalb',
        'sam_checkpoint': 'none',
        # The toy CLIP learnt mostly from masked crops: its global branch is weaker than
        # real CLIP's, so the toy world weighs it less (measured by `zsris toy eval`).
        'v': 0.5,
        'masking_block': 1,
        'score_threshold': -1.0,
        'min_mask_area': 50,
    },
}


class GroundingConfig(BaseModel):
    """Settings of a GroundingPipeline; defaults reproduce the paper's RefCOCO setting."""

    model_config = ConfigDict(extra='forbid', validate_assignment=True, frozen=False)

    preset: Literal['real', 'toy', 'tiny'] = Field(
        'real', description='Bundle of model defaults: real (SAM ViT-B + CLIP ViT-B/32), toy '
        '(CLIP trained on toy scenes + Felzenszwalb proposals, offline) or tiny (random '
        'weights, wiring tests only)', json_schema_extra=RESTART)
    proposer: Literal['sam', 'felzenszwalb'] = Field(
        'sam', description='Mask proposals: Segment Anything, or weight-free Felzenszwalb '
        'graph segmentation (the CPU fallback)', json_schema_extra=RESTART)
    clip_model: str = Field(
        'ViT-B-32', description='open_clip model name (native ViT vision tower required)',
        json_schema_extra=RESTART)
    clip_pretrained: str = Field(
        'openai', description="open_clip pretrained tag, a local checkpoint file, or 'none' "
        '(random weights)', json_schema_extra=RESTART)
    sam_model: Literal['vit_b', 'vit_l', 'vit_h', 'tiny'] = Field(
        'vit_b', description='Segment Anything image encoder size', json_schema_extra=RESTART)
    sam_checkpoint: str = Field(
        'auto', description="SAM checkpoint file, 'auto' (download to the cache, sha256 "
        "checked) or 'none' (random weights)", json_schema_extra=RESTART)
    weights_dir: str = Field(
        '', description="Cache for downloaded weights; '' means $XDG_CACHE_HOME/zsris_ros",
        json_schema_extra=RESTART)
    spacy_model: str = Field(
        'en_core_web_sm', description='spaCy pipeline used to find the target noun phrase',
        json_schema_extra=RESTART)
    device: Literal['auto', 'cpu', 'cuda'] = Field(
        'auto', description='Torch device; auto picks CUDA when available',
        json_schema_extra=RESTART)
    precision: Literal['auto', 'fp32', 'fp16', 'bf16'] = Field(
        'auto', description='Autocast precision of the networks; auto is fp16 on CUDA and '
        'fp32 on CPU')
    compile: bool = Field(  # noqa: A003 (the setting's public name, as the CLI and ROS use it)
        False, description='torch.compile the image encoders (slow first frame, faster after)',
        json_schema_extra=RESTART)
    preprocessing: Literal['clip', 'reference'] = Field(
        'clip', description="Image normalisation: 'clip' (CLIP mean/std, mean-pixel fill) or "
        "'reference' (the official code's ImageNet statistics and fill quirk)")
    v: float = Field(
        0.95, ge=0.0, le=1.0,
        description='Weight of the global (token-masked) visual feature; 1-v goes to the '
        'local masked crop. 0.95 RefCOCO/RefCOCO+, 0.85 RefCOCOg')
    r: float = Field(
        0.5, ge=0.0, le=1.0,
        description='Weight of the sentence text feature; 1-r goes to the noun phrase')
    masking_block: int = Field(
        9, ge=0, le=64,
        description='First ViT block whose input patch tokens are masked by the proposal')
    score_threshold: float = Field(
        0.0, ge=-1.0, le=1.0,
        description='Best cosine score below this answers no_match')
    points_per_side: int = Field(
        32, ge=1, le=128, description='SAM point grid density (points_per_side^2 prompts)')
    points_per_batch: int = Field(
        64, ge=1, le=4096, description='SAM prompts decoded per batch (memory vs speed)')
    proposal_max_side: int = Field(
        0, ge=0, le=8192,
        description='Propose on the frame shrunk to this longer side, then upsample the '
        'masks (0: full resolution)')
    pred_iou_thresh: float = Field(
        0.88, ge=0.0, le=1.0, description="SAM filter on the model's predicted mask IoU")
    stability_score_thresh: float = Field(
        0.95, ge=0.0, le=1.0, description='SAM filter on mask stability under threshold shifts')
    box_nms_thresh: float = Field(
        0.7, ge=0.0, le=1.0, description='Box IoU above which duplicate proposals are dropped')
    felz_scale: float = Field(
        300.0, ge=1.0, le=100_000.0,
        description='Felzenszwalb: larger gives larger segments')
    felz_sigma: float = Field(
        0.8, ge=0.0, le=10.0, description='Felzenszwalb: Gaussian smoothing before segmenting')
    felz_min_size: int = Field(
        80, ge=1, le=1_000_000, description='Felzenszwalb: smallest segment (pixels)')
    min_mask_area: int = Field(
        100, ge=0, le=100_000_000, description='Proposals smaller than this (pixels) are dropped')
    max_proposals: int = Field(
        100, ge=1, le=1000,
        description='Keep at most this many proposals (highest predicted IoU first)')
    frame_cache_size: int = Field(
        4, ge=0, le=1000,
        description='Frames whose proposals and visual features are kept for later commands')
    text_cache_size: int = Field(
        256, ge=0, le=100_000, description='Text features kept in the LRU cache',
        json_schema_extra=RESTART)

    @model_validator(mode='before')
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        """Fill unset fields from the preset, so `preset=tiny` alone gives a working config."""
        if not isinstance(data, dict):
            return data
        preset = data.get('preset', 'real')
        return {**PRESETS.get(preset, {}), **data}

    @property
    def answers_are_meaningless(self) -> bool:
        """Tiny or random-initialised models: fine for wiring, useless for answers."""
        return self.preset == 'tiny' or 'none' in (self.clip_pretrained, self.sam_checkpoint)


def restart_fields() -> set[str]:
    """Names of the settings that need a model reload to change."""
    return {name for name, field in GroundingConfig.model_fields.items()
            if (field.json_schema_extra or {}).get('read_only')}

"""
The one home of every setting: models, method knobs and proposal settings.

Each field says once what it is: its default, range and description, whether it needs a model
reload (`restart`), whether the proposals and visual features of a frame depend on it
(`frame_key`, so the frame cache keys on it) and whether it can change an answer
(`changes_answers`, so an evaluation run refuses to resume under a different value). The CLI
options, the ROS parameters and their descriptors, ``config/grounding.yaml``, the README table
and the launch file's choices are all derived from these fields.
"""

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.fields import FieldInfo


def setting(default: Any, description: str, *, restart: bool = False, frame_key: bool = True,
            changes_answers: bool = True, **constraints: Any) -> Any:
    """
    Declare one setting with what it is, beside its default and bounds.

    frame_key defaults to True: a new proposal or feature setting that forgets to say so
    must make the frame cache miss, never serve stale features. Restart settings rebuild
    the pipeline and its cache, so the flag does not matter for them.
    """
    kind = {'restart': restart, 'frame_key': frame_key and not restart,
            'changes_answers': changes_answers}
    return Field(default, description=description, json_schema_extra=kind, **constraints)


def setting_kind(field: FieldInfo) -> dict[str, bool]:
    """Return the restart / frame_key / changes_answers flags of a field from setting()."""
    return dict(field.json_schema_extra or {})


def fields_where(model: type[BaseModel], flag: str, value: bool = True) -> set[str]:
    """Names of the model's settings whose flag has the given value."""
    return {name for name, field in model.model_fields.items()
            if setting_kind(field).get(flag) == value}


#: Default bound on a frame's pixels: 4K UHD, the largest common camera video mode. Memory
#: grows with it (README, "Memory"); a 46 KB png that says 4000x4000 is refused unread.
MAX_FRAME_PIXELS = 3840 * 2160

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
        # Random weights put unrelated masks in near ties that mean nothing: ask only about
        # exact ties, so wiring tests get answers.
        'spatial_ambiguity_ratio': 1.0,
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
        # Its cosines spread about three times as much between objects of one class as real
        # CLIP's (0.03-0.1 against 0.012), so a class needs a wider softmax to count as one
        # set of candidates (seeds 20000+ of `zsris toy eval`: 0.05 -> 0.1 lifts ordinal,
        # size, depth and relational expressions by 0.1-0.2 each).
        'spatial_target_temperature': 0.1,
        # Felzenszwalb cuts a shaded side off each toy shape, and that piece often looks more
        # like 'the object' than the whole: pieces answer only when far better (seeds 20000+:
        # 1 -> 3 lifts ordinal, size and between expressions by 0.02-0.05).
        'spatial_part_margin': 3.0,
        # What the toy CLIP learnt to call the bare table, on CLIP's own scale (the default
        # temperature 0.01). Trained on proposer cut-outs too, the model no longer finds the
        # table in small objects' crops (seeds 20000-20199, Pr@0.5 overall / ordinal: 0.01,
        # 0.957 / 0.934; 0.02, 0.955 / 0.922; 0.03, 0.952 / 0.905; 0.1, 0.929 / 0.798).
        'background_prompts': 'the table; background',
        # Look-alikes still score a little apart; a word that holds for one of them only
        # tells them apart, a word true of both (spatial_word_share) does not. Asked about
        # expressions that fit two objects / about clear ones, seeds 20000-20199 and
        # 30000-30199: ratio 0.45, 84 % / 3.5 % and 87 % / 2.9 %; 0.43, 88 % / 4.0 % and
        # 87 % / 3.5 %; 0.4, 90 % / 4.8 % and 89 % / 4.1 %; 0.38, 91 % / 5.5 % and 90 % / 4.6 %.
        'spatial_ambiguity_ratio': 0.4,
        'spatial_word_margin': 0.06,
    },
}


class GroundingConfig(BaseModel):
    """Settings of a GroundingPipeline; defaults reproduce the paper's RefCOCO setting."""

    model_config = ConfigDict(extra='forbid', validate_assignment=True, frozen=False)

    preset: Literal['real', 'toy', 'tiny'] = setting(
        'real', description='Bundle of model defaults: real (SAM ViT-B + CLIP ViT-B/32), toy '
        '(CLIP trained on toy scenes + Felzenszwalb proposals, offline) or tiny (random '
        'weights, wiring tests only)', restart=True)
    proposer: Literal['sam', 'felzenszwalb'] = setting(
        'sam', description='Mask proposals: Segment Anything, or weight-free Felzenszwalb '
        'graph segmentation (the CPU fallback)', restart=True)
    clip_model: str = setting(
        'ViT-B-32', description='open_clip model name (native ViT vision tower required)',
        restart=True)
    clip_pretrained: str = setting(
        'openai', description="open_clip pretrained tag, a local checkpoint file, or 'none' "
        '(random weights)', restart=True)
    sam_model: Literal['vit_b', 'vit_l', 'vit_h', 'tiny'] = setting(
        'vit_b', description='Segment Anything image encoder size', restart=True)
    sam_checkpoint: str = setting(
        'auto', description="SAM checkpoint file, 'auto' (download to the cache, sha256 "
        "checked) or 'none' (random weights)", restart=True)
    weights_dir: str = setting(
        '', description="Folder for downloaded SAM and CLIP weights; '' means "
        '$XDG_CACHE_HOME/zsris_ros for SAM and the Hugging Face cache for CLIP',
        restart=True, changes_answers=False)
    offline: bool = setting(
        False, description='Never download weights: a SAM or CLIP file missing from the '
        "cache is an error naming it and the 'zsris weights fetch' command that gets it "
        'beforehand', restart=True, changes_answers=False)
    spacy_model: str = setting(
        'en_core_web_sm', description='spaCy pipeline used to find the target noun phrase',
        restart=True)
    device: Literal['auto', 'cpu', 'cuda'] = setting(
        'auto', description='Torch device; auto picks CUDA when available',
        restart=True, changes_answers=False)
    precision: Literal['auto', 'fp32', 'fp16', 'bf16'] = setting(
        'auto', description='Autocast precision of the networks; auto is fp16 on CUDA and '
        'fp32 on CPU')
    compile: bool = setting(  # noqa: A003 (the setting's public name, as the CLI and ROS use it)
        False, description='torch.compile the image encoders (slow first frame, faster after)',
        restart=True, changes_answers=False)
    preprocessing: Literal['clip', 'reference'] = setting(
        'clip', description="Image normalisation: 'clip' (CLIP mean/std, mean-pixel fill) or "
        "'reference' (the official code's ImageNet statistics and fill quirk)")
    v: float = setting(
        0.95, ge=0.0, le=1.0,
        description='Weight of the global (token-masked) visual feature; 1-v goes to the '
        'local masked crop. 0.95 RefCOCO/RefCOCO+, 0.85 RefCOCOg')
    r: float = setting(
        0.5, ge=0.0, le=1.0,
        description='Weight of the sentence text feature; 1-r goes to the noun phrase',
        frame_key=False)
    masking_block: int = setting(
        9, ge=0, le=64,
        description='First ViT block whose input patch tokens are masked by the proposal')
    score_threshold: float = setting(
        0.0, ge=-1.0, le=1.0,
        description='Best cosine score below this answers no_match', frame_key=False)
    points_per_side: int = setting(
        32, ge=1, le=128, description='SAM point grid density (points_per_side^2 prompts)')
    sam_prompts: Literal['grid', 'segments'] = setting(
        'grid', description='Where SAM is prompted: the stock point grid (points_per_side^2), '
        'or one point inside each Felzenszwalb segment (felz_* settings; at most '
        'points_per_side^2): fewer prompts, faster, approximate (README, Speed)')
    points_per_batch: int = setting(
        64, ge=1, le=4096, description='SAM prompts decoded per batch (memory vs speed)',
        frame_key=False, changes_answers=False)
    proposal_max_side: int = setting(
        0, ge=0, le=8192,
        description='Propose on the frame shrunk to this longer side, then upsample the '
        'masks (0: full resolution)')
    pred_iou_thresh: float = setting(
        0.88, ge=0.0, le=1.0, description="SAM filter on the model's predicted mask IoU")
    stability_score_thresh: float = setting(
        0.95, ge=0.0, le=1.0, description='SAM filter on mask stability under threshold shifts')
    box_nms_thresh: float = setting(
        0.7, ge=0.0, le=1.0, description='Box IoU above which duplicate proposals are dropped')
    felz_scale: float = setting(
        300.0, ge=1.0, le=100_000.0,
        description='Felzenszwalb: larger gives larger segments')
    felz_sigma: float = setting(
        0.8, ge=0.0, le=10.0, description='Felzenszwalb: Gaussian smoothing before segmenting')
    felz_min_size: int = setting(
        80, ge=1, le=1_000_000, description='Felzenszwalb: smallest segment (pixels)')
    min_mask_area: int = setting(
        100, ge=0, le=100_000_000, description='Proposals smaller than this (pixels) are dropped')
    max_frame_pixels: int = setting(
        MAX_FRAME_PIXELS, ge=1, le=8192 * 8192,
        description='Largest frame (width x height pixels) decoded and grounded; a bigger '
        'one is refused from its header, before decoding (README, Memory)',
        frame_key=False)
    max_proposals: int = setting(
        100, ge=1, le=1000,
        description='Keep at most this many proposals (highest predicted IoU first)')
    frame_cache_size: int = setting(
        4, ge=0, le=16,
        description='Frames whose proposals and visual features are kept for later commands',
        frame_key=False, changes_answers=False)
    spatial: bool = setting(
        True, description='Read where the object is (position, size, order, depth, relations '
        "to other objects) after scoring; false gives the paper's method exactly",
        frame_key=False)
    spatial_target_temperature: float = setting(
        0.05, ge=0.001, le=10.0, frame_key=False,
        description='Spatial stage: softmax temperature of the target cosines (with '
        'spatial_candidate_ratio it sets how far below the best an object still counts)')
    spatial_anchor_temperature: float = setting(
        0.01, ge=0.001, le=10.0, frame_key=False,
        description="Spatial stage: softmax temperature of each anchor object's cosines")
    spatial_relation_weight: float = setting(
        1.0, ge=0.0, le=10.0, frame_key=False,
        description='Spatial stage: weight of each relation to an anchor object')
    spatial_position_weight: float = setting(
        1.0, ge=0.0, le=10.0, frame_key=False,
        description='Spatial stage: weight of each position, ordinal and superlative word')
    spatial_softness: float = setting(
        0.25, ge=0.01, le=10.0, frame_key=False,
        description='Spatial stage: width of every soft comparison, in object sizes')
    spatial_size_ratio: float = setting(
        2.0, ge=1.0, le=100.0, frame_key=False,
        description="Spatial stage: a size adjective ('the big cup') holds for a candidate "
        'unless another is this many times bigger (smaller) in area')
    spatial_candidate_ratio: float = setting(
        0.5, ge=0.0, le=1.0, frame_key=False,
        description='Spatial stage: an object counts as a probable target (for ranks and '
        "superlatives) from this fraction of the best one's probability")
    spatial_part_margin: float = setting(
        1.0, ge=0.0, le=100.0, frame_key=False,
        description="Spatial stage: an object answers with its outermost mask unless a part's "
        'cosine beats it by this many target temperatures (a cup SAM cut out of a plate)')
    spatial_ambiguity_ratio: float = setting(
        0.8, ge=0.0, le=1.0, frame_key=False,
        description='Spatial stage: answer ambiguous when the runner-up object has at least '
        "this fraction of the best one's probability (1: only exact ties)")
    spatial_min_support: float = setting(
        0.3, ge=0.0, le=1.0, frame_key=False,
        description='Spatial stage: below this support of a relation for the best object, '
        'nothing fits (no_match)')
    spatial_depth_unit: float = setting(
        0.05, ge=0.001, le=10.0, frame_key=False,
        description='Spatial stage: relative depth difference that counts as one object size')
    spatial_between_spread: float = setting(
        0.3, ge=0.0, le=10.0, frame_key=False,
        description="Spatial stage: 'between' two anchors allows this fraction of their "
        'distance off the line that joins them')
    spatial_word_margin: float = setting(
        0.015, ge=0.0, le=1.0, frame_key=False,
        description='Spatial stage: two objects that fit alike are told apart (no question) '
        'when leaving one describing word out costs the best this much more cosine than the '
        'other (0: off)')
    spatial_word_share: float = setting(
        0.4, ge=0.0, le=1.0, frame_key=False,
        description='Spatial stage: a describing word tells two objects apart only when the '
        'other keeps at most this share of what leaving it out costs the best (a word true of '
        'both costs both; 1: any gap of spatial_word_margin will do)')
    spatial_negation_temperature: float = setting(
        0.01, ge=0.001, le=10.0, frame_key=False,
        description="Spatial stage: temperature of each proposal's choice between the target "
        "and what it is said not to be ('the cup that is not red': 'the cup' or 'red cup')")
    spatial_background_temperature: float = setting(
        0.01, ge=0.001, le=10.0, frame_key=False,
        description="Spatial stage: temperature of each proposal's choice between a phrase "
        'and the background prompts')
    background_prompts: str = setting(
        'background; the floor; a wall', frame_key=False, max_length=1000,
        description='Spatial stage: what is no object, as phrases separated by semicolons '
        '(empty: no check); a proposal that looks more like one of them than like the phrase '
        'drops out')
    text_cache_size: int = setting(
        256, ge=0, le=100_000, description='Text features kept in the LRU cache',
        restart=True, changes_answers=False)

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
        return self.preset == 'tiny' or self.clip_pretrained == 'none' or (
            self.proposer == 'sam' and self.sam_checkpoint == 'none')

    def run_time_values(self) -> dict[str, Any]:
        """Return the settings a running pipeline can change without reloading its models."""
        return self.model_dump(exclude=restart_fields())

    def background_phrases(self) -> list[str]:
        """Return the background prompts as a list, blanks dropped."""
        return [p.strip() for p in self.background_prompts.split(';') if p.strip()]

    def spatial_settings(self) -> dict[str, Any]:
        """Return the spatial stage's settings under the stage's own names."""
        return {name.removeprefix('spatial_'): value for name, value in self.model_dump().items()
                if name.startswith('spatial_')}

    def frame_key(self) -> tuple:
        """Return the values a frame's proposals and visual features depend on (cache key)."""
        return tuple(self.model_dump(include=fields_where(GroundingConfig, 'frame_key')).values())


def preset_fields() -> set[str]:
    """Names of the settings some preset sets (the parameter file leaves them to it)."""
    return {name for values in PRESETS.values() for name in values}


def restart_fields() -> set[str]:
    """Names of the settings that need a model reload to change."""
    return fields_where(GroundingConfig, 'restart')

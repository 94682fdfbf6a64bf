"""Image + text -> grounded mask: proposals -> visual -> text -> score (doc/method.md)."""

from collections import OrderedDict
from dataclasses import asdict
import logging
import time
from typing import Callable, ContextManager, Hashable

import numpy as np
import torch
import torch.nn.functional as F

from .config import GroundingConfig, restart_fields
from .ellipsis import in_full
from .felzenszwalb import FelzenszwalbProposer
from .geometry import mask_bbox, mask_centroid
from .models import (ClipModel, compile_encoders, load_clip, load_sam, ModelConfigError,
                     resolve_device)
from .phrase import PhraseParser
from .proposals import Proposer, SamProposer, stage_timer
from .result import GroundingResult, RANDOM_WEIGHTS_WARNING
from .spatial.parse import SpatialParser
from .spatial.reading import Reading
from .spatial.selection import select, SpatialSettings, tell_apart
from .text import TextEncoder
from .visual import CROP_BATCH, VisualEncoder

LOGGER = logging.getLogger(__name__)
AUTOCAST_DTYPES = {'fp16': torch.float16, 'bf16': torch.bfloat16}


class ImageInputError(ValueError):
    """The frame is not an HxWx3 uint8 RGB array."""


class GroundingPipeline:
    """One object holding the loaded models; the CLI, the node and the tools all use it."""

    def __init__(self, config: GroundingConfig, clip: ClipModel, proposer: Proposer,
                 phrases: PhraseParser, device: torch.device) -> None:
        self.config = config
        self.device = device
        self.phrases = phrases
        self.spatial = SpatialParser(nlp=phrases.nlp)
        self.proposer = proposer
        self.visual = VisualEncoder(clip, device, config.preprocessing)
        self.text = TextEncoder(clip, device, config.text_cache_size)
        self.vision_depth = clip.depth
        self._frames: OrderedDict[Hashable, tuple[np.ndarray, torch.Tensor | None]] = \
            OrderedDict()

    @classmethod
    def from_config(cls, config: GroundingConfig) -> 'GroundingPipeline':
        """Load every model the config names (may download weights on first use)."""
        device = resolve_device(config.device)
        LOGGER.info('loading models (preset %s) on %s', config.preset, device)
        sam = load_sam(config, device) if config.proposer == 'sam' else None
        clip = load_clip(config, device)
        if config.compile:
            compile_encoders(sam, clip)
        proposer = SamProposer(sam) if sam is not None else FelzenszwalbProposer()
        return cls(config, clip, proposer, PhraseParser(config.spacy_model), device)

    def update(self, **changes: object) -> GroundingConfig:
        """Change run-time settings by name; model settings need a new pipeline."""
        config = self.config.model_validate({**self.config.model_dump(), **changes})
        self.reconfigure(config)
        return config

    def check(self, config: GroundingConfig) -> None:
        """Raise ModelConfigError if this pipeline cannot run with config; change nothing."""
        needs_restart = sorted(name for name in restart_fields()
                               if getattr(config, name) != getattr(self.config, name))
        if needs_restart:
            raise ModelConfigError(f'{", ".join(needs_restart)} only take effect at start-up')
        if config.masking_block >= self.vision_depth:
            raise ModelConfigError(
                f'masking_block must be below the vision depth {self.vision_depth}')

    def reconfigure(self, config: GroundingConfig) -> None:
        """
        Run with new run-time settings from now on.

        Not thread-safe by design: the one thread that grounds (the node's worker) is the one
        that reconfigures, between commands.
        """
        self.check(config)
        if config.preprocessing != self.config.preprocessing:
            self.visual = VisualEncoder(self.visual.clip, self.device, config.preprocessing)
        self.config = config

    def reply(self, text: str, asked: str) -> str | None:
        """
        Return `text` said in full when it replies to a question about `asked`, else None.

        A reply names no kind of object ("the left one", "on the left"); a command that
        names one ("the mug on the left") stands on its own.
        """
        referring = self.phrases.parse(text).referring_expression
        if not referring or not self.spatial.read(referring).names_no_kind:
            return None
        return in_full(referring, asked, self.phrases.nlp)

    def ground(self, image_rgb: np.ndarray, text: str) -> GroundingResult:
        """Ground one expression on one RGB frame."""
        return self.ground_many(image_rgb, [text])[0]

    @torch.inference_mode()
    def ground_many(self, image_rgb: np.ndarray, texts: list[str],
                    frame_key: Hashable | None = None, depth_m: np.ndarray | None = None,
                    on_stage: Callable[[str], None] | None = None) -> list[GroundingResult]:
        """
        Ground several expressions, computing proposals and visual features once.

        With a frame_key (e.g. the camera stamp), proposals and features are also kept for
        later commands on the same frame, in a small LRU cache. depth_m, an aligned depth
        image in metres, lets the spatial stage read "nearest", "behind" and the like.
        on_stage hears 'proposals' and 'scoring' as they start, for callers that report
        progress (the node's action feedback).
        """
        config = self.config
        start = time.perf_counter()
        results = [self._start_result(text) for text in texts]
        pending = [(r, self._read(r, config)) for r in results if r.status != 'error']
        if pending:
            _check_image(image_rgb, config.max_frame_pixels)
            timings: dict[str, float] = {}
            if on_stage is not None:
                on_stage('proposals')
            masks, features = self._frame_features(image_rgb, config, frame_key, timings)
            if on_stage is not None:
                on_stage('scoring')
            for result, reading in pending:
                if len(masks) == 0:
                    result.status, result.message = 'no_proposals', 'no mask proposals'
                    result.timings_ms = dict(timings)
                else:
                    self._score(result, reading, masks, features, config, dict(timings),
                                depth_m)
        total = round((time.perf_counter() - start) * 1000.0, 3)
        for result in results:
            result.timings_ms['total'] = total
        return results

    def _frame_features(self, image_rgb: np.ndarray, config: GroundingConfig,
                        frame_key: Hashable | None, timings: dict[str, float]
                        ) -> tuple[np.ndarray, torch.Tensor | None]:
        """Proposals and their unit visual features, from the cache when the frame is known."""
        key = None if frame_key is None else (frame_key, config.frame_key())
        if key is not None and key in self._frames:
            self._frames.move_to_end(key)
            timings['proposals'] = timings['visual'] = 0.0
            return self._frames[key]
        try:
            masks, features = self._propose_and_encode(image_rgb, config, timings)
        except torch.cuda.OutOfMemoryError:
            LOGGER.warning('CUDA out of memory: retrying once with half-size batches')
            torch.cuda.empty_cache()
            masks, features = self._retry_smaller(image_rgb, config, timings)
        if key is not None:
            self._frames[key] = (masks, features)
            while len(self._frames) > config.frame_cache_size:
                self._frames.popitem(last=False)
        return masks, features

    def _start_result(self, text: str) -> GroundingResult:
        phrase = self.phrases.parse(text)
        result = GroundingResult(
            command=text, expression=phrase.expression,
            referring_expression=phrase.referring_expression,
            noun_phrase=phrase.noun_phrase, status='ok')
        if self.config.answers_are_meaningless:
            result.warnings.append(RANDOM_WEIGHTS_WARNING)
        if not phrase.expression:
            result.status, result.message = 'error', 'empty command'
        return result

    def _read(self, result: GroundingResult, config: GroundingConfig) -> Reading | None:
        """Read where the expression places its object; None when the stage is off."""
        if not config.spatial:
            return None
        reading = self.spatial.read(result.referring_expression)
        result.reading = asdict(reading)
        return reading

    def _propose_and_encode(self, image_rgb: np.ndarray, config: GroundingConfig,
                            timings: dict[str, float]
                            ) -> tuple[np.ndarray, torch.Tensor | None]:
        with self._precision(config):
            with stage_timer(timings, 'proposals'):
                masks = self.proposer.propose(image_rgb, config, timings)
            if not len(masks):
                return masks, None
            with stage_timer(timings, 'visual'):
                return masks, self._visual_features(image_rgb, masks, config)

    def _retry_smaller(self, image_rgb: np.ndarray, config: GroundingConfig,
                       timings: dict[str, float]) -> tuple[np.ndarray, torch.Tensor | None]:
        """Redo the frame with half the prompts and crops in flight at once; same results."""
        smaller = config.model_copy(
            update={'points_per_batch': max(1, config.points_per_batch // 2)})
        self.visual.crop_batch = max(1, self.visual.crop_batch // 2)
        try:
            return self._propose_and_encode(image_rgb, smaller, timings)
        finally:
            self.visual.crop_batch = CROP_BATCH

    def _precision(self, config: GroundingConfig) -> ContextManager:
        """Autocast on CUDA by default: half the memory traffic for nearly the same scores."""
        dtype = AUTOCAST_DTYPES.get(config.precision)
        if config.precision == 'auto':
            dtype = torch.float16 if self.device.type == 'cuda' else None
        return torch.autocast(self.device.type, dtype=dtype or torch.float32,
                              enabled=dtype is not None)

    def _visual_features(self, image_rgb: np.ndarray, masks: np.ndarray,
                         config: GroundingConfig) -> torch.Tensor:
        image = self.visual.normalize(image_rgb)
        mask_tensor = torch.from_numpy(masks).to(self.device)
        features = self.visual.encode(image, mask_tensor, config.v, config.masking_block)
        return F.normalize(features.float(), dim=-1)

    def _score(self, result: GroundingResult, reading: Reading | None, masks: np.ndarray,
               features: torch.Tensor, config: GroundingConfig, timings: dict[str, float],
               depth_m: np.ndarray | None) -> None:
        with stage_timer(timings, 'text'), self._precision(config):
            text = self.text.mix(result.referring_expression, result.noun_phrase, config.r)
        scores = self._cosines(features, text)
        result.timings_ms = timings
        result.num_proposals = len(masks)
        if reading is None:
            best = int(np.argmax(scores))
        else:
            with stage_timer(timings, 'spatial'):
                best = self._select(result, reading, masks, features, config, depth_m, scores)
            if best is None:
                return
        others = np.delete(scores, best)
        result.score = float(scores[best])
        result.margin = float(scores[best] - others.max()) if len(others) else None
        if result.score < config.score_threshold:
            result.status = 'no_match'
            result.message = f'best score {result.score:.3f} < {config.score_threshold}'
            return
        mask = masks[best]
        result.mask = mask
        result.bbox = mask_bbox(mask)
        result.centroid = mask_centroid(mask)
        result.area = int(mask.sum())

    def _select(self, result: GroundingResult, reading: Reading, masks: np.ndarray,
                features: torch.Tensor, config: GroundingConfig, depth_m: np.ndarray | None,
                expression_scores: np.ndarray) -> int | None:
        """
        Choose by where the object is; None when nothing fits (the result says why).

        The target description keeps the paper's sentence/noun-phrase mix; each anchor phrase
        costs one (cached) text encoding and no visual pass. An expression without location
        words keeps the paper's choice, but is still asked about when two objects fit it alike.
        """
        with self._precision(config):
            texts = {phrase: self.text.mix(phrase, phrase, config.r)
                     for phrase in reading.anchor_phrases()}
            if reading.is_spatial:
                texts[reading.target] = self.text.mix(reading.target, result.noun_phrase,
                                                      config.r)
            background = [self.text.mix(phrase, phrase, config.r)
                          for phrase in config.background_phrases()]
        scores = {phrase: self._cosines(features, text) for phrase, text in texts.items()}
        scores.setdefault(reading.target, expression_scores)
        background_scores = (np.max([self._cosines(features, text) for text in background], axis=0)
                             if background else None)
        settings = SpatialSettings(**config.spatial_settings())
        selection = select(reading, masks, scores, depth_m, settings, background_scores)
        if selection.status == 'ambiguous' and settings.word_margin > 0:
            selection = tell_apart(selection, self._word_effects(reading.target, features,
                                                                 config), settings)
        if selection.status == 'ambiguous':
            result.status, result.question = 'ambiguous', selection.question
            result.candidates = [{'box': c.box, 'centroid': c.centroid,
                                  'score': round(float(c.probability), 4)}
                                 for c in selection.candidates]
        if not reading.is_spatial:
            return int(np.argmax(expression_scores))
        result.anchors = selection.anchors
        result.message = selection.message
        if selection.index is None:
            result.status = 'no_match'
        return selection.index

    def _word_effects(self, phrase: str, features: torch.Tensor,
                      config: GroundingConfig) -> np.ndarray:
        """How much each proposal's cosine drops without each describing word: (W, N)."""
        variants = self.spatial.word_variants(phrase)
        if not variants:
            return np.zeros((0, len(features)))
        with self._precision(config):
            texts = [self.text.mix(text, text, config.r) for text in [phrase, *variants]]
        full, *dropped = [self._cosines(features, text) for text in texts]
        return full[None, :] - np.stack(dropped)

    @staticmethod
    def _cosines(features: torch.Tensor, text: torch.Tensor) -> np.ndarray:
        return (features @ F.normalize(text.float(), dim=-1)).cpu().numpy()


def _check_image(image_rgb: np.ndarray, max_pixels: int) -> None:
    """Refuse what is not a frame, and frames whose masks would not fit (max_frame_pixels)."""
    if (not isinstance(image_rgb, np.ndarray) or image_rgb.dtype != np.uint8
            or image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or 0 in image_rgb.shape):
        shape = getattr(image_rgb, 'shape', None)
        raise ImageInputError(f'expected an HxWx3 uint8 RGB image, got {shape}')
    height, width = image_rgb.shape[:2]
    if height * width > max_pixels:
        raise ImageInputError(f'image of {width}x{height} = {height * width} pixels exceeds '
                              f'max_frame_pixels {max_pixels}')

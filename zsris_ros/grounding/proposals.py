"""
Class-agnostic mask proposals from Segment Anything.

`SamProposer` runs the same steps as segment_anything's `SamAutomaticMaskGenerator` (point
grid, IoU and stability filters, box NMS) but keeps the masks as one tensor on the model's
device: the stock generator encodes every mask to RLE and deep-copies the lists batch after
batch, which costs more than the network on CPU. `StockSamProposer` is the stock generator,
kept as the reference the fast path is tested and benchmarked against.
"""

from contextlib import contextmanager
import time
from typing import Iterator, Protocol

import cv2
import numpy as np
from segment_anything import SamAutomaticMaskGenerator
from segment_anything.modeling import Sam
from segment_anything.utils.amg import batched_mask_to_box, calculate_stability_score
import torch
from torchvision.ops.boxes import batched_nms

from .config import GroundingConfig
from .prompts import prompt_points
from .sam_decoding import (decode_point_prompts, frame_logits, predicted_ious, shared_image,
                           SharedImage)
from .sam_encoding import RowChunkedPredictor


class Proposer(Protocol):
    """Anything that turns a frame into (N, H, W) bool masks, best first."""

    def propose(self, image_rgb: np.ndarray, config: GroundingConfig,
                timings: dict[str, float] | None = None) -> np.ndarray:
        """Propose masks for every object-like region of the frame; time its stages."""


#: segment_anything's default; it shifts the logit thresholds of the stability score.
STABILITY_OFFSET = 1.0


class SamProposer:
    """Proposes binary masks for every object-like region of a frame."""

    def __init__(self, sam: Sam) -> None:
        self.predictor = RowChunkedPredictor(sam)

    @torch.inference_mode()
    def propose(self, image_rgb: np.ndarray, config: GroundingConfig,
                timings: dict[str, float] | None = None) -> np.ndarray:
        """
        (N, H, W) bool masks, best predicted IoU first, filtered by area and count.

        On a shrunk frame the filters use each mask's area once upsampled, and only the kept
        masks are upsampled: memory follows max_proposals, not the proposals of the grid.
        `timings` receives sam_encoder, sam_decoder (with the masks' filters) and sam_post
        (NMS, area, top-K, upsampling) in ms.
        """
        timings = {} if timings is None else timings
        shrunk = downscaled(image_rgb, config.proposal_max_side)
        masks, quality = self._deduplicated(shrunk, config, timings)
        with stage_timer(timings, 'sam_post'):
            boxes = batched_mask_to_box(masks).float()
            keep = batched_nms(boxes, quality, torch.zeros_like(quality), config.box_nms_thresh)
            masks, quality = masks[keep], quality[keep]
            rows, cols = (torch.from_numpy(source_indices(small, full)).to(masks.device)
                          for small, full in zip(shrunk.shape[:2], image_rgb.shape[:2]))
            kept = masks[_best(_upsampled_areas(masks, rows, cols), quality, config)]
            if kept.shape[1:] != image_rgb.shape[:2]:
                kept = kept[:, rows][:, :, cols]
            return kept.cpu().numpy()

    def _deduplicated(self, image_rgb: np.ndarray, config: GroundingConfig,
                      timings: dict[str, float]) -> tuple[torch.Tensor, torch.Tensor]:
        """Masks of the whole point grid that pass the IoU and stability filters."""
        with stage_timer(timings, 'sam_encoder'):
            self.predictor.set_image(image_rgb)
        with stage_timer(timings, 'sam_decoder'):
            grid = prompt_points(image_rgb, config)
            shared = shared_image(self.predictor.model, self.predictor.features)
            step = config.points_per_batch
            batches = [self._decode(grid[i:i + step], config, shared)
                       for i in range(0, len(grid), step)]
        self.predictor.reset_image()
        masks = torch.cat([b[0] for b in batches])
        quality = torch.cat([b[1] for b in batches])
        return masks, quality

    @torch.inference_mode()
    def grid_quality(self, image_rgb: np.ndarray, config: GroundingConfig) -> torch.Tensor:
        """Return the predicted IoU of every mask of the point grid, before any filter."""
        predictor = self.predictor
        predictor.set_image(image_rgb)
        coords = self._model_coords(prompt_points(image_rgb, config))
        shared = shared_image(predictor.model, predictor.features)
        step = config.points_per_batch
        quality = torch.cat([
            predicted_ious(predictor.model, shared, coords[i:i + step]).flatten()
            for i in range(0, len(coords), step)])
        predictor.reset_image()
        return quality

    def _model_coords(self, points: np.ndarray) -> torch.Tensor:
        """Map (N, 2) pixel positions of the set image into SAM's input frame."""
        predictor = self.predictor
        coords = predictor.transform.apply_coords(points, predictor.original_size)
        return torch.as_tensor(coords, dtype=torch.float, device=predictor.device)

    def _decode(self, points: np.ndarray, config: GroundingConfig, shared: SharedImage
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Masks of one batch of point prompts that pass the IoU and stability filters.

        The IoU filter runs inside the decoder, so only its survivors are upscaled and
        upsampled to the frame (sam_decoding.py); the stability score needs the full-size
        logits, as in the stock generator.
        """
        predictor = self.predictor
        low_res, quality = decode_point_prompts(predictor.model, shared,
                                                self._model_coords(points),
                                                config.pred_iou_thresh, predictor.input_size)
        logits = frame_logits(predictor.model, low_res, predictor.input_size,
                              predictor.original_size)
        threshold = predictor.model.mask_threshold
        if config.stability_score_thresh > 0.0:
            stability = calculate_stability_score(logits, threshold, STABILITY_OFFSET)
            keep = stability >= config.stability_score_thresh
            logits, quality = logits[keep], quality[keep]
        return logits > threshold, quality


class StockSamProposer:
    """segment_anything's own automatic mask generator: the reference implementation."""

    def __init__(self, sam: Sam) -> None:
        self.sam = sam

    @torch.inference_mode()
    def propose(self, image_rgb: np.ndarray, config: GroundingConfig,
                timings: dict[str, float] | None = None) -> np.ndarray:
        """Propose masks under the contract of SamProposer.propose; timed as one stage."""
        generator = SamAutomaticMaskGenerator(
            self.sam,
            points_per_side=config.points_per_side,
            points_per_batch=config.points_per_batch,
            pred_iou_thresh=config.pred_iou_thresh,
            stability_score_thresh=config.stability_score_thresh,
            stability_score_offset=STABILITY_OFFSET,
            box_nms_thresh=config.box_nms_thresh,
            output_mode='binary_mask',
        )
        records = generator.generate(image_rgb)
        return select_masks([r['segmentation'] for r in records],
                            [r['predicted_iou'] for r in records], config, image_rgb.shape[:2])


@contextmanager
def stage_timer(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Record the wall time (ms) of the block under `stage`."""
    start = time.perf_counter()
    yield
    timings[stage] = round((time.perf_counter() - start) * 1000.0, 3)


def downscaled(image_rgb: np.ndarray, max_side: int) -> np.ndarray:
    """
    Shrink the frame so its longer side is at most max_side (0: unchanged).

    SAM sees 1024 pixels whatever the input, but mask post-processing runs at the input's
    size: on a 1080p camera, proposing at 640 pixels and upsampling the kept masks is cheaper.
    """
    height, width = image_rgb.shape[:2]
    scale = max_side / max(height, width) if max_side else 1.0
    if scale >= 1.0:
        return image_rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA)


def source_indices(small: int, full: int) -> np.ndarray:
    """
    For each of `full` rows (or columns), the one of `small` nearest its centre.

    Indexing a shrunk mask with these upsamples it (nearest neighbour) back to the frame;
    integer arithmetic, so the SAM and Felzenszwalb paths map pixels identically.
    """
    return (2 * np.arange(full) + 1) * small // (2 * full)


def upsampled(array: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour upsampling of a 2-D array (a label image) to the frame's shape."""
    if array.shape == shape:
        return array
    rows, cols = (source_indices(small, full) for small, full in zip(array.shape, shape))
    return array[np.ix_(rows, cols)]


#: Masks whose upsampled areas are summed at once: bounds the int64 weights in flight.
AREA_CHUNK = 16


def _upsampled_areas(masks: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor
                     ) -> torch.Tensor:
    """Pixels each (N, h, w) mask covers once upsampled by rows/cols, without upsampling."""
    if (len(rows), len(cols)) == masks.shape[1:]:
        return masks.flatten(1).sum(dim=1)
    row_weights = torch.bincount(rows, minlength=masks.shape[1])
    col_weights = torch.bincount(cols, minlength=masks.shape[2])
    return torch.cat([((chunk.long() * col_weights).sum(dim=2) * row_weights).sum(dim=1)
                      for chunk in masks.split(AREA_CHUNK)])


def _best(areas: torch.Tensor, quality: torch.Tensor, config: GroundingConfig
          ) -> torch.Tensor:
    """Pick the masks to keep: area filter, then top-K by quality (stable), on device."""
    keep = torch.nonzero(areas >= max(config.min_mask_area, 1)).flatten()
    order = torch.sort(quality[keep], descending=True, stable=True).indices
    return keep[order[:config.max_proposals]]


def select_masks(masks: list[np.ndarray], quality: list[float], config: GroundingConfig,
                 shape: tuple[int, int]) -> np.ndarray:
    """Drop masks under min_mask_area (and empty ones), keep the max_proposals best."""
    min_area = max(config.min_mask_area, 1)
    kept = [(q, m) for q, m in zip(quality, masks) if int(m.sum()) >= min_area]
    kept.sort(key=lambda item: -item[0])
    kept = kept[:config.max_proposals]
    if not kept:
        return np.zeros((0, *shape), dtype=bool)
    return np.stack([m.astype(bool) for _, m in kept])

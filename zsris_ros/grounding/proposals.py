"""Class-agnostic mask proposals from Segment Anything's automatic mask generator."""

import numpy as np
import torch
from segment_anything import SamAutomaticMaskGenerator
from segment_anything.modeling import Sam

from .config import GroundingConfig


class SamProposer:
    """Proposes binary masks for every object-like region of a frame."""

    def __init__(self, sam: Sam) -> None:
        self.sam = sam

    @torch.inference_mode()
    def propose(self, image_rgb: np.ndarray, config: GroundingConfig) -> np.ndarray:
        """(N, H, W) bool masks, best predicted IoU first, filtered by area and count."""
        generator = SamAutomaticMaskGenerator(
            self.sam,
            points_per_side=config.points_per_side,
            points_per_batch=config.points_per_batch,
            pred_iou_thresh=config.pred_iou_thresh,
            stability_score_thresh=config.stability_score_thresh,
            box_nms_thresh=config.box_nms_thresh,
            output_mode='binary_mask',
        )
        records = generator.generate(image_rgb)
        return select_masks([r['segmentation'] for r in records],
                            [r['predicted_iou'] for r in records], config, image_rgb.shape[:2])


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

"""
Weight-free mask proposals from Felzenszwalb's graph segmentation (scikit-image).

Where no SAM checkpoint is at hand (the toy world, CI) this proposer still feeds the real
grounding code with object-shaped regions: on uniform-coloured objects over a textured table
the segments are the objects, plus table fragments that the grounding has to reject.
"""

import numpy as np
from skimage.segmentation import felzenszwalb

from .config import GroundingConfig
from .proposals import select_masks

#: A segment this large, or touching this many image borders, is the table, not an object.
MAX_OBJECT_FRACTION = 0.4
BACKGROUND_BORDERS = 3


class FelzenszwalbProposer:
    """Proposes every non-background segment of a frame, largest first."""

    def propose(self, image_rgb: np.ndarray, config: GroundingConfig) -> np.ndarray:
        """(N, H, W) bool masks, filtered by area and count like SamProposer.propose."""
        labels = felzenszwalb(image_rgb, scale=config.felz_scale, sigma=config.felz_sigma,
                              min_size=config.felz_min_size)
        masks = [labels == label for label in range(int(labels.max()) + 1)]
        masks = [mask for mask in masks if not is_background(mask)]
        return select_masks(masks, [float(mask.sum()) for mask in masks], config,
                            image_rgb.shape[:2])


def is_background(mask: np.ndarray) -> bool:
    """Tell the table: a segment spanning most of the frame or reaching three borders."""
    borders = (mask[0].any(), mask[-1].any(), mask[:, 0].any(), mask[:, -1].any())
    return sum(borders) >= BACKGROUND_BORDERS or mask.mean() > MAX_OBJECT_FRACTION

"""
Weight-free mask proposals from Felzenszwalb's graph segmentation (scikit-image).

Where no SAM checkpoint is at hand (the toy world, CI) this proposer still feeds the real
grounding code with object-shaped regions: on uniform-coloured objects over a textured table
the segments are the objects, plus table fragments that the grounding has to reject.
"""

import numpy as np
from skimage.segmentation import felzenszwalb

from .config import GroundingConfig
from .proposals import downscaled, upsampled

#: A segment this large, or touching this many image borders, is the table, not an object.
MAX_OBJECT_FRACTION = 0.4
BACKGROUND_BORDERS = 3


class FelzenszwalbProposer:
    """Proposes every non-background segment of a frame, largest first."""

    def propose(self, image_rgb: np.ndarray, config: GroundingConfig,
                timings: dict[str, float] | None = None) -> np.ndarray:
        """
        (N, H, W) bool masks, filtered by area and count like SamProposer.propose.

        Segments on the frame shrunk to proposal_max_side, like SAM; the label image is
        upsampled, so each kept mask is its shrunk segment upsampled to the frame.
        """
        labels = felzenszwalb(downscaled(image_rgb, config.proposal_max_side),
                              scale=config.felz_scale, sigma=config.felz_sigma,
                              min_size=config.felz_min_size)
        return object_masks(upsampled(labels, image_rgb.shape[:2]), config)


def object_masks(labels: np.ndarray, config: GroundingConfig) -> np.ndarray:
    """
    Masks of the largest non-background segments of a label image, largest first.

    Works on per-label counts, so only the kept max_proposals masks are ever built.
    """
    areas = np.bincount(labels.ravel())
    edges = (labels[0], labels[-1], labels[:, 0], labels[:, -1])
    borders = sum(np.bincount(np.unique(edge), minlength=len(areas)) for edge in edges)
    background = (borders >= BACKGROUND_BORDERS) | (areas / labels.size > MAX_OBJECT_FRACTION)
    candidates = np.flatnonzero(~background & (areas >= max(config.min_mask_area, 1)))
    order = np.argsort(-areas[candidates], kind='stable')[:config.max_proposals]
    return labels[None] == candidates[order][:, None, None]

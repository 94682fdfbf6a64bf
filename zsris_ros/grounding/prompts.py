"""
Where SAM's point prompts go: the stock grid, or one point inside each image segment.

The mask decoder's transformer runs once per prompt and dominates SAM's cost after the image
encoder (measured at full size on CPU: 9.4 s of transformer and 2.3 s of upscaling per 64
prompts). A 32x32 grid asks 1024 times, mostly about the same few objects; a point inside
each Felzenszwalb segment asks about each region once. Fewer prompts is approximate: the
masks differ from the stock generator's, so this is an opt-in setting (`sam_prompts`).
"""

import numpy as np
from scipy import ndimage
from segment_anything.utils.amg import build_point_grid
from skimage.segmentation import felzenszwalb

from .config import GroundingConfig


def prompt_points(image_rgb: np.ndarray, config: GroundingConfig) -> np.ndarray:
    """Return the (N, 2) x, y pixel positions SAM is prompted at, for this frame."""
    height, width = image_rgb.shape[:2]
    if config.sam_prompts == 'grid':
        return build_point_grid(config.points_per_side) * np.array([[width, height]])
    return segment_points(image_rgb, config)


def segment_points(image_rgb: np.ndarray, config: GroundingConfig) -> np.ndarray:
    """
    Return one point deep inside each of the largest segments (at most points_per_side²).

    The point is the segment's pixel farthest from its boundary, so it lies inside even a
    ring-shaped segment, where a centroid would not.
    """
    labels = felzenszwalb(image_rgb, scale=config.felz_scale, sigma=config.felz_sigma,
                          min_size=config.felz_min_size)
    areas = np.bincount(labels.ravel())
    largest = np.argsort(-areas, kind='stable')[:config.points_per_side ** 2]
    largest = largest[areas[largest] > 0]
    inside = ndimage.distance_transform_edt(_interior(labels))
    rows_cols = ndimage.maximum_position(inside, labels, largest)
    return np.array([[col + 0.5, row + 0.5] for row, col in rows_cols], dtype=float)


def _interior(labels: np.ndarray) -> np.ndarray:
    """Mark pixels whose right and lower neighbours are in the same segment."""
    interior = np.ones(labels.shape, dtype=bool)
    interior[:, :-1] &= labels[:, :-1] == labels[:, 1:]
    interior[:-1, :] &= labels[:-1, :] == labels[1:, :]
    interior[:, 1:] &= labels[:, 1:] == labels[:, :-1]
    interior[1:, :] &= labels[1:, :] == labels[:-1, :]
    return interior

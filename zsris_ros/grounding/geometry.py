"""
Mask geometry for manipulation: box, a grasp-friendly centroid, and the 3-D point.

Kept apart from ROS so it can be unit-tested on plain arrays.
"""

import math

import cv2
import numpy as np

DEPTH_EROSION_PX = 3


def mask_bbox(mask: np.ndarray) -> list[int]:
    """[x0, y0, x1, y1] with exclusive max corner, like numpy slices."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return [int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1]


def mask_centroid(mask: np.ndarray) -> list[float]:
    """
    Centre of mass [u, v]; snapped onto the mask when the shape is not convex.

    A planner aims at this pixel, so it must lie on the object: for a ring or an L-shape
    the centre of mass can fall outside, and then the nearest mask pixel is used.
    """
    vs, us = np.nonzero(mask)
    u, v = float(us.mean()), float(vs.mean())
    if mask[int(round(v)), int(round(u))]:
        return [u, v]
    nearest = int(np.argmin((us - u) ** 2 + (vs - v) ** 2))
    return [float(us[nearest]), float(vs[nearest])]


def mask_depth(mask: np.ndarray, depth_m: np.ndarray) -> float | None:
    """
    Median of the valid depths inside the eroded mask (edges mix in the background).

    Falls back to the un-eroded mask for thin objects; None when no depth is valid.
    """
    kernel = np.ones((2 * DEPTH_EROSION_PX + 1,) * 2, np.uint8)
    eroded = cv2.erode(mask.astype(np.uint8), kernel).astype(bool)
    for region in (eroded, mask):
        values = depth_m[region]
        values = values[np.isfinite(values) & (values > 0)]
        if values.size:
            return float(np.median(values))
    return None


def back_project(u: float, v: float, depth_m: float, k: np.ndarray) -> list[float] | None:
    """Pinhole back-projection into the camera optical frame; None for an unusable K."""
    fx, fy, cx, cy = float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2])
    if not all(map(math.isfinite, (fx, fy, cx, cy, depth_m))) or fx == 0 or fy == 0:
        return None
    return [(u - cx) * depth_m / fx, (v - cy) * depth_m / fy, depth_m]

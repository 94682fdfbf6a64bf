"""
Mask geometry for manipulation: box, a grasp-friendly centroid, and the 3-D point.

Kept apart from ROS so it can be unit-tested on plain arrays.
"""

import math

import cv2
import numpy as np

DEPTH_EROSION_PX = 3
#: A focal length under one pixel describes no real camera; such a K is refused.
MIN_FOCAL_PX = 1.0


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
        values = depth_m[region].astype(np.float64)  # float32 overflows near its maximum
        values = values[np.isfinite(values) & (values > 0)]
        if values.size:
            return float(np.median(values))
    return None


def back_project(u: float, v: float, depth_m: float, k: np.ndarray) -> list[float] | None:
    """Pinhole back-projection into the camera optical frame; None for an unusable K."""
    fx, fy, cx, cy = float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2])
    if (not all(map(math.isfinite, (fx, fy, cx, cy, depth_m)))
            or min(abs(fx), abs(fy)) < MIN_FOCAL_PX):
        return None
    point = [(u - cx) * depth_m / fx, (v - cy) * depth_m / fy, depth_m]
    return point if all(map(math.isfinite, point)) else None


#: Why a result has no 3-D point when a frame's depth or camera_info never came.
NO_DEPTH_FRAME = 'no depth frame within depth_tolerance of the image'
NO_CAMERA_INFO = 'no camera_info received'


def target_point(mask: np.ndarray, centroid: list[float], depth_m: np.ndarray | None,
                 k: np.ndarray | None) -> tuple[list[float] | None, str]:
    """
    Find the 3-D point a planner should aim at, or the reason there is none.

    The depth frame must be aligned with the colour frame the mask came from; the point is
    the mask centroid back-projected at the mask's median depth.
    """
    if depth_m is None:
        return None, NO_DEPTH_FRAME
    if k is None:
        return None, NO_CAMERA_INFO
    if depth_m.shape != mask.shape:
        return None, (f'depth {depth_m.shape[1]}x{depth_m.shape[0]} does not match image '
                      f'{mask.shape[1]}x{mask.shape[0]}')
    z = mask_depth(mask, depth_m)
    if z is None:
        return None, 'no valid depth inside the mask'
    point = back_project(*centroid, z, k)
    if point is None:
        return None, ('camera_info K is not usable (focal length not finite or under '
                      f'{MIN_FOCAL_PX:g} px)')
    return point, 'ok'

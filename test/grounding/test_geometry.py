"""Mask geometry against values worked out by hand."""

import numpy as np
import pytest

from zsris_ros.grounding.geometry import (back_project, mask_bbox, mask_centroid,
                                          mask_depth, target_point)


def test_bbox_and_centroid_of_a_rectangle():
    mask = np.zeros((10, 20), bool)
    mask[2:6, 4:10] = True
    assert mask_bbox(mask) == [4, 2, 10, 6]
    assert mask_centroid(mask) == pytest.approx([6.5, 3.5])


def test_centroid_of_a_ring_is_snapped_onto_the_mask():
    mask = np.zeros((21, 21), bool)
    mask[2:19, 2:19] = True
    mask[5:16, 5:16] = False
    u, v = mask_centroid(mask)
    assert mask[int(round(v)), int(round(u))]


def test_depth_is_the_median_inside_the_eroded_mask():
    depth = np.full((40, 40), 2.0, np.float32)
    mask = np.zeros((40, 40), bool)
    mask[10:30, 10:30] = True
    depth[10:30, 10] = 9.0      # the mask's edge sees the background: erosion ignores it
    depth[20, 20] = np.nan      # invalid pixels are skipped
    assert mask_depth(mask, depth) == pytest.approx(2.0)


def test_thin_mask_falls_back_to_its_own_pixels_and_no_depth_is_none():
    depth = np.full((10, 10), 1.5, np.float32)
    thin = np.zeros((10, 10), bool)
    thin[5, 2:8] = True
    assert mask_depth(thin, depth) == pytest.approx(1.5)
    assert mask_depth(thin, np.full((10, 10), np.nan, np.float32)) is None


def test_back_projection_with_a_known_camera():
    k = np.array([[300.0, 0, 160], [0, 310.0, 120], [0, 0, 1]])
    assert back_project(460.0, 120.0, 2.0, k) == pytest.approx([2.0, 0.0, 2.0])
    assert back_project(160.0, 430.0, 1.0, k) == pytest.approx([0.0, 1.0, 1.0])
    assert back_project(1.0, 1.0, 1.0, np.zeros((3, 3))) is None


K = np.array([[300.0, 0, 20], [0, 300.0, 20], [0, 0, 1]])


def _square() -> np.ndarray:
    mask = np.zeros((40, 40), bool)
    mask[10:31, 10:31] = True
    return mask


def test_target_point_is_the_centroid_at_the_median_depth():
    mask = _square()
    point, reason = target_point(mask, mask_centroid(mask), np.full((40, 40), 3.0), K)
    assert reason == 'ok'
    assert point == pytest.approx([0.0, 0.0, 3.0])


@pytest.mark.parametrize('depth, k, reason', [
    (None, K, 'no depth frame'),
    (np.full((40, 40), 1.0), None, 'no camera_info'),
    (np.full((30, 40), 1.0), K, 'does not match image'),
    (np.full((40, 40), np.nan), K, 'no valid depth'),
    (np.full((40, 40), 1.0), np.diag([1e-310, 1e-310, 1.0]), 'not usable'),
    (np.full((40, 40), 1.0), np.diag([np.inf, 300.0, 1.0]), 'not usable'),
])
def test_target_point_says_why_there_is_none(depth, k, reason):
    mask = _square()
    point, why = target_point(mask, mask_centroid(mask), depth, k)
    assert point is None and reason in why


def test_depth_near_the_float32_maximum_does_not_overflow_the_median():
    depth = np.full((40, 40), 3e38, np.float32)
    assert mask_depth(_square(), depth) == pytest.approx(3e38, rel=1e-6)

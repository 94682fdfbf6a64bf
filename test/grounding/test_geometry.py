"""Mask geometry against values worked out by hand."""

import numpy as np
import pytest

from zsris_ros.grounding.geometry import back_project, mask_bbox, mask_centroid, mask_depth


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

"""The device-side SAM proposer against segment_anything's stock generator."""

import numpy as np
import pytest
import torch

from zsris_ros.grounding import GroundingConfig
from zsris_ros.grounding.models import load_sam
from zsris_ros.grounding.proposals import SamProposer, StockSamProposer
from zsris_ros.image_io import read_rgb


@pytest.fixture(scope='module')
def sam(tiny_config):
    return load_sam(tiny_config, torch.device('cpu'))


@pytest.mark.parametrize('settings', [
    {},
    {'points_per_side': 5, 'points_per_batch': 7, 'box_nms_thresh': 0.9, 'max_proposals': 3},
    {'pred_iou_thresh': 0.05, 'stability_score_thresh': 0.3, 'box_nms_thresh': 0.99},
    {'min_mask_area': 10**7},
])
def test_fast_proposals_equal_the_stock_generator(sam, sample_image, settings):
    config = GroundingConfig(preset='tiny', device='cpu', **settings)
    image = read_rgb(str(sample_image))[:120, :200]
    fast = SamProposer(sam).propose(image, config)
    stock = StockSamProposer(sam).propose(image, config)
    assert fast.shape == stock.shape and fast.dtype == stock.dtype == bool
    assert np.array_equal(fast, stock)


def test_proposing_on_a_smaller_frame_returns_full_size_masks(sam, sample_image):
    image = read_rgb(str(sample_image))
    config = GroundingConfig(preset='tiny', device='cpu', proposal_max_side=160)
    masks = SamProposer(sam).propose(image, config)
    assert masks.shape[1:] == image.shape[:2] and len(masks) > 0
    full = SamProposer(sam).propose(image, GroundingConfig(preset='tiny', device='cpu'))
    overlaps = [(m & f).sum() / (m | f).sum() for m, f in zip(masks, full)]
    assert np.mean(overlaps) > 0.5, 'the shrunk frame proposes roughly the same regions'

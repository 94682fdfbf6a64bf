"""
The proposers: SAM against segment_anything's stock generator, both on shrunk frames.

The device-side SAM proposer must equal the stock generator; both proposers must honour
proposal_max_side by proposing on the shrunk frame and upsampling the kept masks.
"""

import numpy as np
import pytest
import torch

from zsris_ros.grounding import GroundingConfig
from zsris_ros.grounding.felzenszwalb import FelzenszwalbProposer
from zsris_ros.grounding.models import load_sam
from zsris_ros.grounding.proposals import (SamProposer, source_indices, StockSamProposer,
                                           upsampled)
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


def doubled(array: np.ndarray) -> np.ndarray:
    """Repeat each pixel of an image 2x2."""
    return array.repeat(2, axis=0).repeat(2, axis=1)


@pytest.mark.parametrize('preset', ['tiny', 'toy'])
def test_a_frame_shrunk_exactly_proposes_the_small_frames_masks_upsampled(
        sam, sample_image, preset):
    """
    A 2x2-repeated frame shrunk back by proposal_max_side is the original frame exactly.

    So each proposer must return the original's masks, each pixel repeated 2x2, with the area
    filter applied to the upsampled areas (4x). Proposing on the big frame instead (the
    Felzenszwalb proposer once ignored proposal_max_side) segments differently.
    """
    image = read_rgb(str(sample_image))
    small = GroundingConfig(preset=preset, device='cpu', min_mask_area=300)
    big = small.model_copy(update={'min_mask_area': 4 * 300,
                                   'proposal_max_side': max(image.shape[:2])})
    proposer = SamProposer(sam) if preset == 'tiny' else FelzenszwalbProposer()
    expected = proposer.propose(image, small)
    masks = proposer.propose(doubled(image), big)
    assert len(expected) > 0
    assert masks.shape == (len(expected), *doubled(image).shape[:2]) and masks.dtype == bool
    assert np.array_equal(masks, expected.repeat(2, axis=1).repeat(2, axis=2))


def test_upsampling_maps_pixel_centres_onto_the_nearest_source_pixel():
    assert source_indices(2, 4).tolist() == [0, 0, 1, 1]
    assert source_indices(3, 4).tolist() == [0, 1, 1, 2]
    assert source_indices(4, 4).tolist() == [0, 1, 2, 3]
    labels = np.arange(6).reshape(2, 3)
    assert np.array_equal(upsampled(labels, (4, 6)), doubled(labels))
    assert upsampled(labels, (2, 3)) is labels


def test_segment_prompts_sit_inside_their_segments_and_cost_fewer_prompts(sam, sample_image):
    from skimage.segmentation import felzenszwalb

    from zsris_ros.grounding.prompts import prompt_points

    image = read_rgb(str(sample_image))
    grid_config = GroundingConfig(preset='tiny', device='cpu', points_per_side=16)
    config = grid_config.model_copy(update={'sam_prompts': 'segments'})
    points = prompt_points(image, config)
    labels = felzenszwalb(image, scale=config.felz_scale, sigma=config.felz_sigma,
                          min_size=config.felz_min_size)
    assert 0 < len(points) < len(prompt_points(image, grid_config))
    hit = {labels[int(y), int(x)] for x, y in points}
    assert len(hit) == len(points), 'one point per segment, each inside its own'
    masks = SamProposer(sam).propose(image, config)
    assert masks.shape[1:] == image.shape[:2] and len(masks) > 0

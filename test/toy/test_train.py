"""Toy CLIP training: the loss falls, the checkpoint loads, train and test views agree."""

import numpy as np
import open_clip
import pytest
import torch

from zsris_ros.grounding import GroundingConfig
from zsris_ros.grounding.models import load_clip
from zsris_ros.grounding.visual import VisualEncoder
from zsris_ros.toy.scenes import generate_scene
from zsris_ros.toy.train import build_clip, make_batch, MODEL_NAME, PROPOSAL_MIN_IOU, train

MAX_CHECKPOINT_BYTES = 20 * 1024 * 1024


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp('toy') / 'toy_clip.pt'
    losses = train(out, steps=30, log_every=10, scenes_per_step=2, threads=1)
    return out, losses


def test_loss_falls(trained):
    _, losses = trained
    assert len(losses) == 30
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


def test_training_leaves_the_thread_count_alone(tmp_path):
    before = torch.get_num_threads()
    train(tmp_path / 'clip.pt', steps=1, log_every=1, scenes_per_step=1, threads=1)
    assert torch.get_num_threads() == before


def test_checkpoint_loads_through_open_clip(trained):
    out, _ = trained
    assert out.stat().st_size <= MAX_CHECKPOINT_BYTES
    model = open_clip.create_model(MODEL_NAME, pretrained=str(out))
    saved = torch.load(out, map_location='cpu', weights_only=True)
    for name, value in model.state_dict().items():
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, saved[name])


def test_checkpoint_loads_through_the_grounding_config(trained):
    out, _ = trained
    config = GroundingConfig(clip_model=MODEL_NAME, clip_pretrained=str(out), masking_block=2)
    clip = load_clip(config, torch.device('cpu'))
    assert clip.image_size == 64 and clip.depth == 4


@torch.inference_mode()
def test_training_views_are_the_grounding_views():
    encoder = VisualEncoder(build_clip(), torch.device('cpu'))
    seeds = range(5, 8)
    batch = make_batch(encoder, np.random.default_rng(0), seeds)
    masks, crops = torch.stack(batch.masks), torch.cat(batch.crops)
    views = encoder.scene_global_features(torch.cat(batch.scenes), masks, batch.counts,
                                          batch.block)
    start = 0
    for seed, count in zip(seeds, batch.counts, strict=True):
        image = encoder.normalize(generate_scene(seed).image)
        mine = slice(start, start + count)
        expected = encoder.global_features(image, masks[mine], batch.block)
        torch.testing.assert_close(views[mine], expected, atol=1e-5, rtol=1e-5)
        expected = torch.cat([encoder.masked_crop(image, mask) for mask in masks[mine]])
        torch.testing.assert_close(crops[mine], expected)
        start += count
    assert start == len(masks)


def test_training_is_reproducible_with_two_threads(tmp_path):
    runs = [tmp_path / 'a.pt', tmp_path / 'b.pt']
    for out in runs:
        train(out, steps=3, log_every=3, scenes_per_step=3, threads=2)
    first, second = (torch.load(out, weights_only=True) for out in runs)
    for name, value in first.items():
        assert torch.equal(value, second[name]), name


def test_every_view_has_a_true_caption():
    batch = make_batch(VisualEncoder(build_clip(), torch.device('cpu')), np.random.default_rng(1),
                       range(20, 24))
    for subject in batch.subjects:
        assert any(claim.fits(subject) for claim in batch.captions.values()), subject


def test_every_true_caption_is_pulled_alike():
    """Two look-alikes a caption fits: the loss wants them equal, not one far ahead."""
    from zsris_ros.toy.train import _positive_nll

    truth = torch.tensor([[True, True, False]])
    weights = torch.ones(1)
    even = _positive_nll(torch.tensor([[5.0, 5.0, 0.0]]), truth, weights)
    lopsided = _positive_nll(torch.tensor([[9.0, 1.0, 0.0]]), truth, weights)
    assert even < lopsided
    assert even == pytest.approx(-torch.log_softmax(torch.tensor([5.0, 5.0, 0.0]), 0)[0].item())


def test_some_objects_are_seen_as_the_proposer_cuts_them():
    """A share of the scenes shows each object by its proposal: same object, other pixels."""
    seeds = range(40, 52)
    batch = make_batch(VisualEncoder(build_clip(), torch.device('cpu')), np.random.default_rng(2),
                       seeds)
    start, proposed = 0, 0
    for seed, count in zip(seeds, batch.counts, strict=True):
        objects = generate_scene(seed).objects
        for obj, mask in zip(objects, batch.masks[start:start + count]):
            drawn = torch.from_numpy(obj.mask)
            iou = (drawn & mask).sum() / (drawn | mask).sum()
            assert iou >= PROPOSAL_MIN_IOU
            proposed += not torch.equal(drawn, mask)
        start += count
    assert proposed > 0

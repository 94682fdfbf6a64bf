"""The batched global-local features against straightforward per-proposal code."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from zsris_ros.grounding.visual import VisualEncoder

SIZE = 64  # the tiny CLIP input size, so a resize is the identity and patches are exact


@pytest.fixture(scope='module')
def encoder(tiny_clip):
    return VisualEncoder(tiny_clip, torch.device('cpu'))


@pytest.fixture(scope='module')
def image():
    return np.random.default_rng(1).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)


@pytest.fixture(scope='module')
def masks():
    rng = np.random.default_rng(2)
    out = np.zeros((5, SIZE, SIZE), dtype=bool)
    out[0, 5:30, 7:40] = True
    out[1, 40:63, 2:20] = True
    out[2] = rng.random((SIZE, SIZE)) > 0.7
    out[3, 10:12, 50:51] = True
    out[4, 20:50, 20:50] = True
    out[4, 30:40, 30:40] = False  # a ring: holes must stay masked
    return torch.from_numpy(out)


def reference_global(clip, image: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """doc/method.md read literally: one proposal, the whole ViT, masking before block >= k."""
    visual = clip.model.visual
    grid = visual.grid_size[0]
    patch = SIZE // grid
    coverage = mask.float().reshape(grid, patch, grid, patch).mean(dim=(1, 3)).flatten()
    x = visual.conv1(image[None]).flatten(2).transpose(1, 2)
    cls = visual.class_embedding.expand(1, 1, -1)
    x = visual.ln_pre(torch.cat([cls, x], dim=1) + visual.positional_embedding)
    for index, block in enumerate(visual.transformer.resblocks):
        if index >= k:
            x = torch.cat([x[:, :1], x[:, 1:] * coverage[None, :, None]], dim=1)
        x = block(x)
    return visual.ln_post(x[:, 0]) @ visual.proj


@torch.inference_mode()
def test_batched_global_features_equal_per_proposal_loop(encoder, tiny_clip, image, masks):
    normalized = encoder.normalize(image)
    for k in (0, 1, 2, 3):
        batched = encoder.global_features(normalized, masks, k)
        looped = torch.cat([reference_global(tiny_clip, normalized, m, k) for m in masks])
        torch.testing.assert_close(batched, looped, atol=1e-5, rtol=1e-5)


@torch.inference_mode()
def test_several_scenes_at_once_equal_one_scene_at_a_time(encoder, image, masks):
    other = np.random.default_rng(4).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    scenes = [encoder.normalize(image), encoder.normalize(other)]
    groups = [masks[:3], masks[2:]]
    batched = encoder.scene_global_features(
        torch.cat([encoder.resize(scene) for scene in scenes]), torch.cat(groups), [3, 3], 2)
    single = torch.cat([encoder.global_features(scene, group, 2)
                        for scene, group in zip(scenes, groups)])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-5)


def test_global_features_pass_gradients_to_every_vision_weight(encoder, tiny_clip, image, masks):
    """The toy trainer learns through this same code: it must stay differentiable."""
    features = encoder.scene_global_features(
        encoder.resize(encoder.normalize(image)), masks, [len(masks)], 2)
    weights = list(tiny_clip.model.visual.parameters())
    gradients = torch.autograd.grad(features.square().sum(), weights, allow_unused=True)
    for gradient in gradients:
        assert gradient is not None and gradient.abs().sum() > 0


@torch.inference_mode()
def test_batched_local_features_equal_per_proposal_crop_and_encode(encoder, tiny_clip, image,
                                                                   masks):
    normalized = encoder.normalize(image)
    batched = encoder.local_features(normalized, masks)
    for index, mask in enumerate(masks.numpy()):
        ys, xs = np.nonzero(mask)
        crop = normalized[:, ys.min():ys.max() + 1, xs.min():xs.max() + 1].clone()
        crop[:, ~torch.from_numpy(mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1])] = 0.0
        crop = F.interpolate(crop[None], size=(SIZE, SIZE), mode='bicubic',
                             align_corners=False, antialias=True)
        single = tiny_clip.model.encode_image(crop)
        torch.testing.assert_close(batched[index:index + 1], single, atol=1e-5, rtol=1e-5)


@torch.inference_mode()
def test_whole_image_proposal_gives_the_unmasked_clip_feature(encoder, tiny_clip):
    image = np.random.default_rng(3).integers(0, 256, (48, 80, 3), dtype=np.uint8)
    normalized = encoder.normalize(image)
    full = torch.ones((1, 48, 80), dtype=torch.bool)
    plain = tiny_clip.model.encode_image(encoder.resize(normalized))
    for k in range(tiny_clip.depth):
        torch.testing.assert_close(encoder.global_features(normalized, full, k), plain,
                                   atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(encoder.local_features(normalized, full), plain,
                               atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(encoder.encode(normalized, full, 0.7, 2), plain,
                               atol=1e-6, rtol=1e-6)


def test_clip_normalisation_paints_the_mean_pixel_as_zero(encoder, tiny_clip):
    mean_pixel = np.array(tiny_clip.mean) * 255.0
    image = np.broadcast_to(mean_pixel.round().astype(np.uint8), (4, 4, 3))
    assert encoder.normalize(image).abs().max() < 0.01


def test_reference_preprocessing_uses_imagenet_statistics(tiny_clip):
    reference = VisualEncoder(tiny_clip, torch.device('cpu'), 'reference')
    white = np.full((2, 2, 3), 255, dtype=np.uint8)
    expected = (1.0 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(reference.normalize(white)[:, 0, 0], expected)

"""SAM's image encoder by rows of queries against segment_anything's own forward."""

from functools import partial

import numpy as np
import pytest
from segment_anything import SamPredictor
from segment_anything.modeling.image_encoder import ImageEncoderViT
import torch

from zsris_ros.grounding.models import build_sam_tiny
from zsris_ros.grounding.sam_encoding import encode_image, RowChunkedPredictor


def small_encoder(use_rel_pos: bool) -> ImageEncoderViT:
    """Build a ViT whose 5x5 token grid leaves a last chunk of one row; random positions."""
    torch.manual_seed(0)
    encoder = ImageEncoderViT(
        img_size=80, patch_size=16, embed_dim=48, depth=3, num_heads=3, mlp_ratio=2,
        out_chans=16, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        use_rel_pos=use_rel_pos, window_size=2, global_attn_indexes=(1, 2)).eval()
    for block in encoder.blocks:
        if use_rel_pos:
            torch.nn.init.normal_(block.attn.rel_pos_h, std=0.5)
            torch.nn.init.normal_(block.attn.rel_pos_w, std=0.5)
    return encoder


@pytest.mark.parametrize('use_rel_pos', [True, False])
def test_row_chunked_encoder_equals_sams_forward(use_rel_pos):
    encoder = small_encoder(use_rel_pos)
    image = torch.randn(2, 3, 80, 80)
    with torch.inference_mode():
        expected = encoder(image)
        chunked = encode_image(encoder, image)
    torch.testing.assert_close(chunked, expected, rtol=1e-5, atol=1e-6)


def test_predictor_sets_the_same_features_as_sams_predictor(sample_image_rgb):
    sam = build_sam_tiny().eval()
    stock, chunked = SamPredictor(sam), RowChunkedPredictor(sam)
    stock.set_image(sample_image_rgb)
    chunked.set_image(sample_image_rgb)
    assert chunked.original_size == stock.original_size
    assert chunked.input_size == stock.input_size
    assert chunked.is_image_set
    torch.testing.assert_close(chunked.features, stock.features, rtol=1e-5, atol=1e-6)


@pytest.fixture
def sample_image_rgb():
    return np.random.default_rng(0).integers(0, 256, (60, 90, 3), dtype=np.uint8)

"""Decoding only the part of SAM's mask grid a frame covers, against the whole grid."""

import pytest
import torch

from zsris_ros.grounding.models import build_sam_tiny
from zsris_ros.grounding.sam_decoding import decode_point_prompts, frame_logits, shared_image


@pytest.fixture(scope='module')
def sam():
    torch.manual_seed(0)
    return build_sam_tiny().eval()


@pytest.mark.parametrize('input_size, original_size', [
    ((192, 256), (240, 320)),   # 4:3 landscape
    ((144, 256), (720, 1280)),  # 16:9
    ((256, 171), (300, 200)),   # portrait
    ((256, 256), (90, 90)),     # square: the whole grid
    ((13, 256), (20, 400)),     # a thin strip
])
def test_covered_grid_gives_sams_frame_logits(sam, input_size, original_size):
    size = sam.image_encoder.img_size
    generator = torch.Generator().manual_seed(2)
    embedding = torch.randn(1, sam.prompt_encoder.embed_dim,
                            *sam.prompt_encoder.image_embedding_size, generator=generator)
    coords = torch.rand(5, 2, generator=generator) * torch.tensor(input_size[::-1])
    with torch.inference_mode():
        shared = shared_image(sam, embedding)
        whole, whole_quality = decode_point_prompts(sam, shared, coords, 0.0, (size, size))
        covered, quality = decode_point_prompts(sam, shared, coords, 0.0, input_size)
        expected = sam.postprocess_masks(whole[:, None], input_size, original_size)[:, 0]
        got = frame_logits(sam, covered, input_size, original_size)
    assert torch.equal(quality, whole_quality)
    assert covered.shape[1] <= whole.shape[1] and covered.shape[2] <= whole.shape[2]
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)

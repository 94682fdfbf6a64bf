"""SAM's two-way transformer with its projections folded onto the tokens, against SAM's own."""

import pytest
from segment_anything.modeling.transformer import TwoWayTransformer
import torch

from zsris_ros.grounding.models import build_sam_tiny
from zsris_ros.grounding.sam_transformer import share_image, two_way_transformer


def random_inputs(channels: int, prompts: int = 3, tokens: int = 5, side: int = 6
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return one image and its positions (1, C, side, side), and each prompt's tokens."""
    generator = torch.Generator().manual_seed(1)
    return (torch.randn(1, channels, side, side, generator=generator),
            torch.randn(1, channels, side, side, generator=generator),
            torch.randn(prompts, tokens, channels, generator=generator))


@pytest.mark.parametrize('transformer', [
    build_sam_tiny().mask_decoder.transformer,
    TwoWayTransformer(depth=3, embedding_dim=32, num_heads=4, mlp_dim=48,
                      attention_downsample_rate=2),
], ids=['tiny-sam', 'three-blocks'])
def test_folded_transformer_equals_sams(transformer):
    torch.manual_seed(0)
    for parameter in transformer.parameters():
        torch.nn.init.normal_(parameter, std=0.3)
    image, positions, tokens = random_inputs(transformer.embedding_dim)
    with torch.inference_mode():
        expected_tokens, expected_image = transformer(image, positions, tokens)
        got_tokens, got_image = two_way_transformer(
            transformer, share_image(transformer, image, positions), tokens)
    assert got_image.shape == expected_image.shape
    torch.testing.assert_close(got_tokens, expected_tokens, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got_image, expected_image, rtol=1e-4, atol=1e-5)


def test_folded_transformer_runs_under_bf16_autocast():
    transformer = build_sam_tiny().mask_decoder.transformer
    image, positions, tokens = random_inputs(transformer.embedding_dim)
    with torch.inference_mode(), torch.autocast('cpu', dtype=torch.bfloat16):
        expected_tokens, _ = transformer(image, positions, tokens)
        got_tokens, _ = two_way_transformer(
            transformer, share_image(transformer, image, positions), tokens)
    torch.testing.assert_close(got_tokens.float(), expected_tokens.float(), rtol=0.05,
                               atol=0.05)

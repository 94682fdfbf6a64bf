"""
SAM's image encoder with its global attention taken a few rows of queries at a time on a CPU.

Each global-attention block of SAM's ViT builds one attention map over the whole 64x64 token
grid (ViT-B: 12 heads x 4096 x 4096, 805 MB in fp32), then adds the decomposed relative
positions and soft-maxes it, each a pass over that much memory. Two token rows of queries at a
time (128 queries, 25 MB) keep the map in the cache: the block's attention 1.4 s -> 0.7 s on
a 2-core CPU. Every query row sees the same operations in the same order as in SAM's
`Attention.forward`, so the embedding equals SAM's (test_sam_encoding.py). A GPU takes the
whole map at once.
"""

from segment_anything import SamPredictor
from segment_anything.modeling.image_encoder import (Attention, Block, get_rel_pos,
                                                     ImageEncoderViT)
import torch

#: Token rows of queries per chunk of a global attention on a CPU (measured on ViT-B, 2 cores:
#: 0.79 s by 1 row, 0.71 s by 2, 0.96 s by 4, 1.48 s all 64 at once).
CPU_QUERY_ROWS = 2


class RowChunkedPredictor(SamPredictor):
    """A SamPredictor whose image encoder runs its global attention by rows of queries."""

    @torch.no_grad()
    def set_torch_image(self, transformed_image: torch.Tensor,
                        original_image_size: tuple[int, ...]) -> None:
        """Embed the image as SamPredictor does; a compiled encoder runs as compiled."""
        encoder = self.model.image_encoder
        if not isinstance(encoder, ImageEncoderViT):
            super().set_torch_image(transformed_image, original_image_size)
            return
        self.reset_image()
        self.original_size = original_image_size
        self.input_size = tuple(transformed_image.shape[-2:])
        self.features = encode_image(encoder, self.model.preprocess(transformed_image))
        self.is_image_set = True


def encode_image(encoder: ImageEncoderViT, image: torch.Tensor) -> torch.Tensor:
    """Return ImageEncoderViT's embedding of a preprocessed (B, 3, S, S) image."""
    x = encoder.patch_embed(image)
    if encoder.pos_embed is not None:
        x = x + encoder.pos_embed
    for block in encoder.blocks:
        x = block(x) if block.window_size > 0 else _global_block(block, x)
    return encoder.neck(x.permute(0, 3, 1, 2))


def _global_block(block: Block, x: torch.Tensor) -> torch.Tensor:
    x = x + _row_chunked_attention(block.attn, block.norm1(x))
    return x + block.mlp(block.norm2(x))


def _row_chunked_attention(attention: Attention, x: torch.Tensor) -> torch.Tensor:
    batch, height, width, _ = x.shape
    heads = attention.num_heads
    qkv = attention.qkv(x).reshape(batch, height * width, 3, heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.reshape(3, batch * heads, height * width, -1).unbind(0)
    relative = _relative_positions(attention, q, height, width)
    rows = CPU_QUERY_ROWS if x.device.type == 'cpu' else height
    keys = k.transpose(-2, -1)
    outputs = []
    for top in range(0, height, rows):
        count = min(rows, height - top)
        attn = (q[:, top * width:(top + count) * width] * attention.scale) @ keys
        if relative is not None:
            rel_h, rel_w = relative
            grid = attn.view(len(q), count, width, height, width)
            grid.add_(rel_h[:, top:top + count, :, :, None])
            grid.add_(rel_w[:, top:top + count, :, None, :])
        outputs.append(attn.softmax(dim=-1) @ v)
    x = torch.cat(outputs, dim=1).view(batch, heads, height, width, -1)
    return attention.proj(x.permute(0, 2, 3, 1, 4).reshape(batch, height, width, -1))


def _relative_positions(attention: Attention, q: torch.Tensor, height: int, width: int
                        ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Return the decomposed relative-position terms by (query row, query column, key)."""
    if not attention.use_rel_pos:
        return None
    rows = q.reshape(len(q), height, width, -1)
    by_row = get_rel_pos(height, height, attention.rel_pos_h)
    by_column = get_rel_pos(width, width, attention.rel_pos_w)
    return (torch.einsum('bhwc,hkc->bhwk', rows, by_row),
            torch.einsum('bhwc,wkc->bhwk', rows, by_column))

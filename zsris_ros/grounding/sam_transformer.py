"""
SAM's two-way transformer for many point prompts on one image, projections on the small side.

In SAM's decoder a handful of prompt tokens (7 for one point) and the 4096 image tokens attend
to each other. The stock attention projects all 4096 image tokens per prompt (query, key and
value projections, 256 -> 128 channels each) and projects the attended result back per image
token. Matrix products associate, so each projection can be moved onto the tokens' side:

- tokens attending to the image: the scores q (W_k x)^T are (q W_k) x^T, the key bias is the
  same for every image token and cancels in the soft-max, and since the weights sum to one the
  value projection applies after pooling, (a x) W_v^T + b_v;
- the image attending to the tokens: the scores (W_q x) k^T are x (W_q^T k^T) plus a bias per
  token, and the output projection folds into the tokens' values, a (v W_o^T) + b_o.

Per prompt this takes SAM ViT-B's decoder from about 940 to about 420 MFLOP, with the image
read in 256-channel products only. While every prompt still shares the image (the first
block), its projections run once per frame (`SharedImage`) and every prompt's tokens attend
to them in one product per head. The result equals SAM's up to float rounding
(test_sam_transformer.py).
"""

from dataclasses import dataclass
import math

from segment_anything.modeling.transformer import (Attention, TwoWayAttentionBlock,
                                                   TwoWayTransformer)
import torch


@dataclass
class SharedImage:
    """
    The image side of the first block, the same for every point prompt: projected once.

    Its keys, values and queries are the first block's projections (`share_image`), so its
    methods take that block's attentions.
    """

    image: torch.Tensor  #: (1, N, C)
    positions: torch.Tensor  #: (1, N, C)
    key: torch.Tensor  #: tokens-to-image keys by head, (heads, N, D)
    value: torch.Tensor  #: tokens-to-image values by head, (heads, N, D)
    query: torch.Tensor  #: image-to-tokens queries by head, (heads, N, D)

    def tokens_to_image(self, attention: Attention, tokens: torch.Tensor) -> torch.Tensor:
        """Attend from (B, T, C) tokens to the image, all prompts in one product per head."""
        batch, count, _ = tokens.shape
        query = _by_head(attention.q_proj(tokens), attention.num_heads)
        query = query.transpose(0, 1).flatten(1, 2)
        scores = query @ self.key.transpose(1, 2) / math.sqrt(query.shape[-1])
        out = (scores.softmax(dim=-1) @ self.value).unflatten(1, (batch, count))
        return attention.out_proj(out.permute(1, 2, 0, 3).flatten(2))

    def image_to_tokens(self, attention: Attention, tokens: torch.Tensor,
                        values: torch.Tensor) -> torch.Tensor:
        """Return each prompt's image plus its attention to its (B, T, C) tokens."""
        batch, count, _ = tokens.shape
        key = _by_head(attention.k_proj(tokens), attention.num_heads)
        scores = key.transpose(0, 1).flatten(1, 2) @ self.query.transpose(1, 2)
        scores = scores.unflatten(1, (batch, count)).transpose(0, 1)
        return _attended_tokens(attention, self.image, scores, values)


@dataclass
class PromptImages:
    """Each prompt's own image, once the tokens have written into it."""

    image: torch.Tensor  #: (B, N, C)
    positioned: torch.Tensor  #: the image plus the positional encoding, (B, N, C)

    def tokens_to_image(self, attention: Attention, tokens: torch.Tensor) -> torch.Tensor:
        """Attend from (B, T, C) tokens to their prompts' images, projections folded in."""
        batch, count, _ = tokens.shape
        heads = attention.num_heads
        query = _by_head(attention.q_proj(tokens), heads)
        head_dim = query.shape[-1]
        key_weight = attention.k_proj.weight.view(heads, head_dim, -1)
        scores = (query @ key_weight).flatten(1, 2) @ self.positioned.transpose(1, 2)
        weights = (scores / math.sqrt(head_dim)).softmax(dim=-1)
        pooled = (weights @ self.image).view(batch, heads, count, -1)
        value_weight = attention.v_proj.weight.view(heads, head_dim, -1)
        values = (pooled @ value_weight.transpose(1, 2)
                  + attention.v_proj.bias.view(heads, 1, -1))
        return attention.out_proj(values.transpose(1, 2).reshape(batch, count, -1))

    def image_to_tokens(self, attention: Attention, tokens: torch.Tensor,
                        values: torch.Tensor) -> torch.Tensor:
        """Return each prompt's image plus its attention to its (B, T, C) tokens."""
        batch, count, channels = tokens.shape
        heads = attention.num_heads
        key = _by_head(attention.k_proj(tokens), heads)
        head_dim = key.shape[-1]
        query_weight = attention.q_proj.weight.view(heads, head_dim, channels)
        bias = key @ attention.q_proj.bias.view(heads, head_dim, 1)
        scores = torch.baddbmm(bias.flatten(1, 2), (key @ query_weight).flatten(1, 2),
                               self.positioned.transpose(1, 2))
        return _attended_tokens(attention, self.image, scores.unflatten(1, (heads, count)),
                                values)


def share_image(transformer: TwoWayTransformer, image: torch.Tensor,
                positions: torch.Tensor) -> SharedImage:
    """Project the (1, C, H, W) image and its positional encoding for the first block."""
    keys = image.flatten(2).transpose(1, 2).contiguous()
    key_pe = positions.flatten(2).transpose(1, 2).contiguous()
    positioned = keys + key_pe
    layer = transformer.layers[0]
    to_image, to_tokens = layer.cross_attn_token_to_image, layer.cross_attn_image_to_token
    return SharedImage(keys, key_pe,
                       _by_head(to_image.k_proj(positioned), to_image.num_heads)[0],
                       _by_head(to_image.v_proj(keys), to_image.num_heads)[0],
                       _by_head(to_tokens.q_proj(positioned), to_tokens.num_heads)[0])


def two_way_transformer(transformer: TwoWayTransformer, shared: SharedImage,
                        tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Return what `transformer(image, positions, tokens)` returns, for a (B, T, C) prompt batch.

    The outputs are the tokens (B, T, C) and each prompt's image (B, N, C).
    """
    image: SharedImage | PromptImages = shared
    queries = tokens
    for layer in transformer.layers:
        queries, keys = _two_way_block(layer, queries, tokens, image)
        image = PromptImages(keys, keys + shared.positions)
    attended = image.tokens_to_image(transformer.final_attn_token_to_image, queries + tokens)
    return transformer.norm_final_attn(queries + attended), image.image


def _two_way_block(layer: TwoWayAttentionBlock, queries: torch.Tensor,
                   query_pe: torch.Tensor, image: SharedImage | PromptImages
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Run TwoWayAttentionBlock.forward with the image attentions of `image`."""
    if layer.skip_first_layer_pe:
        queries = layer.self_attn(q=queries, k=queries, v=queries)
    else:
        positioned_queries = queries + query_pe
        queries = queries + layer.self_attn(q=positioned_queries, k=positioned_queries,
                                            v=queries)
    queries = layer.norm1(queries)
    attended = image.tokens_to_image(layer.cross_attn_token_to_image, queries + query_pe)
    queries = layer.norm2(queries + attended)
    queries = layer.norm3(queries + layer.mlp(queries))
    keys = image.image_to_tokens(layer.cross_attn_image_to_token, queries + query_pe, queries)
    return queries, layer.norm4(keys)


def _attended_tokens(attention: Attention, image: torch.Tensor, scores: torch.Tensor,
                     values: torch.Tensor) -> torch.Tensor:
    """
    Add to the image its attention to the tokens, given the (B, heads, T, N) scores.

    Laid out token by image token, the soft-max over a head's few tokens runs across image
    tokens in vector lanes. The output projection's bias is spread over each head's weights,
    which sum to one, so one batched product adds the residual too.
    """
    heads, head_dim = scores.shape[1], attention.q_proj.out_features // scores.shape[1]
    weights = (scores / math.sqrt(head_dim)).softmax(dim=2)
    out_weight = attention.out_proj.weight.view(-1, heads, head_dim)
    mixed = _by_head(attention.v_proj(values), heads) @ out_weight.permute(1, 2, 0)
    mixed = (mixed + attention.out_proj.bias / heads).flatten(1, 2)
    return torch.baddbmm(image, weights.flatten(1, 2).transpose(1, 2), mixed)


def _by_head(x: torch.Tensor, heads: int) -> torch.Tensor:
    """Split (B, T, heads * D) into (B, heads, T, D)."""
    return x.unflatten(-1, (heads, -1)).transpose(1, 2)

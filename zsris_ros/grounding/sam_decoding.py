"""
SAM's mask decoder for the automatic point grid, paying only for masks that can survive.

The stock automatic generator decodes every prompt to three 256x256 masks through the
decoder's upscaling convolutions, upsamples all of them to the frame and only then drops
those whose predicted IoU is under `pred_iou_thresh`. The predicted IoU comes from the
decoder's transformer, before the upscaling, so a mask that fails it never needs upscaling
or upsampling: the prompts with no surviving mask skip both, and of the others only the
surviving masks are upsampled. The transformer itself runs with its projections on the
prompt tokens' side (sam_transformer.py: the same products, associated otherwise, equal to
SAM's up to float rounding); `test_proposals.py` checks the proposals equal the stock
generator's.
"""

import math

from segment_anything.modeling import Sam
import torch
import torch.nn.functional as F

from .sam_transformer import share_image, SharedImage, two_way_transformer

#: Prompts the decoder's transformer and upscaling take at once on a CPU. Each prompt carries
#: its own 64x64x256 image (4 MB in fp32): a few of them stay in the cache between the
#: transformer's many passes over them, a batch of 64 (256 MB) streams from memory on every
#: pass (ViT-B decoder, 64 prompts, 2 cores: 4.5 s at once, 3.6 s by 16, 3.0 s by 4, 3.4 s
#: one by one; with the folded transformer 0.64 s by 16, 0.60 s by 4 or 8, 0.62 s by 2).
#: A GPU wants them all at once.
CPU_PROMPT_CHUNK = 4


def decode_point_prompts(model: Sam, shared: SharedImage, coords: torch.Tensor,
                         pred_iou_thresh: float, input_size: tuple[int, int]
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Decode one positive point per prompt to the three multimask outputs that survive.

    `shared` is the frame's image for the transformer (`shared_image`, once per frame);
    `coords` (B, 2) are in the model's input frame (after SamPredictor's transform), where
    the frame fills the top-left `input_size`. Returns the low-resolution logits (K, h, w) of
    the part of SAM's 256x256 grid that the frame's pixels read (`frame_logits`) and the
    predicted IoUs (K,) of the masks whose IoU passes the threshold (all of them with a
    threshold of 0), prompt by prompt in order.
    """
    covered = _covered_grid(model, input_size)
    decoded = [_decode_chunk(model, shared, chunk, pred_iou_thresh, covered)
               for chunk in _chunks(coords)]
    return torch.cat([logits for logits, _ in decoded]), torch.cat([q for _, q in decoded])


def frame_logits(model: Sam, low_res: torch.Tensor, input_size: tuple[int, int],
                 original_size: tuple[int, int]) -> torch.Tensor:
    """
    Return Sam.postprocess_masks of (K, h, w) covered-grid logits: (K, H, W) frame logits.

    Upsampled by the same factor as the whole grid (to `img_size`), each input pixel reads the
    same low-resolution logits with the same weights, so the frame's logits are SAM's.
    """
    scale = _input_pixels_per_logit(model)
    upsampled = F.interpolate(low_res[:, None], (scale * low_res.shape[1],
                                                 scale * low_res.shape[2]),
                              mode='bilinear', align_corners=False)
    cropped = upsampled[..., :input_size[0], :input_size[1]]
    return F.interpolate(cropped, original_size, mode='bilinear', align_corners=False)[:, 0]


def _covered_grid(model: Sam, input_size: tuple[int, int]) -> tuple[int, int]:
    """
    Return the embedding rows and columns whose masks the frame's pixels read.

    The frame fills the top-left `input_size` of SAM's square input, the rest is padding
    (a 4:3 frame leaves a quarter of it, 16:9 over two fifths). The upscaling works pixel by
    pixel (two 2x2 stride-2 transposed convolutions, per-pixel norm and activations), so each
    embedding pixel becomes its own 4x4 logits; bilinear upsampling reads, for input row y,
    logit rows floor((y + 0.5) / scale - 0.5) and the one after.
    """
    scale = _input_pixels_per_logit(model)
    covered = []
    for size, grid in zip(input_size, model.prompt_encoder.image_embedding_size):
        logits = min(4 * grid, math.floor((size - 0.5) / scale - 0.5) + 2)
        covered.append(min(grid, -(-logits // 4)))
    return covered[0], covered[1]


def _input_pixels_per_logit(model: Sam) -> int:
    return model.image_encoder.img_size // (4 * model.prompt_encoder.image_embedding_size[0])


def _chunks(coords: torch.Tensor) -> tuple[torch.Tensor, ...]:
    if coords.device.type != 'cpu' or not len(coords):
        return (coords,)
    return coords.split(CPU_PROMPT_CHUNK)


def _decode_chunk(model: Sam, shared: SharedImage, coords: torch.Tensor,
                  pred_iou_thresh: float, covered: tuple[int, int]
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    token_out, image_out = _transformer(model, shared, coords)
    quality = _multimask_ious(model, token_out)
    survives = quality > pred_iou_thresh if pred_iou_thresh > 0.0 else torch.ones_like(
        quality, dtype=torch.bool)
    prompts = survives.any(dim=1)
    logits = _upscaled_masks(model.mask_decoder, token_out[prompts], image_out[prompts],
                             model.prompt_encoder.image_embedding_size, covered)
    return logits[survives[prompts]], quality[survives]


def predicted_ious(model: Sam, shared: SharedImage, coords: torch.Tensor) -> torch.Tensor:
    """Return the (B, 3) predicted IoUs of the prompts' multimask outputs, decoding no mask."""
    return torch.cat([_multimask_ious(model, _transformer(model, shared, chunk)[0])
                      for chunk in _chunks(coords)])


def shared_image(model: Sam, image_embedding: torch.Tensor) -> SharedImage:
    """
    Project the image for the transformer's first block, once per frame for every prompt.

    Point prompts carry no mask, so the dense prompt embedding is the same for every prompt
    and so is the image the transformer starts from; it becomes per prompt where the tokens
    first write into it.
    """
    dense = model.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
    return share_image(model.mask_decoder.transformer, image_embedding + dense,
                       model.prompt_encoder.get_dense_pe())


def _transformer(model: Sam, shared: SharedImage, coords: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the decoder's two-way transformer on one point per prompt."""
    decoder = model.mask_decoder
    labels = torch.ones((len(coords), 1), dtype=torch.int, device=coords.device)
    sparse, _ = model.prompt_encoder(points=(coords[:, None, :], labels), boxes=None,
                                     masks=None)
    tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight])
    tokens = torch.cat([tokens.expand(len(coords), -1, -1), sparse], dim=1)
    return two_way_transformer(decoder.transformer, shared, tokens)


def _multimask_ious(model: Sam, token_out: torch.Tensor) -> torch.Tensor:
    """
    Read the predicted IoUs of the three multimask outputs off the transformer's tokens.

    Token 0 predicts the IoUs; tokens 2.. are the three multimask outputs (1 is the single
    mask output, which the automatic grid does not use).
    """
    return model.mask_decoder.iou_prediction_head(token_out[:, 0])[:, 1:]


def _upscaled_masks(decoder: torch.nn.Module, token_out: torch.Tensor,
                    image_out: torch.Tensor, size: tuple[int, int],
                    covered: tuple[int, int]) -> torch.Tensor:
    """Return the (P, 3, 4h, 4w) multimask logits of the prompts, h x w covered pixels."""
    rows, cols = covered
    if not len(token_out):
        return token_out.new_zeros((0, 3, 4 * rows, 4 * cols))
    image_out = image_out.transpose(1, 2).reshape(len(token_out), -1, *size)
    upscaled = decoder.output_upscaling(image_out[..., :rows, :cols])
    hyper = torch.stack([decoder.output_hypernetworks_mlps[i](token_out[:, 1 + i])
                         for i in range(1, decoder.num_mask_tokens)], dim=1)
    flat = upscaled.flatten(2)
    return (hyper @ flat).view(len(token_out), -1, *upscaled.shape[2:])

"""
Global-Local visual features: one CLIP feature per mask proposal (doc/method.md, "Visual side").

Global context masks the patch tokens of the last ViT blocks with each proposal, so the
class token sees the object inside its whole scene; local context encodes the masked crop.
"""

from typing import Sequence

import numpy as np
from open_clip.transformer import ResidualAttentionBlock
import torch
import torch.nn.functional as F

from .models import ClipModel

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: The official code paints crop backgrounds with these values *after* normalising.
REFERENCE_FILL = IMAGENET_MEAN
CROP_BATCH = 64


class VisualEncoder:
    """Turns an RGB frame and N binary masks into N mixed global-local features."""

    def __init__(self, clip: ClipModel, device: torch.device,
                 preprocessing: str = 'clip') -> None:
        self.clip = clip
        self.device = device
        self.crop_batch = CROP_BATCH
        reference = preprocessing == 'reference'
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if reference else (clip.mean, clip.std)
        self._mean = torch.tensor(mean, device=device).view(3, 1, 1)
        self._std = torch.tensor(std, device=device).view(3, 1, 1)
        fill = REFERENCE_FILL if reference else (0.0, 0.0, 0.0)
        self._fill = torch.tensor(fill, device=device).view(3, 1, 1)

    def normalize(self, image_rgb: np.ndarray) -> torch.Tensor:
        """HxWx3 uint8 RGB -> normalised 3xHxW float tensor on the device."""
        pixels = torch.from_numpy(np.ascontiguousarray(image_rgb)).to(self.device)
        pixels = pixels.permute(2, 0, 1).float() / 255.0
        return (pixels - self._mean) / self._std

    def resize(self, image: torch.Tensor) -> torch.Tensor:
        """Squash 3xHxW (or Bx3xHxW) to the CLIP input size, ignoring aspect, as the paper."""
        size = self.clip.image_size
        batch = image if image.dim() == 4 else image[None]
        return F.interpolate(batch, size=(size, size), mode='bicubic', align_corners=False,
                             antialias=True)

    def encode(self, image: torch.Tensor, masks: torch.Tensor, v: float,
               masking_block: int) -> torch.Tensor:
        """f_i = v * g_i + (1 - v) * l_i, on raw (un-normalised) features as the paper."""
        return (v * self.global_features(image, masks, masking_block)
                + (1.0 - v) * self.local_features(image, masks))

    def global_features(self, image: torch.Tensor, masks: torch.Tensor,
                        masking_block: int) -> torch.Tensor:
        """Token masking of one frame (3xHxW): one global feature per mask."""
        return self.scene_global_features(self.resize(image), masks, [len(masks)],
                                          masking_block)

    def scene_global_features(self, scenes: torch.Tensor, masks: torch.Tensor,
                              counts: Sequence[int], masking_block: int) -> torch.Tensor:
        """
        Token masking of several resized scenes at once; counts[i] masks lie on scenes[i].

        Blocks before masking_block run once per scene, the rest once per mask. The grounding
        passes one frame; the toy trainer passes many, as one call per frame would leave the
        CPU idle between small matrix products, and needs gradients (so no inference_mode
        here). Each scene's tokens are expanded rather than gathered: a gather's backward
        accumulates in a thread-dependent order and would make training irreproducible.
        """
        visual = self.clip.model.visual
        blocks = visual.transformer.resblocks
        tokens = visual._embeds(scenes)
        for block in blocks[:masking_block]:
            tokens = block(tokens)
        tokens = torch.cat([scene.expand(count, -1, -1)
                            for scene, count in zip(tokens.split(1), counts, strict=True)])
        weights = self.patch_weights(masks)
        for index in range(masking_block, len(blocks)):
            masked = torch.cat([tokens[:, :1], tokens[:, 1:] * weights[..., None]], dim=1)
            tokens = self._block(index, masked)
        return self._projected(tokens)

    def patch_weights(self, masks: torch.Tensor) -> torch.Tensor:
        """Fraction of each ViT patch a mask covers (area interpolation, our deviation)."""
        grid = self.clip.model.visual.grid_size
        coverage = F.adaptive_avg_pool2d(masks[:, None].float(), grid)
        return coverage.flatten(1).to(self.clip.model.visual.proj.dtype)

    def local_features(self, image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Masked crops (background = fill value), squashed to the CLIP size, batch-encoded."""
        crops = torch.cat([self.masked_crop(image, mask) for mask in masks])
        return torch.cat([self._encode_image(batch) for batch in crops.split(self.crop_batch)])

    def _encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Return CLIP's image features (encode_image) of resized, normalised images."""
        visual = self.clip.model.visual
        tokens = visual._embeds(images)
        for index in range(len(visual.transformer.resblocks)):
            tokens = self._block(index, tokens)
        return self._projected(tokens)

    def _projected(self, tokens: torch.Tensor) -> torch.Tensor:
        """Pool the last block's tokens and project them into the joint embedding."""
        visual = self.clip.model.visual
        pooled, _ = visual._pool(tokens)
        return pooled @ visual.proj

    def _block(self, index: int, tokens: torch.Tensor) -> torch.Tensor:
        """
        Run ViT block `index` on (B, L, D) tokens.

        Where CLIP pools its class token, nothing reads the other tokens after the last
        block, so there it computes the class token alone: its attention to every token and
        its MLP (ViT-B/32: a sixth of the block's work).
        """
        visual = self.clip.model.visual
        blocks = visual.transformer.resblocks
        block = blocks[index]
        pools_class_token = visual.pool_type == 'tok' and visual.attn_pool is None
        if (index < len(blocks) - 1 or not pools_class_token
                or not isinstance(block, ResidualAttentionBlock)):
            return block(tokens)
        normed = block.ln_1(tokens)
        attended = block.attn(normed[:, :1], normed, normed, need_weights=False)[0]
        tokens = tokens[:, :1] + block.ls_1(attended)
        return tokens + block.ls_2(block.mlp(block.ln_2(tokens)))

    def masked_crop(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """One proposal's local view: crop to its box, paint the outside, resize."""
        rows = torch.nonzero(mask.any(dim=1)).flatten()
        cols = torch.nonzero(mask.any(dim=0)).flatten()
        y0, y1 = int(rows[0]), int(rows[-1]) + 1
        x0, x1 = int(cols[0]), int(cols[-1]) + 1
        inside = mask[y0:y1, x0:x1]
        crop = torch.where(inside, image[:, y0:y1, x0:x1], self._fill)
        return self.resize(crop)

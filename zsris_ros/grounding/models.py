"""Building and loading the CLIP and SAM networks the pipeline runs."""

from dataclasses import dataclass
from functools import partial
import logging
import os
from pathlib import Path
from typing import Callable

import open_clip
from open_clip.pretrained import get_pretrained_cfg
from open_clip.transformer import VisionTransformer
from segment_anything import sam_model_registry
from segment_anything.modeling import (ImageEncoderViT, MaskDecoder, PromptEncoder, Sam,
                                       TwoWayTransformer)
import torch

from .config import GroundingConfig
from .weights import (clip_checkpoint_path, CLIP_SETTING, fetch_command, sam_checkpoint_path,
                      SAM_SETTING, unusable_checkpoint)

LOGGER = logging.getLogger(__name__)
MODEL_CONFIG_DIR = Path(__file__).with_name('model_configs')
RANDOM_INIT_SEED = 0


class ModelConfigError(ValueError):
    """
    The configured models cannot run this method (e.g. no native ViT to mask tokens in).

    `setting` names the setting to change as the core knows it (e.g. 'clip_model'), or is
    None when no single setting is at fault; front ends show it their own way.
    """

    def __init__(self, message: str, setting: str | None = None) -> None:
        """Keep the setting apart from the message, which names it but no option."""
        super().__init__(message)
        self.setting = setting


@dataclass
class ClipModel:
    """A CLIP network plus what is needed to feed it."""

    model: open_clip.CLIP
    tokenizer: Callable
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def depth(self) -> int:
        """Count the transformer blocks in the vision tower."""
        return len(self.model.visual.transformer.resblocks)


def resolve_device(name: str) -> torch.device:
    """Map 'auto' | 'cpu' | 'cuda' to a device, refusing CUDA where there is none."""
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if name == 'cuda' and not torch.cuda.is_available():
        raise ModelConfigError("device 'cuda' requested but torch sees no CUDA device",
                               'device')
    return torch.device(name)


def build_sam_tiny() -> Sam:
    """Build a SAM with the real architecture shrunk to a few thousand parameters per part."""
    image_size, patch_size, embed_dim = 256, 16, 32
    grid = image_size // patch_size
    return Sam(
        image_encoder=ImageEncoderViT(
            img_size=image_size, patch_size=patch_size, embed_dim=64, depth=2, num_heads=2,
            mlp_ratio=2, out_chans=embed_dim, qkv_bias=True,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=True,
            window_size=4, global_attn_indexes=(1,)),
        prompt_encoder=PromptEncoder(
            embed_dim=embed_dim, image_embedding_size=(grid, grid),
            input_image_size=(image_size, image_size), mask_in_chans=4),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=1, embedding_dim=embed_dim, mlp_dim=64, num_heads=2),
            transformer_dim=embed_dim, iou_head_depth=2, iou_head_hidden_dim=32),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )


#: SAM architectures by name, like segment_anything's own registry plus our tiny one.
SAM_BUILDERS: dict[str, Callable[[], Sam]] = {
    'vit_b': partial(sam_model_registry['vit_b'], checkpoint=None),
    'vit_l': partial(sam_model_registry['vit_l'], checkpoint=None),
    'vit_h': partial(sam_model_registry['vit_h'], checkpoint=None),
    'tiny': build_sam_tiny,
}


def load_sam(config: GroundingConfig, device: torch.device) -> Sam:
    """Build the SAM architecture, then load its weights unless asked for random ones."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        sam = SAM_BUILDERS[config.sam_model]()
    if config.sam_checkpoint != 'none':
        path = sam_checkpoint_path(config.sam_model, config.sam_checkpoint, config.weights_dir,
                                   offline=config.offline, fetch_hint=fetch_command(config))
        LOGGER.info('loading SAM %s weights from %s', config.sam_model, path)
        _load_sam_weights(sam, path, config)
    return sam.eval().to(device)


def _load_sam_weights(sam: Sam, path: Path, config: GroundingConfig) -> None:
    """Load a checkpoint; a bad file or one of another architecture names the setting."""
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch.load fails in many ways on a bad file
        raise unusable_checkpoint('SAM checkpoint', path, SAM_SETTING, error,
                                  cached=config.sam_checkpoint == 'auto') from None
    try:
        sam.load_state_dict(state)
    except (RuntimeError, TypeError) as error:
        raise ModelConfigError(
            f'SAM checkpoint {path} does not fit sam_model {config.sam_model!r} '
            f'({" ".join(str(error).split())[:160]}); set sam_checkpoint to a '
            f'{config.sam_model} checkpoint or sam_model to its architecture',
            SAM_SETTING) from None


def load_clip(config: GroundingConfig, device: torch.device) -> ClipModel:
    """Create the open_clip model by name and load the configured weights."""
    open_clip.add_model_config(MODEL_CONFIG_DIR)
    if config.clip_model not in open_clip.list_models():
        raise ModelConfigError(f'clip_model {config.clip_model!r} is not an open_clip model',
                               'clip_model')
    tag_cfg = get_pretrained_cfg(config.clip_model, config.clip_pretrained) or {}
    weights = _clip_weights(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        try:
            model = open_clip.create_model(
                config.clip_model, pretrained=weights,
                force_quick_gelu=tag_cfg.get('quick_gelu', False), device=device)
        except torch.OutOfMemoryError:
            raise
        except Exception as error:  # noqa: BLE001 - with a known model, only the file fails
            if weights is None:
                raise
            raise unusable_checkpoint(
                f'CLIP checkpoint for {config.clip_model}', weights, CLIP_SETTING, error,
                cached=not os.path.isfile(config.clip_pretrained)) from None
    _check_vision_tower(model.visual, config.masking_block)
    preprocess = model.visual.preprocess_cfg
    return ClipModel(
        model=model.eval(), tokenizer=open_clip.get_tokenizer(config.clip_model),
        image_size=_square_size(model.visual.image_size),
        mean=tuple(tag_cfg.get('mean', preprocess['mean'])),
        std=tuple(tag_cfg.get('std', preprocess['std'])))


def _clip_weights(config: GroundingConfig) -> str | None:
    if config.clip_pretrained == 'none':
        return None
    path = clip_checkpoint_path(config.clip_model, config.clip_pretrained, config.weights_dir,
                                offline=config.offline, fetch_hint=fetch_command(config))
    LOGGER.info('loading CLIP %s weights from %s', config.clip_model, path)
    return path


def _square_size(size: int | tuple[int, int]) -> int:
    if isinstance(size, int):
        return size
    if size[0] != size[1]:
        raise ModelConfigError(f'non-square CLIP input {size} is not supported', 'clip_model')
    return size[0]


def _check_vision_tower(visual: torch.nn.Module, masking_block: int) -> None:
    """Token masking needs open_clip's own ViT with a class token and no attention pooling."""
    if not isinstance(visual, VisionTransformer):
        raise ModelConfigError(
            f'token masking needs an open_clip native ViT vision tower, got '
            f'{type(visual).__name__}; choose a ViT-* clip_model', 'clip_model')
    if visual.attn_pool is not None or visual.pool_type != 'tok':
        raise ModelConfigError('token masking needs class-token pooling in the vision tower',
                               'clip_model')
    depth = len(visual.transformer.resblocks)
    if masking_block >= depth:
        raise ModelConfigError(
            f'masking_block {masking_block} must be below the vision depth {depth}',
            'masking_block')


def compile_encoders(sam: Sam | None, clip: ClipModel) -> None:
    """
    Compile the image encoders in place with torch.compile.

    Each ViT block is compiled separately, because token masking runs the blocks one by one
    with a batch size that changes per frame.
    """
    if sam is not None:
        sam.image_encoder = torch.compile(sam.image_encoder)
    blocks = clip.model.visual.transformer.resblocks
    for index, block in enumerate(blocks):
        blocks[index] = torch.compile(block, dynamic=True)

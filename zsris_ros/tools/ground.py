"""
`zsris ground`: one image file, one expression, one JSON result (and a mask PNG).

The --out path is checked before any model loads, so a typo costs no model loading; the mask
is written only after the JSON result is printed, so a failed write never loses the answer.
"""

import os
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError
from ..grounding import GroundingConfig, GroundingPipeline, GroundingResult
from ..image_io import ImageConversionError, read_rgb


def check_mask_path(out: str) -> Path:
    """Refuse an --out the mask PNG could not be written to, naming what is wrong."""
    path = Path(out)
    if path.is_dir():
        raise InputError(f'--out {out} is a folder; give the mask file name, e.g. '
                         f'{path / "mask.png"}')
    if path.suffix.lower() != '.png':
        raise InputError(f'--out {out}: the mask is written as PNG; give a name ending in .png')
    folder = next(parent for parent in path.absolute().parents if parent.exists())
    if not folder.is_dir():
        raise InputError(f'--out {out}: {folder} is a file, not a folder')
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f'--out {out}: no permission to write there')
    return path


def ground_image(config: GroundingConfig, image_path: str, text: str) -> GroundingResult:
    """Load the models and ground text on the image file; an unreadable image is an error."""
    try:
        image = read_rgb(image_path, config.max_frame_pixels)
    except ImageConversionError as error:
        return GroundingResult.failure(text, 'error', str(error))
    if image is None:
        return GroundingResult.failure(text, 'error', f'cannot read image {image_path}')
    return GroundingPipeline.from_config(config).ground(image, text)


def write_mask(mask: np.ndarray, path: Path) -> None:
    """Write the mask as an 8-bit PNG, 255 inside, creating missing folders."""
    encoded, png = cv2.imencode('.png', mask.astype(np.uint8) * 255)
    if not encoded:
        raise InputError(f'cannot encode the mask for {path} as PNG')
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png.tobytes())
    except OSError as error:
        raise InputError(f'cannot write the mask to {path}: {error.strerror or error}') from None

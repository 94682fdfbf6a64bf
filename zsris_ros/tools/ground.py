"""`zsris ground`: one image file, one expression, one JSON result (and a mask PNG)."""

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..grounding import GroundingConfig, GroundingPipeline, GroundingResult


def read_rgb(path: str) -> np.ndarray | None:
    """RGB uint8 array of an image file, or None when it cannot be decoded."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def write_mask_png(mask: np.ndarray, path: str) -> None:
    """Mask as an 8-bit PNG, 255 inside, so any image viewer shows it."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(path, mask.astype(np.uint8) * 255)


def ground_image(config: GroundingConfig, image_path: str, text: str,
                 out: str | None = None) -> dict[str, Any]:
    """Load the models, ground text on the image file, optionally save the mask."""
    image = read_rgb(image_path)
    if image is None:
        return GroundingResult(expression=text, message=f'cannot read image {image_path}'
                               ).to_dict()
    result = GroundingPipeline.from_config(config).ground(image, text)
    if out and result.mask is not None:
        write_mask_png(result.mask, out)
    return result.to_dict()

"""`zsris ground`: one image file, one expression, one JSON result (and a mask PNG)."""

from typing import Any

from ..grounding import GroundingConfig, GroundingPipeline, GroundingResult
from ..image_io import read_rgb, write_mask_png


def ground_image(config: GroundingConfig, image_path: str, text: str,
                 out: str | None = None) -> dict[str, Any]:
    """Load the models, ground text on the image file, optionally save the mask."""
    image = read_rgb(image_path)
    if image is None:
        return GroundingResult.failure(text, 'error', f'cannot read image {image_path}'
                                       ).to_dict()
    result = GroundingPipeline.from_config(config).ground(image, text)
    if out and result.mask is not None:
        write_mask_png(result.mask, out)
    return result.to_dict()

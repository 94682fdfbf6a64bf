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
from ..grounding.geometry import target_point
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


def read_depth(path: str) -> np.ndarray:
    """
    Read an aligned depth image in metres: a 16-bit PNG in millimetres or a float .npy.

    Zero and non-finite values mean "no depth", as in the node's 16UC1 and 32FC1 frames.
    """
    if not os.path.isfile(path):
        raise InputError(f'--depth {path}: no such file')
    if path.lower().endswith('.npy'):
        try:
            depth = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise InputError(f'--depth {path}: cannot read it as a .npy array ({error})') from None
        if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.number):
            raise InputError(f'--depth {path}: expected an HxW array of metres, got '
                             f'{depth.dtype} {depth.shape}')
        return depth.astype(np.float32)
    depth = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if depth is None or depth.ndim != 2 or depth.dtype != np.uint16:
        raise InputError(f'--depth {path}: expected a single-channel 16-bit PNG in millimetres '
                         'or a .npy of metres')
    return depth.astype(np.float32) / 1000.0


def ground_image(config: GroundingConfig, image_path: str, text: str,
                 depth_m: np.ndarray | None = None,
                 intrinsics: list[float] | None = None) -> GroundingResult:
    """
    Load the models and ground text on the image file; an unreadable image is an error.

    With an aligned depth image the spatial stage can read depth words, and with the camera's
    intrinsics too the result carries the 3-D target point, as the node's does.
    """
    try:
        image = read_rgb(image_path, config.max_frame_pixels)
    except ImageConversionError as error:
        return GroundingResult.failure(text, 'error', str(error))
    if image is None:
        problem = 'cannot read image' if os.path.isfile(image_path) else 'no such image file'
        return GroundingResult.failure(text, 'error', f'{problem} {image_path}')
    if depth_m is not None and depth_m.shape != image.shape[:2]:
        return GroundingResult.failure(
            text, 'error', f'depth {depth_m.shape[1]}x{depth_m.shape[0]} does not match image '
            f'{image.shape[1]}x{image.shape[0]}')
    pipeline = GroundingPipeline.from_config(config)
    result = pipeline.ground_many(image, [text], depth_m=depth_m)[0]
    if result.mask is not None and (depth_m is not None or intrinsics is not None):
        k = None if intrinsics is None else np.array(
            [[intrinsics[0], 0, intrinsics[2]], [0, intrinsics[1], intrinsics[3]], [0, 0, 1]])
        result.target_point, result.depth_status = target_point(
            result.mask, result.centroid, depth_m, k)
    return result


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

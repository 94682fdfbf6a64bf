"""
Conversion between ROS 2 image messages and numpy arrays, without cv_bridge.

Decoding needs no ROS packages and lives in :mod:`zsris_ros.image_io`, so offline tools read
recorded bags with exactly the node's conversion; it is re-exported here for the node. This
module adds what builds sensor_msgs messages, the one part that needs them.
"""

import copy

import numpy as np
from sensor_msgs.msg import Image

from ..image_io import (check_frame_size, depth_from_image, ImageConversionError,
                        rgb_from_compressed, rgb_from_image)

__all__ = ['bgr8_image', 'check_frame_size', 'depth_from_image', 'ImageConversionError',
           'mono8_image', 'rgb_from_compressed', 'rgb_from_image']


def _image(pixels: np.ndarray, encoding: str, header) -> Image:
    """Wrap an HxW(xC) uint8 array; the header is copied so later edits stay local."""
    height, width = pixels.shape[:2]
    return Image(header=copy.deepcopy(header), height=height, width=width, encoding=encoding,
                 is_bigendian=0, step=int(np.prod(pixels.shape[1:])), data=pixels.tobytes())


def mono8_image(mask: np.ndarray, header) -> Image:
    """Publish a segmentation mask as mono8, 255 inside, so image viewers show it directly."""
    if mask.ndim != 2 or mask.dtype not in (np.bool_, np.uint8):
        raise ImageConversionError(
            f'mask must be HxW bool or uint8, got {mask.dtype} with shape {mask.shape}')
    return _image(np.where(mask, np.uint8(255), np.uint8(0)), 'mono8', header)


def bgr8_image(rgb: np.ndarray, header) -> Image:
    """Publish an RGB overlay as bgr8, the encoding most ROS image tools expect."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ImageConversionError(
            f'image must be HxWx3 uint8 RGB, got {rgb.dtype} with shape {rgb.shape}')
    return _image(rgb[..., ::-1], 'bgr8', header)

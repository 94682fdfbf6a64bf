"""
zsris_ros.image_io without ROS: image files, and image layouts read from plain objects.

The decoders' every encoding is covered on real sensor_msgs messages in
test/ros/test_image_conversion.py; here they read objects that only have the message's field
names, as rosbags' deserialised messages do.
"""

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from zsris_ros.image_io import (depth_from_image, ImageConversionError, read_rgb,
                                rgb_from_compressed, rgb_from_image, write_mask_png)

RGB = np.random.default_rng(5).integers(0, 256, (3, 4, 3), dtype=np.uint8)


def fields(pixels: np.ndarray, encoding: str, padding: int = 0, bigendian: bool = False):
    """Build an object with sensor_msgs/Image's fields, rows padded by `padding` bytes."""
    wire = pixels.astype(pixels.dtype.newbyteorder('>' if bigendian else '<'))
    rows = wire.reshape(pixels.shape[0], -1).view(np.uint8)
    padded = np.pad(rows, ((0, 0), (0, padding)))
    return SimpleNamespace(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding,
                           is_bigendian=int(bigendian), step=padded.shape[1],
                           data=padded.reshape(-1))


def test_raw_layouts_decode_from_any_object_with_the_fields():
    assert np.array_equal(rgb_from_image(fields(RGB, 'rgb8')), RGB)
    assert np.array_equal(rgb_from_image(fields(RGB[..., ::-1], 'bgr8', padding=5)), RGB)
    millimetres = np.array([[0, 1500], [65535, 250]], np.uint16)
    depth = depth_from_image(fields(millimetres, '16UC1', padding=2, bigendian=True))
    assert np.isnan(depth[0, 0])
    assert np.allclose(depth[[0, 1, 1], [1, 0, 1]], [1.5, 65.535, 0.25])


def test_compressed_and_corrupt_messages():
    png = cv2.imencode('.png', cv2.cvtColor(RGB, cv2.COLOR_RGB2BGR))[1].reshape(-1)
    assert np.array_equal(rgb_from_compressed(SimpleNamespace(format='png', data=png)), RGB)
    with pytest.raises(ImageConversionError, match='corrupt png'):
        rgb_from_compressed(SimpleNamespace(format='png', data=png[:20]))
    with pytest.raises(ImageConversionError, match='data too short'):
        rgb_from_image(SimpleNamespace(height=3, width=4, encoding='rgb8', is_bigendian=0,
                                       step=12, data=bytes(35)))


def test_files_round_trip(tmp_path):
    picture = tmp_path / 'picture.png'
    cv2.imwrite(str(picture), cv2.cvtColor(RGB, cv2.COLOR_RGB2BGR))
    assert np.array_equal(read_rgb(str(picture)), RGB)
    assert read_rgb(str(tmp_path / 'missing.png')) is None
    mask = RGB[..., 0] > 128
    write_mask_png(mask, str(tmp_path / 'masks' / 'mask.png'))
    written = cv2.imread(str(tmp_path / 'masks' / 'mask.png'), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint8 and np.array_equal(written, mask * np.uint8(255))

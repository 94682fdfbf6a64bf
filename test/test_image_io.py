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

from zsris_ros import image_io
from zsris_ros.grounding.config import MAX_FRAME_PIXELS
from zsris_ros.image_io import (check_frame_size, depth_from_image, ImageConversionError,
                                read_rgb, rgb_from_compressed, rgb_from_image)

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


@pytest.fixture
def no_decoding(monkeypatch):
    """Make any pixel decoding fail the test: a bound must act on the header alone."""
    def decode(*args, **kwargs):
        raise AssertionError('pixels were decoded')
    monkeypatch.setattr(image_io.cv2, 'imdecode', decode)
    monkeypatch.setattr(image_io.cv2, 'imread', decode)


def encoded(extension: str, height: int, width: int) -> np.ndarray:
    return cv2.imencode(extension, np.zeros((height, width, 3), np.uint8))[1].reshape(-1)


def test_a_png_bomb_is_refused_from_its_header(no_decoding):
    """A 46 KB png that decodes to 4000x4000 (48 MB, then 100 masks of 16 MB) is refused."""
    bomb = SimpleNamespace(format='png', data=encoded('.png', 4000, 4000))
    assert bomb.data.size < 100_000 and 4000 * 4000 > MAX_FRAME_PIXELS
    with pytest.raises(ImageConversionError, match=r'4000x4000 .* max_frame_pixels'):
        rgb_from_compressed(bomb)
    with pytest.raises(ImageConversionError, match='max_frame_pixels'):
        check_frame_size(bomb)


@pytest.mark.parametrize('extension', ['.png', '.jpg'])
def test_compressed_frames_are_bounded_by_their_header_size(extension):
    msg = SimpleNamespace(format=extension[1:], data=encoded(extension, 48, 64))
    assert rgb_from_compressed(msg, max_pixels=48 * 64).shape == (48, 64, 3)
    with pytest.raises(ImageConversionError, match=r'64x48 .* max_frame_pixels 3071'):
        rgb_from_compressed(msg, max_pixels=48 * 64 - 1)


def test_raw_frames_are_bounded_before_their_data_is_read(no_decoding):
    huge = SimpleNamespace(height=100_000, width=100_000, encoding='rgb8', is_bigendian=0,
                           step=300_000, data=bytes(12))
    with pytest.raises(ImageConversionError, match=r'100000x100000 .* max_frame_pixels'):
        rgb_from_image(huge)
    depth = SimpleNamespace(height=3, width=4, encoding='32FC1', is_bigendian=0, step=16,
                            data=bytes(48))
    assert depth_from_image(depth, max_pixels=12).shape == (3, 4)
    with pytest.raises(ImageConversionError, match='max_frame_pixels 11'):
        depth_from_image(depth, max_pixels=11)
    padded = SimpleNamespace(**{**vars(depth), 'height': 1, 'width': 1})
    with pytest.raises(ImageConversionError, match=r'48 bytes is more than 4 bytes x'):
        check_frame_size(padded, max_pixels=11)


def test_image_files_are_bounded_by_their_header_size(tmp_path, no_decoding):
    picture = tmp_path / 'picture.png'
    cv2.imwrite(str(picture), np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(ImageConversionError, match='64x48'):
        read_rgb(str(picture), max_pixels=100)

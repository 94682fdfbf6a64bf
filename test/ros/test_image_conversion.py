"""Tests for zsris_ros.ros.image_conversion, built on real sensor_msgs messages."""

import re
import struct
import zlib

import cv2
from hypothesis import given, settings, strategies as st
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from zsris_ros.ros.image_conversion import (
    bgr8_image, depth_from_image, ImageConversionError, mono8_image, rgb_from_compressed,
    rgb_from_image)

# Bytes per pixel on the wire, written out independently of the module's table.
PIXEL_BYTES = {
    'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1, 'mono16': 2,
    'yuv422': 2, 'yuv422_yuy2': 2, 'bayer_rggb8': 1, 'bayer_bggr8': 1, 'bayer_gbrg8': 1,
    'bayer_grbg8': 1, '16UC1': 2, '32FC1': 4,
}
DEPTH_ENCODINGS = ('16UC1', '32FC1')
COLOUR_ENCODINGS = tuple(e for e in PIXEL_BYTES if e not in DEPTH_ENCODINGS)
BAYER_PATTERNS = {'bayer_rggb8': 'RGGB', 'bayer_bggr8': 'BGGR', 'bayer_gbrg8': 'GBRG',
                  'bayer_grbg8': 'GRBG'}

RNG = np.random.default_rng(1234)
RGB = RNG.integers(0, 256, (4, 6, 3), dtype=np.uint8)
GREY16 = RNG.integers(0, 65536, (4, 6), dtype=np.uint16)
DEPTH_WIRE = {'16UC1': GREY16, '32FC1': (GREY16 / 7).astype(np.float32)}
# Four flat colours that differ in every channel, so a wrong Bayer phase cannot pass.
BLOCKS = np.array([[200, 100, 30], [20, 220, 120], [90, 40, 250], [240, 240, 10]], np.uint8)
BLOCK_RGB = BLOCKS.reshape(2, 2, 3).repeat(8, axis=0).repeat(8, axis=1)
# Pixels at least two away from an edge between blocks, where demosaicing mixes colours.
FLAT = np.ones((16, 16), bool)
FLAT[6:10, :] = FLAT[:, 6:10] = False


def make_image(encoding, pixels, pad=0, is_bigendian=0):
    """Build an Image from HxW(xC) pixels already in wire dtype, adding pad bytes to each row."""
    height, width = pixels.shape[:2]
    rows = np.ascontiguousarray(pixels).view(np.uint8).reshape(height, -1)
    padded = np.concatenate([rows, np.full((height, pad), 0xAB, np.uint8)], axis=1)
    return Image(height=height, width=width, encoding=encoding, is_bigendian=is_bigendian,
                 step=padded.shape[1], data=padded.tobytes())


def to_yuv422(rgb, order):
    """Encode with BT.601 limited range, taking chroma from the left pixel of each pair."""
    r, g, b = (rgb[..., i].astype(float) for i in range(3))
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    wire = np.empty(rgb.shape[:2] + (2,))
    luma, chroma = (1, 0) if order == 'UYVY' else (0, 1)
    wire[..., luma] = y
    wire[:, 0::2, chroma] = u[:, 0::2]
    wire[:, 1::2, chroma] = v[:, 0::2]
    return np.clip(np.round(wire), 0, 255).astype(np.uint8)


def to_bayer(rgb, pattern):
    """Sample one channel per pixel; pattern names the 2x2 tile row by row, as ROS does."""
    mosaic = np.empty(rgb.shape[:2], np.uint8)
    for index, colour in enumerate(pattern):
        dy, dx = divmod(index, 2)
        mosaic[dy::2, dx::2] = rgb[dy::2, dx::2, 'RGB'.index(colour)]
    return mosaic


def colour_case(encoding):
    """Return (wire pixels, expected RGB, tolerance, region compared) for a colour encoding."""
    paired = np.repeat(RGB[:, 0::2], 2, axis=1)
    grey8 = (GREY16 >> 8).astype(np.uint8)
    alpha = np.full(RGB.shape[:2] + (1,), 77, np.uint8)
    everywhere = np.ones(RGB.shape[:2], bool)
    cases = {
        'rgb8': (RGB, RGB, 0, everywhere),
        'bgr8': (RGB[..., ::-1], RGB, 0, everywhere),
        'rgba8': (np.concatenate([RGB, alpha], axis=2), RGB, 0, everywhere),
        'bgra8': (np.concatenate([RGB[..., ::-1], alpha], axis=2), RGB, 0, everywhere),
        'mono8': (grey8, np.stack([grey8] * 3, axis=2), 0, everywhere),
        'mono16': (GREY16.astype('<u2'), np.stack([grey8] * 3, axis=2), 0, everywhere),
        'yuv422': (to_yuv422(paired, 'UYVY'), paired, 2, everywhere),
        'yuv422_yuy2': (to_yuv422(paired, 'YUYV'), paired, 2, everywhere),
    }
    if encoding in BAYER_PATTERNS:
        return to_bayer(BLOCK_RGB, BAYER_PATTERNS[encoding]), BLOCK_RGB, 2, FLAT
    return cases[encoding]


def message_buffer(msg):
    return np.frombuffer(memoryview(msg.data), np.uint8)


@pytest.mark.parametrize('encoding', COLOUR_ENCODINGS)
def test_colour_round_trip(encoding):
    wire, expected, tolerance, region = colour_case(encoding)
    msg = make_image(encoding, wire)
    rgb = rgb_from_image(msg)
    assert rgb.shape == expected.shape and rgb.dtype == np.uint8
    assert rgb.flags.c_contiguous and not np.shares_memory(rgb, message_buffer(msg))
    error = np.abs(rgb.astype(int) - expected)[region]
    assert error.max() <= tolerance


@pytest.mark.parametrize('pattern', sorted(BAYER_PATTERNS))
@pytest.mark.parametrize('encoding', sorted(BAYER_PATTERNS))
def test_bayer_phase_is_not_confused(encoding, pattern):
    rgb = rgb_from_image(make_image(encoding, to_bayer(BLOCK_RGB, BAYER_PATTERNS[pattern])))
    matches = np.abs(rgb.astype(int) - BLOCK_RGB)[FLAT].max() <= 2
    assert matches == (encoding == pattern)


@pytest.mark.parametrize('pad', [1, 2, 3, 7])
@pytest.mark.parametrize('encoding', COLOUR_ENCODINGS)
def test_row_padding_is_skipped_for_colour(encoding, pad):
    wire = colour_case(encoding)[0]
    np.testing.assert_array_equal(rgb_from_image(make_image(encoding, wire, pad)),
                                  rgb_from_image(make_image(encoding, wire)))


@pytest.mark.parametrize('pad', [1, 2, 3, 7])
@pytest.mark.parametrize('encoding', DEPTH_ENCODINGS)
def test_row_padding_is_skipped_for_depth(encoding, pad):
    wire = DEPTH_WIRE[encoding]
    np.testing.assert_array_equal(depth_from_image(make_image(encoding, wire, pad)),
                                  depth_from_image(make_image(encoding, wire)))


@pytest.mark.parametrize('pad', [0, 3])
@pytest.mark.parametrize('encoding, convert', [
    ('mono16', rgb_from_image), ('16UC1', depth_from_image), ('32FC1', depth_from_image)])
def test_big_endian_matches_little_endian(encoding, convert, pad):
    values = DEPTH_WIRE.get(encoding, GREY16)
    little = convert(make_image(encoding, values.astype(values.dtype.newbyteorder('<')), pad))
    big = convert(make_image(encoding, values.astype(values.dtype.newbyteorder('>')), pad,
                             is_bigendian=1))
    np.testing.assert_array_equal(big, little)
    assert np.isfinite(little).any() and len(np.unique(little)) > 2


def test_depth_16uc1_is_millimetres_with_zero_invalid():
    mm = np.array([[0, 1000], [1500, 65535]], np.uint16)
    depth = depth_from_image(make_image('16UC1', mm))
    assert depth.dtype == np.float32 and depth.shape == (2, 2)
    np.testing.assert_allclose(depth, [[np.nan, 1.0], [1.5, 65.535]], rtol=1e-6)


def test_depth_32fc1_marks_non_positive_and_non_finite_invalid():
    metres = np.array([[np.nan, np.inf, -np.inf], [-1.0, 0.0, 2.5]], np.float32)
    msg = make_image('32FC1', metres)
    depth = depth_from_image(msg)
    assert depth.dtype == np.float32 and not np.shares_memory(depth, message_buffer(msg))
    np.testing.assert_array_equal(depth, [[np.nan] * 3, [np.nan, np.nan, 2.5]])


def test_result_does_not_change_when_message_is_reused():
    msg = make_image('rgb8', RGB)
    rgb = rgb_from_image(msg)
    msg.data[0] ^= 0xFF
    np.testing.assert_array_equal(rgb, RGB)


def compressed(data, fmt):
    return CompressedImage(format=fmt, data=bytes(data))


@pytest.mark.parametrize('fmt', ['png', 'PNG', 'bgr8; png compressed bgr8'])
def test_png_decodes_to_exact_rgb(fmt):
    ok, encoded = cv2.imencode('.png', cv2.cvtColor(RGB, cv2.COLOR_RGB2BGR))
    assert ok
    np.testing.assert_array_equal(rgb_from_compressed(compressed(encoded, fmt)), RGB)


@pytest.mark.parametrize('fmt', ['jpeg', 'jpg', 'rgb8; jpeg compressed bgr8'])
def test_jpeg_decodes_to_rgb(fmt):
    ok, encoded = cv2.imencode('.jpg', cv2.cvtColor(BLOCK_RGB, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    rgb = rgb_from_compressed(compressed(encoded, fmt))
    assert rgb.shape == BLOCK_RGB.shape and rgb.dtype == np.uint8
    assert np.abs(rgb.astype(int) - BLOCK_RGB)[FLAT].max() <= 12


def oversized_png():
    """Return a valid PNG whose header claims 100000x100000 pixels: refused unread."""
    png = bytearray(cv2.imencode('.png', RGB)[1].tobytes())
    png[16:24] = struct.pack('>II', 100000, 100000)
    png[29:33] = struct.pack('>I', zlib.crc32(bytes(png[12:29])))
    return bytes(png)


@pytest.mark.parametrize('fmt, data, cause', [
    ('jpeg', b'not a jpeg at all', 'corrupt jpeg data (17 bytes)'),
    ('png', b'', 'corrupt png data (0 bytes)'),
    ('png', oversized_png(), 'png image exceeds max_frame_pixels'),
    ('tiff', b'II*\x00', "unsupported compressed format 'tiff'"),
    ('', b'\xff\xd8', "unsupported compressed format ''"),
    ('16UC1; compressedDepth png', b'\x00' * 16, 'unsupported compressed format'),
])
def test_compressed_errors(fmt, data, cause):
    with pytest.raises(ImageConversionError, match=re.escape(cause)):
        rgb_from_compressed(compressed(data, fmt))


def raw_image(encoding='rgb8', height=2, width=3, step=None, size=None):
    step = width * PIXEL_BYTES.get(encoding, 1) if step is None else step
    size = step * height if size is None else size
    return Image(encoding=encoding, height=height, width=width, step=step, data=bytes(size))


@pytest.mark.parametrize('convert, msg, cause', [
    (rgb_from_image, raw_image('rgb16'), "unknown encoding 'rgb16'"),
    (depth_from_image, raw_image('z16'), "unknown encoding 'z16'"),
    (rgb_from_image, raw_image('16UC1'), 'depth encoding 16UC1 is not a colour image'),
    (rgb_from_image, raw_image('32FC1'), 'depth encoding 32FC1 is not a colour image'),
    (depth_from_image, raw_image('rgb8'), 'colour encoding rgb8 is not a depth image'),
    (rgb_from_image, raw_image(height=0), 'zero size'),
    (depth_from_image, raw_image('16UC1', width=0), 'zero size'),
    (rgb_from_image, raw_image(step=8), 'step 8 is less than width 3 x 3 bytes'),
    (depth_from_image, raw_image('32FC1', step=11), 'step 11 is less than width 3 x 4 bytes'),
    (rgb_from_image, raw_image(size=17), 'expected 18 bytes .* got 17'),
    (depth_from_image, raw_image('16UC1', step=8, size=15), 'expected 16 bytes .* got 15'),
    (rgb_from_image, raw_image('yuv422', width=3), 'yuv422 image width 3 is odd'),
    (rgb_from_image, raw_image('yuv422_yuy2', width=5), 'width 5 is odd'),
])
def test_image_errors_name_the_cause(convert, msg, cause):
    with pytest.raises(ImageConversionError, match=cause) as error:
        convert(msg)
    assert '\n' not in str(error.value)


def test_error_for_multiline_encoding_stays_on_one_line():
    with pytest.raises(ImageConversionError) as error:
        rgb_from_image(raw_image('rgb8\nextra'))
    assert '\n' not in str(error.value) and 'rgb8\\nextra' in str(error.value)


def header():
    msg = Header(frame_id='camera_optical')
    msg.stamp.sec, msg.stamp.nanosec = 12, 345
    return msg


@pytest.mark.parametrize('mask', [
    np.array([[True, False, True], [False, False, True]]),
    np.array([[7, 0, 1], [0, 0, 255]], np.uint8),
])
def test_mono8_image(mask):
    source = header()
    msg = mono8_image(mask, source)
    assert (msg.encoding, msg.height, msg.width, msg.step) == ('mono8', 2, 3, 3)
    assert msg.header == source and msg.header is not source
    assert bytes(msg.data) == bytes([255, 0, 255, 0, 0, 255])


def test_bgr8_image_round_trips_through_rgb_from_image():
    source = header()
    view = RGB[:, ::2]
    msg = bgr8_image(view, source)
    assert (msg.encoding, msg.height, msg.width, msg.step) == ('bgr8', 4, 3, 9)
    assert len(msg.data) == msg.step * msg.height and msg.is_bigendian == 0
    assert msg.header == source and msg.header is not source
    assert bytes(msg.data[:3]) == bytes(view[0, 0, ::-1])
    np.testing.assert_array_equal(rgb_from_image(msg), view)


@pytest.mark.parametrize('build, array', [
    (mono8_image, np.zeros((2, 2), np.float32)),
    (mono8_image, np.zeros((2, 2, 1), bool)),
    (bgr8_image, np.zeros((2, 2, 4), np.uint8)),
    (bgr8_image, np.zeros((2, 2, 3), np.uint16)),
])
def test_output_builders_reject_wrong_arrays(build, array):
    with pytest.raises(ImageConversionError, match='must be HxW'):
        build(array, header())


def expected_success(convert, encoding, height, width, step, size):
    """Say whether a message with this layout is valid for convert, by the documented rules."""
    kind = DEPTH_ENCODINGS if convert is depth_from_image else COLOUR_ENCODINGS
    return (encoding in kind and height > 0 and width > 0
            and step >= width * PIXEL_BYTES[encoding] and size >= step * height
            and not (encoding.startswith('yuv422') and width % 2))


@st.composite
def conversions(draw):
    """Draw (converter, message), mostly well-formed so that both outcomes are exercised."""
    known = draw(st.integers(0, 5)) > 0
    encoding = draw(st.sampled_from(sorted(PIXEL_BYTES)) if known else st.text(max_size=12))
    matching = depth_from_image if encoding in DEPTH_ENCODINGS else rgb_from_image
    convert = draw(st.sampled_from([matching] * 4 + [rgb_from_image, depth_from_image]))
    height, width = draw(st.integers(1, 32)), draw(st.integers(1, 32))
    pixel_bytes = PIXEL_BYTES.get(encoding) or draw(st.integers(1, 8))
    step = max(0, width * pixel_bytes + draw(st.sampled_from([0] * 4 + [1, 3, 8, -1, -3])))
    size = max(0, step * height + draw(st.sampled_from([0] * 8 + [5, -1, -7, -step])))
    data = np.random.default_rng(draw(st.integers(0, 2**32))).bytes(size)
    return convert, Image(encoding=encoding, height=height, width=width, step=step, data=data,
                          is_bigendian=draw(st.integers(0, 1)))


@settings(max_examples=200, deadline=None)
@given(conversion=conversions())
def test_any_image_converts_or_raises_conversion_error(conversion):
    convert, msg = conversion
    layout = (msg.encoding, msg.height, msg.width, msg.step, len(msg.data))
    try:
        result = convert(msg)
    except ImageConversionError as error:
        assert not expected_success(convert, *layout), str(error)
        assert str(error) and '\n' not in str(error)
        return
    assert expected_success(convert, *layout)
    assert result.flags.c_contiguous and not np.shares_memory(result, message_buffer(msg))
    if convert is rgb_from_image:
        assert result.shape == (msg.height, msg.width, 3) and result.dtype == np.uint8
    else:
        assert result.shape == (msg.height, msg.width) and result.dtype == np.float32
        assert not (result <= 0).any() and not np.isinf(result).any()


VALID_PNG = cv2.imencode('.png', RGB)[1].tobytes()
VALID_JPEG = cv2.imencode('.jpg', RGB)[1].tobytes()


@st.composite
def compressed_messages(draw):
    """Draw jpeg/png data cut anywhere, with random trailing bytes and format strings."""
    formats = st.sampled_from(['jpeg', 'png', 'rgb8; jpeg compressed bgr8'])
    fmt = draw(formats | st.text(max_size=12))
    source = draw(st.sampled_from([VALID_PNG, VALID_JPEG, b'']))
    cut = draw(st.integers(0, len(source)))
    noise = draw(st.binary(max_size=32))
    return CompressedImage(format=fmt, data=source[:cut] + noise)


@settings(max_examples=200, deadline=None)
@given(msg=compressed_messages())
def test_any_compressed_image_decodes_or_raises_conversion_error(msg):
    try:
        rgb = rgb_from_compressed(msg)
    except ImageConversionError as error:
        assert str(error) and '\n' not in str(error)
        return
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8

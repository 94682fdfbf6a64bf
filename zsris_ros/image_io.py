"""
Image files and ROS image layouts as numpy arrays, with no ROS packages needed.

The node, the offline evaluation of recorded bags and the tools all decode images here, so a
frame gives the same array live and offline. The decoders are duck-typed: they read the fields
of sensor_msgs/Image and CompressedImage from any object that has them, whether an rclpy
message or a message that the pure-Python `rosbags` deserialised from a bag.

cv_bridge is deliberately not used, even where it is installed: its Python ``imgmsg_to_cv2``
misreads rows whose ``step`` is not a whole number of pixels, fails on big-endian data under
numpy 2 (``ndarray.newbyteorder`` is gone) and scales mono16 by 255/65535 instead of >> 8, so a
second path would not give the same arrays as this one on every machine.

Every problem with a message's content raises :class:`ImageConversionError`, whose text is a
single line meant for the node's log and result topic.

Every decoder first bounds the frame's size (``max_pixels``) from what the message says about
it, before anything is allocated: for raw images height x width, for jpeg and png the size in
the header, which Pillow reads without decoding. A 46 KB png can say 40000 x 40000 pixels.
"""

from io import BytesIO
import os
from typing import Any, Callable, NamedTuple, Protocol

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .grounding.config import MAX_FRAME_PIXELS

#: Bytes of the widest pixel decoded (rgba8, bgra8, 32FC1): a message holding more than this
#: many bytes per allowed pixel is refused unread, so a kept message is bounded too.
MAX_BYTES_PER_PIXEL = 4


class ImageConversionError(ValueError):
    """
    A message that cannot be converted.

    str() is a one-line reason, fit for the node's log and the result topic.
    """


class ImageFields(Protocol):
    """The fields of sensor_msgs/Image that decoding reads."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: Any


class CompressedImageFields(Protocol):
    """The fields of sensor_msgs/CompressedImage that decoding reads."""

    format: str  # noqa: A003 (the message's field name)
    data: Any


class _Format(NamedTuple):
    """How to read one encoding: which image kind it is and how its pixels become our array."""

    kind: str
    channels: int
    dtype: type
    convert: Callable[[np.ndarray], np.ndarray]


def _as_is(pixels: np.ndarray) -> np.ndarray:
    return pixels


def _reverse_channels(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., 2::-1]


def _drop_alpha(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., :3]


def _grey_to_rgb(pixels: np.ndarray) -> np.ndarray:
    return np.repeat(pixels, 3, axis=2)


def _mono16_to_rgb(pixels: np.ndarray) -> np.ndarray:
    """Keep the high byte, as image viewers do, instead of rescaling by the image's own range."""
    return _grey_to_rgb((pixels >> 8).astype(np.uint8))


def _opencv(code: int) -> Callable[[np.ndarray], np.ndarray]:
    """Convert with cv2.cvtColor, which reads row-padded views directly."""
    return lambda pixels: cv2.cvtColor(pixels, code)


def _yuv422(code: int) -> Callable[[np.ndarray], np.ndarray]:
    """Check that pixels pair up, since each U/V sample is shared by two neighbours."""
    def convert(pixels: np.ndarray) -> np.ndarray:
        if pixels.shape[1] % 2:
            raise ImageConversionError(f'yuv422 image width {pixels.shape[1]} is odd')
        return cv2.cvtColor(pixels, code)
    return convert


def _millimetres_to_metres(pixels: np.ndarray) -> np.ndarray:
    return np.divide(pixels[..., 0], 1000, dtype=np.float32)


def _metres(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., 0].astype(np.float32)


# OpenCV names a Bayer code after the 2nd and 3rd pixels of the second row, ROS after the 2x2
# tile read row by row, so ROS bayer_rggb8 is OpenCV BayerBG (cv_bridge maps them the same way);
# the tests mosaic and demosaic a known image to pin this down.
_FORMATS = {
    'rgb8': _Format('colour', 3, np.uint8, _as_is),
    'bgr8': _Format('colour', 3, np.uint8, _reverse_channels),
    'rgba8': _Format('colour', 4, np.uint8, _drop_alpha),
    'bgra8': _Format('colour', 4, np.uint8, _reverse_channels),
    'mono8': _Format('colour', 1, np.uint8, _grey_to_rgb),
    'mono16': _Format('colour', 1, np.uint16, _mono16_to_rgb),
    'yuv422': _Format('colour', 2, np.uint8, _yuv422(cv2.COLOR_YUV2RGB_UYVY)),
    'yuv422_yuy2': _Format('colour', 2, np.uint8, _yuv422(cv2.COLOR_YUV2RGB_YUY2)),
    'bayer_rggb8': _Format('colour', 1, np.uint8, _opencv(cv2.COLOR_BayerBG2RGB)),
    'bayer_bggr8': _Format('colour', 1, np.uint8, _opencv(cv2.COLOR_BayerRG2RGB)),
    'bayer_gbrg8': _Format('colour', 1, np.uint8, _opencv(cv2.COLOR_BayerGR2RGB)),
    'bayer_grbg8': _Format('colour', 1, np.uint8, _opencv(cv2.COLOR_BayerGB2RGB)),
    '16UC1': _Format('depth', 1, np.uint16, _millimetres_to_metres),
    '32FC1': _Format('depth', 1, np.float32, _metres),
}

_SUPPORTED = ', '.join(_FORMATS)
_COMPRESSED_CODECS = ('jpeg', 'jpg', 'png')


def _check_bytes(data: Any, what: str, max_pixels: int) -> None:
    """Refuse a message whose data alone exceeds what max_pixels of any encoding take."""
    size = len(data)
    if size > MAX_BYTES_PER_PIXEL * max_pixels:
        raise ImageConversionError(
            f'{what} data of {size} bytes is more than {MAX_BYTES_PER_PIXEL} bytes x '
            f'max_frame_pixels {max_pixels}')


def _check_pixels(what: str, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageConversionError(
            f'{what} image of {width}x{height} = {width * height} pixels exceeds '
            f'max_frame_pixels {max_pixels}')


def check_image_size(msg: ImageFields, max_pixels: int = MAX_FRAME_PIXELS) -> None:
    """Raise ImageConversionError if a raw image is over max_pixels; reads no pixel."""
    _check_bytes(msg.data, msg.encoding, max_pixels)
    _check_pixels(msg.encoding, msg.width, msg.height, max_pixels)


def compressed_size(msg: CompressedImageFields, max_pixels: int = MAX_FRAME_PIXELS
                    ) -> tuple[int, int]:
    """
    Return (width, height) from the jpeg or png header, without decoding any pixel.

    Raises ImageConversionError for data that is over the bounds, is not jpeg or png, or has
    no readable header (such data would not decode either).
    """
    codec = _codec(msg.format)
    _check_bytes(msg.data, codec, max_pixels)
    try:
        with Image.open(BytesIO(memoryview(msg.data)), formats=('PNG', 'JPEG')) as header:
            width, height = header.size
    except Image.DecompressionBombError as error:
        raise ImageConversionError(f'{codec} image exceeds max_frame_pixels {max_pixels}: '
                                   f'{error}') from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        raise ImageConversionError(
            f'corrupt {codec} data ({len(msg.data)} bytes): no readable size') from None
    _check_pixels(codec, width, height, max_pixels)
    return width, height


def check_frame_size(msg: ImageFields | CompressedImageFields,
                     max_pixels: int = MAX_FRAME_PIXELS) -> None:
    """Bound a raw or compressed image before it is decoded: cheap enough for a callback."""
    if hasattr(msg, 'format'):
        compressed_size(msg, max_pixels)
    else:
        check_image_size(msg, max_pixels)


def _format(encoding: str, kind: str) -> _Format:
    """Look the encoding up, telling an unknown encoding apart from one of the other kind."""
    fmt = _FORMATS.get(encoding)
    if fmt is None:
        raise ImageConversionError(
            f'unknown encoding {encoding!r} (supported: {_SUPPORTED})')
    if fmt.kind != kind:
        raise ImageConversionError(f'{fmt.kind} encoding {encoding} is not a {kind} image')
    return fmt


def _pixels(msg: ImageFields, fmt: _Format) -> np.ndarray:
    """View msg.data as HxWxC without copying; step and byte order come from the message."""
    height, width, step, size = msg.height, msg.width, msg.step, len(msg.data)
    dtype = np.dtype(fmt.dtype).newbyteorder('>' if msg.is_bigendian else '<')
    pixel_bytes = fmt.channels * dtype.itemsize
    if height == 0 or width == 0:
        raise ImageConversionError(f'{msg.encoding} image has zero size ({width}x{height})')
    if step < width * pixel_bytes:
        raise ImageConversionError(
            f'{msg.encoding} step {step} is less than width {width} x {pixel_bytes} bytes')
    if size < step * height:
        raise ImageConversionError(
            f'{msg.encoding} data too short: expected {step * height} bytes '
            f'(step {step} x height {height}), got {size}')
    return np.ndarray((height, width, fmt.channels), dtype, memoryview(msg.data),
                      strides=(step, pixel_bytes, dtype.itemsize))


def _convert(msg: ImageFields, kind: str, max_pixels: int) -> np.ndarray:
    """Decode msg, copying only results that are still views of the message buffer."""
    fmt = _format(msg.encoding, kind)
    check_image_size(msg, max_pixels)
    result = fmt.convert(_pixels(msg, fmt))
    if result.flags.owndata and result.flags.c_contiguous:
        return result
    return np.array(result, order='C')


def rgb_from_image(msg: ImageFields, max_pixels: int = MAX_FRAME_PIXELS) -> np.ndarray:
    """Return the image as HxWx3 uint8 RGB, the layout the segmentation models expect."""
    return _convert(msg, 'colour', max_pixels)


def depth_from_image(msg: ImageFields, max_pixels: int = MAX_FRAME_PIXELS) -> np.ndarray:
    """
    Return HxW float32 metres with NaN wherever the sensor gave no valid reading.

    Drivers mark missing depth as 0, NaN, inf or negative values; one NaN convention lets
    callers use nan-aware statistics without knowing the source encoding.
    """
    depth = _convert(msg, 'depth', max_pixels)
    depth[~(np.isfinite(depth) & (depth > 0))] = np.nan
    return depth


def _codec(fmt: str) -> str:
    """Find the codec in 'jpeg' and in image_transport's 'bgr8; jpeg compressed bgr8'."""
    words = fmt.lower().replace(';', ' ').split()
    codec = next((word for word in words if word in _COMPRESSED_CODECS), None)
    if codec is None or 'compresseddepth' in words:
        raise ImageConversionError(
            f'unsupported compressed format {fmt!r} (expected jpeg or png)')
    return codec


def rgb_from_compressed(msg: CompressedImageFields, max_pixels: int = MAX_FRAME_PIXELS
                        ) -> np.ndarray:
    """Decode a jpeg or png CompressedImage to HxWx3 uint8 RGB, its size checked first."""
    codec = _codec(msg.format)
    compressed_size(msg, max_pixels)
    data = np.frombuffer(memoryview(msg.data), np.uint8)
    try:
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error:
        bgr = None
    if bgr is None:
        raise ImageConversionError(f'corrupt {codec} data ({data.size} bytes)')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_rgb(path: str, max_pixels: int = MAX_FRAME_PIXELS) -> np.ndarray | None:
    """
    RGB uint8 array of an image file, or None when it cannot be decoded.

    Raises ImageConversionError for a file whose header says more than max_pixels; formats
    Pillow cannot read the header of are left to OpenCV, which has its own 2^30 pixel limit
    (and would log a warning of its own for a missing file).
    """
    if not os.path.isfile(path):
        return None
    try:
        with Image.open(path) as header:
            width, height = header.size
    except Image.DecompressionBombError as error:
        raise ImageConversionError(f'{path}: {error}') from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        width = height = 0
    _check_pixels(path, width, height, max_pixels)
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

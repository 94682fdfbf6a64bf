"""Helpers of the evaluation tests: real bags written with rosbags, reading run folders."""

import json

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import get_typestore, Stores

TYPES = get_typestore(Stores.ROS2_JAZZY)
MS = 1_000_000
T0 = 1_800_000_000 * 10**9


def image_msg(pixels, encoding='rgb8', log_ns=T0):
    """Build a sensor_msgs/Image as rosbags does, stamped with its log time."""
    height, width = pixels.shape[:2]
    stamp = TYPES.types['builtin_interfaces/msg/Time'](sec=log_ns // 10**9,
                                                       nanosec=log_ns % 10**9)
    header = TYPES.types['std_msgs/msg/Header'](stamp=stamp, frame_id='camera')
    return TYPES.types['sensor_msgs/msg/Image'](
        header=header, height=height, width=width, encoding=encoding, is_bigendian=0,
        step=pixels.strides[0], data=np.ascontiguousarray(pixels).reshape(-1))


def png_msg(pixels, log_ns=T0):
    """Build a sensor_msgs/CompressedImage holding RGB pixels as PNG."""
    header = image_msg(pixels, log_ns=log_ns).header
    data = cv2.imencode('.png', cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))[1].reshape(-1)
    return TYPES.types['sensor_msgs/msg/CompressedImage'](header=header, format='png',
                                                          data=data)


def string_msg(text):
    return TYPES.types['std_msgs/msg/String'](data=text)


def write_events(path, storage, events):
    """Write (log offset in ms, topic, rosbags message) events as a real bag."""
    with Writer(path, version=9, storage_plugin=StoragePlugin[storage.upper()]) as writer:
        connections = {}
        for offset_ms, topic, message in events:
            msgtype = message.__msgtype__
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=TYPES)
            writer.write(connections[topic], T0 + offset_ms * MS,
                         TYPES.serialize_cdr(message, msgtype))
    return path


def frame_pixels(seed, shape=(48, 64)):
    """Textured RGB pixels (SAM finds nothing on a flat frame) that name their seed."""
    return np.random.default_rng(seed).integers(0, 256, shape + (3,), dtype=np.uint8)


def frame(seed, log_ms, shape=(48, 64)):
    """Build the frame of `seed` logged and stamped at log_ms."""
    return image_msg(frame_pixels(seed, shape), log_ns=T0 + log_ms * MS)


def seed_of(bag_image, seeds):
    """Say which seed's frame a paired BagImage holds (None for no frame)."""
    if bag_image is None:
        return None
    rgb = bag_image.rgb()
    return next(seed for seed in seeds if np.array_equal(rgb, frame_pixels(seed)))


def square_mask(shape=(48, 64), box=(10, 10, 30, 40)):
    mask = np.zeros(shape, np.uint8)
    y0, x0, y1, x1 = box
    mask[y0:y1, x0:x1] = 255
    return mask


def read_results(folder):
    lines = (folder / 'results.jsonl').read_text().splitlines()
    return [json.loads(line) for line in lines]


def read_metrics(folder):
    return json.loads((folder / 'metrics.json').read_text())

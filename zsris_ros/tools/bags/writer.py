"""
Write replayable bags of scenes and their commands, with ground truth, for `ros2 bag play`.

Layout (the defaults of `zsris eval bag`): per scene one rgb8 frame on IMAGE_TOPIC (with, when
the scene has them, its 32FC1 depth in metres on DEPTH_TOPIC and its CameraInfo on
CAMERA_INFO_TOPIC, logged and stamped with the frame), then its
commands as std_msgs/String on COMMAND_TOPIC 0.1 s apart, each with its mono8 mask (255
inside) on TRUTH_TOPIC and a JSON String on INFO_TOPIC logged at the same nanosecond as the
command; the next scene follows 1.5 s after the last command. So under the node's `latest`
policy every command is grounded on its own scene's frame.

Bags are rosbag2 version 8 (the oldest rosbags writes) with Humble's message definitions,
which are the same as Jazzy's for these types. Log times start at a fixed epoch so the same
input always gives the same bag.
"""

from collections import Counter
from dataclasses import dataclass
import json
from pathlib import Path
import shutil
from typing import Any, Iterable, Iterator

import numpy as np
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
from rosbags.typesys import get_typestore, Stores

from .layout import (CAMERA_INFO_TOPIC, COMMAND_TOPIC, DEPTH_TOPIC, IMAGE_TOPIC, INFO_TOPIC,
                     TRUTH_TOPIC)
from .reader import CAMERA_INFO, IMAGE, STRING
from ..errors import InputError
from ..evaluation.refer_data import RefImage
from ...image_io import read_rgb
from ...toy.scenes import EXPRESSION_TYPES, generate_scene

BAG_VERSION = 8
START_NS = 1_700_000_000 * 10**9
COMMAND_GAP_NS = 100_000_000
SCENE_GAP_NS = 1_500_000_000
FRAME_ID = 'camera_color_optical_frame'
TYPES = get_typestore(Stores.ROS2_HUMBLE)


@dataclass
class RecordedCommand:
    """A command as text, the mask of the object it names, and what the info topic says."""

    text: str
    mask: np.ndarray
    info: dict[str, Any]


@dataclass
class RecordedScene:
    """One camera frame (HxWx3 uint8 RGB), the commands spoken about it, depth and camera."""

    image: np.ndarray
    commands: list[RecordedCommand]
    depth: np.ndarray | None = None
    camera: Any = None  # width, height, k (9 floats, row-major) and frame_id


def write_bag(path: Path, scenes: Iterable[RecordedScene], storage: str = 'mcap') -> int:
    """Write the scenes as a new bag at `path`; a failed write leaves nothing behind."""
    if path.exists():
        raise InputError(f'{path} exists already; bags are never overwritten')
    try:
        return _write(path, scenes, storage)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def _write(path: Path, scenes: Iterable[RecordedScene], storage: str) -> int:
    """Write the bag; returns how many commands it holds."""
    plugin = StoragePlugin[storage.upper()]
    writer = Writer(path, version=BAG_VERSION, storage_plugin=plugin)
    # Per-message zstd: masks shrink ~50x, and rosbag2 plays such bags back natively.
    writer.set_compression(CompressionMode.MESSAGE, CompressionFormat.ZSTD)
    with writer:
        topics = {name: writer.add_connection(name, msgtype, typestore=TYPES)
                  for name, msgtype in ((IMAGE_TOPIC, IMAGE), (COMMAND_TOPIC, STRING),
                                        (TRUTH_TOPIC, IMAGE), (INFO_TOPIC, STRING),
                                        (DEPTH_TOPIC, IMAGE), (CAMERA_INFO_TOPIC, CAMERA_INFO))}
        count, now = 0, START_NS
        for scene in scenes:
            writer.write(topics[IMAGE_TOPIC], now, _image(scene.image, 'rgb8', now))
            if scene.depth is not None:
                writer.write(topics[DEPTH_TOPIC], now,
                             _image(scene.depth.astype(np.float32), '32FC1', now))
            if scene.camera is not None:
                writer.write(topics[CAMERA_INFO_TOPIC], now, _camera_info(scene.camera, now))
            for command in scene.commands:
                now += COMMAND_GAP_NS
                mask = np.where(command.mask, np.uint8(255), np.uint8(0))
                writer.write(topics[COMMAND_TOPIC], now, _string(command.text))
                writer.write(topics[TRUTH_TOPIC], now, _image(mask, 'mono8', now))
                writer.write(topics[INFO_TOPIC], now, _string(json.dumps(command.info)))
                count += 1
            now += SCENE_GAP_NS
    return count


def toy_scenes(n: int, seed: int, per_scene: int | None = None) -> Iterator[RecordedScene]:
    """
    Toy scenes seed, seed+1, ...; info holds each expression's type and target object.

    With per_scene, each scene keeps that many expressions, taking one of every type in
    turn, so a short bag still covers all four types.
    """
    for scene_seed in range(seed, seed + n):
        scene = generate_scene(scene_seed)
        yield RecordedScene(scene.image, [RecordedCommand(
            e.text, scene.objects[e.target].mask,
            {'type': e.type, 'target': e.target, 'scene_seed': scene_seed})
            for e in _chosen(_with_one_target(scene.expressions), per_scene)],
            scene.depth, scene.camera)


def _with_one_target(expressions: list[Any]) -> list[Any]:
    """Keep the expressions a ground-truth mask can score (not those answered by a question)."""
    return [e for e in expressions if e.expected_status == 'ok']


def _chosen(expressions: list[Any], per_scene: int | None) -> list[Any]:
    """All expressions in order, or per_scene of them taken one type at a time."""
    return expressions if per_scene is None else _by_type_in_turn(expressions)[:per_scene]


def _by_type_in_turn(expressions: list[Any]) -> list[Any]:
    """Reorder as first of each type, then second of each type, and so on."""
    seen: Counter[str] = Counter()
    ranked = []
    for expression in expressions:
        ranked.append((seen[expression.type], EXPRESSION_TYPES.index(expression.type),
                       expression))
        seen[expression.type] += 1
    return [expression for *_, expression in sorted(ranked, key=lambda row: row[:2])]


def refer_scenes(images: Iterable[RefImage]) -> Iterator[RecordedScene]:
    """REFER images with all their sentences; an image file that cannot be read is an error."""
    for image in images:
        rgb = read_rgb(str(image.path))
        if rgb is None:
            raise InputError(f'cannot read image {image.path}')
        yield RecordedScene(rgb, [RecordedCommand(
            s.text, image.target(s.ann_id),
            {'ref_id': s.ref_id, 'ann_id': s.ann_id, 'sent_id': s.sent_id,
             'image_id': image.image_id}) for s in image.sentences])


def _image(pixels: np.ndarray, encoding: str, now: int) -> bytes:
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    message = TYPES.types[IMAGE](
        header=_header(now), height=height, width=width, encoding=encoding, is_bigendian=0,
        step=pixels.strides[0], data=pixels.view(np.uint8).reshape(-1))
    return TYPES.serialize_cdr(message, IMAGE)


def _camera_info(camera: Any, now: int) -> bytes:
    """Serialise a distortion-free pinhole CameraInfo, stamped and framed like the frame."""
    k = np.asarray(camera.k, dtype=np.float64)
    roi = TYPES.types['sensor_msgs/msg/RegionOfInterest'](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    message = TYPES.types[CAMERA_INFO](
        header=_header(now), height=camera.height, width=camera.width,
        distortion_model='plumb_bob', d=np.zeros(5), k=k, r=np.eye(3).reshape(-1),
        p=np.hstack([k.reshape(3, 3), np.zeros((3, 1))]).reshape(-1), binning_x=0,
        binning_y=0, roi=roi)
    return TYPES.serialize_cdr(message, CAMERA_INFO)


def _header(now: int) -> Any:
    stamp = TYPES.types['builtin_interfaces/msg/Time'](sec=now // 10**9, nanosec=now % 10**9)
    return TYPES.types['std_msgs/msg/Header'](stamp=stamp, frame_id=FRAME_ID)


def _string(text: str) -> bytes:
    return TYPES.serialize_cdr(TYPES.types[STRING](data=text), STRING)

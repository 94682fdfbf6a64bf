"""
Read ROS 2 bags (MCAP or sqlite3) with `rosbags` and pair commands with frames as the node does.

Streaming: messages come in log-time order and only the newest colour frame is kept, plus the
commands still waiting for a frame under the `next` policy, so memory does not grow with the
bag. Frames are converted to RGB only when a command is grounded on them.

A bag's .mcap or .db3 file can be read alone, without its folder's metadata.yaml. rosbag2
records per-message compression only in that metadata, so a message read from the file alone
may still be a zstd frame; such frames are recognised by their magic number and unpacked
(CDR bytes always start with a zero byte, so no plain message is ever mistaken for one).

Ground-truth convention (what `zsris bag` writes): a mask on the ground-truth topic, and a
JSON String on the info topic, belong to the command logged at the same nanosecond; when
several commands share one log time, they take that time's masks in recording order.
"""

from collections import deque
from dataclasses import dataclass
from functools import cached_property
from itertools import groupby
import json
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.interfaces import Connection

try:
    from compression import zstd
except ImportError:   # Python before 3.14: the backport rosbags itself depends on
    from backports import zstd

from ..errors import InputError
from ...frame_policy import FramePairer, FramePolicy, Pairing, stamp_ns
from ...image_io import ImageConversionError, rgb_from_compressed, rgb_from_image

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE = 'sensor_msgs/msg/CompressedImage'
STRING = 'std_msgs/msg/String'
CAMERA_INFO = 'sensor_msgs/msg/CameraInfo'
ROLES = ('image', 'command', 'truth', 'info', 'depth', 'camera_info')
ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'


@dataclass(frozen=True)
class BagTopics:
    """Which topic plays which part; truth, info, depth and camera_info are optional."""

    image: str
    command: str
    truth: str | None = None
    info: str | None = None
    depth: str | None = None
    camera_info: str | None = None


class BagImage:
    """A recorded image message, deserialised and converted only when asked for."""

    def __init__(self, bag: 'Bag', connection: Connection, log_ns: int, raw: bytes) -> None:
        """Keep the raw bytes; most frames of a camera stream are never needed."""
        self._bag, self._connection, self._raw = bag, connection, raw
        self.log_ns = log_ns
        #: The depth frame and camera_info logged with this frame, when the bag has them.
        self.depth: BagImage | None = None
        self.camera_info: bytes | None = None

    @cached_property
    def _decoded(self) -> tuple[Any, str]:
        try:
            return self._bag.deserialize(self._raw, self._connection.msgtype), ''
        except InputError as error:
            return None, str(error)

    @property
    def raw(self) -> bytes:
        """Return the CDR bytes as recorded: what a publisher sends to replay this frame."""
        return self._raw

    @property
    def stamp_ns(self) -> int | None:
        """Header stamp in nanoseconds, None when the message cannot be read."""
        message, _ = self._decoded
        return None if message is None else stamp_ns(message.header)

    def rgb(self) -> np.ndarray:
        """HxWx3 uint8 RGB through the node's own conversion; ImageConversionError if not."""
        message, error = self._decoded
        if message is None:
            raise ImageConversionError(error)
        if self._connection.msgtype == COMPRESSED_IMAGE:
            return rgb_from_compressed(message)
        return rgb_from_image(message)

    def mask(self) -> np.ndarray:
        """Boolean HxW: every non-zero pixel is inside (mono8 masks hold 0 and 255)."""
        return self.rgb().any(axis=2)


@dataclass
class BagCommand:
    """A command, its place in the bag, its ground truth and the frame paired with it."""

    index: int
    text: str
    log_ns: int
    truth: BagImage | None = None
    info: dict[str, Any] | None = None
    frame: BagImage | None = None


class Bag:
    """An open bag: topic checks with readable errors, and error-wrapped streaming."""

    def __init__(self, path: Path) -> None:
        """Open the bag; anything unreadable is an InputError naming it."""
        self.path = path
        try:
            self._reader = AnyReader([path])
            self._reader.open()
        except Exception as error:  # noqa: BLE001 - rosbags raises many kinds for bad files
            raise InputError(f'cannot open bag {path}: {error}') from None

    def __enter__(self) -> 'Bag':
        """Use as a context manager."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the reader."""
        self._reader.close()

    def has(self, topic: str) -> bool:
        """Whether the bag records this topic."""
        return topic in self._reader.topics

    def count(self, topic: str) -> int:
        """Messages recorded on a topic."""
        return self._reader.topics[topic].msgcount

    def connections(self, topic: str, types: tuple[str, ...], option: str) -> list[Connection]:
        """Return the topic's connections; a missing or mistyped topic names what the bag has."""
        info = self._reader.topics.get(topic)
        if info is None:
            available = ', '.join(f'{name} [{t.msgtype}]'
                                  for name, t in sorted(self._reader.topics.items()))
            raise InputError(f'topic {topic} ({option}) is not in {self.path}; '
                             f'available: {available or "none"}')
        if info.msgtype not in types:
            raise InputError(f'topic {topic} ({option}) has type {info.msgtype}, '
                             f'expected {" or ".join(types)}')
        return list(info.connections)

    def messages(self, connections: list[Connection]) -> Iterator[tuple[Connection, int, bytes]]:
        """Messages in log-time order; a read failure midway is an InputError."""
        try:
            for connection, log_ns, raw in self._reader.messages(connections):
                yield connection, log_ns, cdr_bytes(raw)
        except Exception as error:  # noqa: BLE001 - any failure here means unreadable bytes
            raise InputError(f'cannot read {self.path} past this point '
                             f'(corrupt or truncated bag): {error}') from None

    def deserialize(self, raw: bytes, msgtype: str) -> Any:
        """Return a message object with the ROS field names, from its CDR bytes."""
        try:
            return self._reader.deserialize(raw, msgtype)
        except Exception as error:  # noqa: BLE001 - garbage bytes fail in many ways
            raise InputError(f'cannot deserialise a {msgtype} in {self.path}: {error}') from None


def cdr_bytes(raw: bytes) -> bytes:
    """Unpack a message stored zstd-compressed, which a bag file read alone hands over as is."""
    return zstd.decompress(raw) if raw[:4] == ZSTD_MAGIC else raw


def paired_commands(bag: Bag, topics: BagTopics, policy: str,
                    timeout_s: float) -> Iterator[BagCommand]:
    """
    Return every command in log-time order with the frame the node would have used.

    latest: the newest frame logged at or before the command; next: the first frame logged
    after it. As in the node, a command waits at most timeout_s for a frame it does not have
    yet (under latest, only before the first frame); then it has none. The topics are
    checked here, before anything is read.
    """
    connections, roles = _roles(bag, topics)
    return _pair(bag, connections, roles, policy, int(timeout_s * 1e9))


def _pair(bag: Bag, connections: list[Connection], roles: dict[int, str],
          policy: FramePolicy, timeout_ns: int) -> Iterator[BagCommand]:
    """Feed the bag's frames and commands, in log time, through the node's frame pairing."""
    pairer: FramePairer[BagImage] = FramePairer()
    pending: deque[tuple[BagCommand, Pairing[BagImage]]] = deque()
    index = 0
    for log_ns, group in groupby(bag.messages(connections), key=lambda message: message[1]):
        parts: dict[str, list[tuple[Connection, bytes]]] = {role: [] for role in ROLES}
        for connection, _, raw in group:
            parts[roles[connection.id]].append((connection, raw))
        pairer.expire(log_ns, timeout_ns)
        for connection, raw in parts['image']:
            frame = BagImage(bag, connection, log_ns, raw)
            frame.depth = next((BagImage(bag, c, log_ns, r) for c, r in parts['depth']), None)
            frame.camera_info = next((r for _, r in parts['camera_info']), None)
            pairer.frame(frame, log_ns, timeout_ns)
        for command in _commands(bag, parts, log_ns, index):
            index += 1
            pending.append((command, pairer.command(log_ns, policy)))
        yield from _decided(pending)
    pairer.flush()
    yield from _decided(pending)


def _decided(pending: deque[tuple[BagCommand, Pairing[BagImage]]]) -> Iterator[BagCommand]:
    """Hand on the commands whose frame is decided, in log-time order (always a prefix)."""
    while pending and pending[0][1].decided:
        command, pairing = pending.popleft()
        command.frame = pairing.frame
        yield command


def _roles(bag: Bag, topics: BagTopics) -> tuple[list[Connection], dict[int, str]]:
    """Return the connections to read and each one's role; every topic given is checked."""
    wanted = [('image', topics.image, (IMAGE, COMPRESSED_IMAGE), '--image-topic'),
              ('command', topics.command, (STRING,), '--command-topic'),
              ('truth', topics.truth, (IMAGE,), '--gt-topic'),
              ('info', topics.info, (STRING,), '--info-topic'),
              ('depth', topics.depth, (IMAGE,), '--depth-topic'),
              ('camera_info', topics.camera_info, (CAMERA_INFO,), '--camera-info-topic')]
    pairs = [(connection, role) for role, topic, types, option in wanted if topic
             for connection in bag.connections(topic, types, option)]
    return [c for c, _ in pairs], {c.id: role for c, role in pairs}


def _commands(bag: Bag, parts: dict[str, list[tuple[Connection, bytes]]], log_ns: int,
              first_index: int) -> list[BagCommand]:
    """Return the commands of one log time with the same-time truth and info, in order."""
    commands = [BagCommand(first_index + i, bag.deserialize(raw, c.msgtype).data, log_ns)
                for i, (c, raw) in enumerate(parts['command'])]
    for command, (connection, raw) in zip(commands, parts['truth']):
        command.truth = BagImage(bag, connection, log_ns, raw)
    for command, (connection, raw) in zip(commands, parts['info']):
        command.info = _json_object(bag.deserialize(raw, connection.msgtype).data)
    return commands


def _json_object(text: str) -> dict[str, Any] | None:
    """Read the info message as a dict; anything else is ignored, not fatal to the run."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None

"""
The grounding node: camera frames and language commands in, mask and target point out.

Thin glue around one GroundingPipeline. Callbacks only store frames or queue commands; one
worker thread loads the models and answers commands in order, so a slow inference never
blocks the subscriptions and every command gets exactly one `result`.
"""

from dataclasses import dataclass
import math
import queue
import threading
import time
from typing import Any

from geometry_msgs.msg import PointStamped
import numpy as np
from pydantic import ValidationError
from rcl_interfaces.msg import SetParametersResult
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header, String
import torch
from visualization_msgs.msg import Marker

from .frames import Frame, FrameStore
from .image_conversion import (bgr8_image, depth_from_image, ImageConversionError,
                               mono8_image, rgb_from_compressed, rgb_from_image)
from .messages import metric_point, pixel_point, result_message, target_marker
from .parameters import declare_parameters, to_settings_names
from .settings import NodeSettings
from ..grounding import GroundingConfig, GroundingPipeline, GroundingResult
from ..grounding.config import restart_fields
from ..grounding.geometry import back_project, mask_depth
from ..grounding.models import ModelConfigError
from ..grounding.overlay import draw_overlay

RESULT_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


@dataclass
class Command:
    """A command as it arrived: its text, when, and which frame it may be grounded on."""

    text: str
    received: float
    frame: Frame | None
    sequence: int


class GroundingNode(Node):
    """Subscribes to image/command (+ depth, camera_info); publishes mask, points, result."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('grounding_node', **kwargs)
        self.config, self.settings = declare_parameters(self)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.frames = FrameStore(self.settings.depth_buffer_size)
        self.commands: queue.Queue[Command] = queue.Queue(self.settings.command_queue_size)
        self.pipeline: GroundingPipeline | None = None
        self.load_error = ''
        self._stop = threading.Event()

        # KEEP_ALL: a burst beyond a KEEP_LAST depth would be overwritten in the DDS reader
        # before _on_command runs, and those commands would get no result at all.
        command_qos = QoSProfile(history=HistoryPolicy.KEEP_ALL,
                                 reliability=ReliabilityPolicy.RELIABLE)
        frames_group = MutuallyExclusiveCallbackGroup()
        commands_group = MutuallyExclusiveCallbackGroup()
        sensor = qos_profile_sensor_data
        self.create_subscription(Image, 'image', self.frames.add_colour, sensor,
                                 callback_group=frames_group)
        self.create_subscription(CompressedImage, 'image/compressed', self.frames.add_colour,
                                 sensor, callback_group=frames_group)
        self.create_subscription(Image, 'depth', self.frames.add_depth, sensor,
                                 callback_group=frames_group)
        self.create_subscription(CameraInfo, 'camera_info', self._on_camera_info, sensor,
                                 callback_group=frames_group)
        self.create_subscription(String, 'command', self._on_command, command_qos,
                                 callback_group=commands_group)

        self.mask_pub = self.create_publisher(Image, 'mask', 10)
        self.centroid_pub = self.create_publisher(PointStamped, 'centroid', 10)
        self.target_pub = self.create_publisher(PointStamped, 'target_point', 10)
        self.overlay_pub = self.create_publisher(Image, 'overlay', 10)
        self.marker_pub = self.create_publisher(Marker, 'marker', 10)
        self.result_pub = self.create_publisher(String, 'result', RESULT_QOS)

        self._worker = threading.Thread(target=self._work, name='grounding', daemon=True)
        self._worker.start()

    def destroy_node(self) -> None:
        """Stop the worker before the publishers it uses go away."""
        self._stop.set()
        self._worker.join(timeout=5.0)
        super().destroy_node()

    # Callbacks: cheap, never blocking.

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self.frames.camera_info = msg

    def _on_command(self, msg: String) -> None:
        frame, sequence = self.frames.latest()
        command = Command(text=msg.data, received=time.monotonic(), frame=frame,
                          sequence=sequence)
        try:
            self.commands.put_nowait(command)
        except queue.Full:
            self.get_logger().warning(f'command queue full, dropping {msg.data[:80]!r}')
            self._publish_result(self._payload(command, status='dropped',
                                               message='command queue is full'))

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Apply method knobs at run time; the pipeline validates them first."""
        changes = to_settings_names({p.name: p.value for p in parameters})
        core = {k: v for k, v in changes.items() if k in GroundingConfig.model_fields}
        node = {k: v for k, v in changes.items() if k in NodeSettings.model_fields}
        try:
            # Validate the node settings first: a rejected change must not leave the
            # pipeline half-updated.
            settings = NodeSettings(**{**self.settings.model_dump(), **node})
            if self.pipeline is not None:
                self.config = self.pipeline.update(**core)
            else:
                self.config = GroundingConfig(**{**self.config.model_dump(), **core})
            self.settings = settings
        except (ValidationError, ModelConfigError) as error:
            return SetParametersResult(successful=False, reason=str(error).replace('\n', ' '))
        return SetParametersResult(successful=True)

    # The worker: loads the models, then answers commands one by one.

    def _work(self) -> None:
        self._load_models()
        while not self._stop.is_set():
            try:
                command = self.commands.get(timeout=0.1)
            except queue.Empty:
                continue
            payload = self._answer(command)
            if self._shutting_down():
                return  # SIGINT or destroy_node during inference: nothing can publish now
            try:
                self._publish_result(payload)
            except Exception:  # noqa: BLE001 - the context may go away after the check
                if not self._shutting_down():
                    raise
                return

    def _shutting_down(self) -> bool:
        return self._stop.is_set() or not self.context.ok()

    def _load_models(self) -> None:
        logger = self.get_logger()
        logger.info(f'loading models: preset {self.config.preset}, CLIP '
                    f'{self.config.clip_model}/{self.config.clip_pretrained}, SAM '
                    f'{self.config.sam_model}/{self.config.sam_checkpoint}, device '
                    f'{self.config.device}')
        start = time.monotonic()
        try:
            pipeline = GroundingPipeline.from_config(self.config)
            self.config = pipeline.update(**_knobs(self.config))
        except Exception as error:  # noqa: BLE001 - the node must stay up and say why
            self.load_error = f'models failed to load: {error}'
            logger.error(self.load_error)
            return
        self.pipeline = pipeline
        logger.info(f'models ready on {pipeline.device} in {time.monotonic() - start:.1f} s')

    def _answer(self, command: Command) -> dict[str, Any]:
        """Exactly one result payload per command, whatever goes wrong."""
        try:
            return self._ground(command)
        except Exception as error:  # noqa: BLE001 - never lose a command
            if self._shutting_down():  # publishing outputs failed because ROS is going down
                return self._payload(command, status='error', message='node shutting down')
            self.get_logger().error(f'grounding {command.text[:80]!r} failed: {error!r}')
            if isinstance(error, torch.cuda.OutOfMemoryError):
                torch.cuda.empty_cache()
            return self._payload(command, status='error', message=f'{type(error).__name__}: '
                                 f'{error}')

    def _ground(self, command: Command) -> dict[str, Any]:
        if self.pipeline is None:
            return self._payload(command, status='error', message=self.load_error)
        frame = self._frame_for(command)
        if frame is None:
            return self._payload(command, status='no_image',
                                 message='no camera frame received for this command')
        try:
            rgb = _to_rgb(frame.msg)
        except ImageConversionError as error:
            return self._payload(command, frame, status='error', message=str(error))
        result = self.pipeline.ground_many(
            rgb, [command.text], frame_key=(frame.stamp_ns, frame.sequence))[0]
        payload = self._payload(command, frame, **result.to_dict())
        if result.mask is not None:
            payload.update(self._publish_outputs(frame, rgb, result))
        return payload

    def _frame_for(self, command: Command) -> Frame | None:
        """Pick the frame the frame policy assigns to a command, waiting if it must."""
        if self.settings.frame_policy == 'latest' and command.frame is not None:
            return command.frame
        waited = time.monotonic() - command.received
        return self.frames.wait_after(command.sequence,
                                      max(0.0, self.settings.next_frame_timeout - waited))

    def _publish_outputs(self, frame: Frame, rgb: np.ndarray,
                         result: GroundingResult) -> dict[str, Any]:
        header = frame.msg.header
        self.mask_pub.publish(mono8_image(result.mask, header))
        self.centroid_pub.publish(pixel_point(header, result.centroid))
        if self.overlay_pub.get_subscription_count() > 0:
            picture = draw_overlay(rgb, result.mask, result.centroid, result.noun_phrase,
                                   self.settings.overlay_alpha)
            self.overlay_pub.publish(bgr8_image(picture, header))
        point, reason = self._target_point(frame, result)
        if point is None:
            return {'target_point': None, 'depth_status': reason}
        point_header = Header(stamp=header.stamp, frame_id=_optical_frame(frame, self.frames))
        self.target_pub.publish(metric_point(point_header, point))
        self.marker_pub.publish(target_marker(point_header, point, self.settings.marker_scale,
                                              result.noun_phrase))
        return {'target_point': point, 'depth_status': 'ok'}

    def _target_point(self, frame: Frame, result: GroundingResult
                      ) -> tuple[list[float] | None, str]:
        """3-D point of the mask from the paired depth frame and K, or why there is none."""
        depth_frame = self.frames.depth_near(frame.stamp_ns, self.settings.depth_tolerance)
        info = self.frames.camera_info
        if depth_frame is None:
            return None, 'no depth frame within depth_tolerance of the image'
        if info is None:
            return None, 'no camera_info received'
        try:
            depth = depth_from_image(depth_frame.msg)
        except ImageConversionError as error:
            return None, str(error)
        if depth.shape != result.mask.shape:
            return None, (f'depth {depth.shape[1]}x{depth.shape[0]} does not match image '
                          f'{result.mask.shape[1]}x{result.mask.shape[0]}')
        z = mask_depth(result.mask, depth)
        if z is None:
            return None, 'no valid depth inside the mask'
        point = back_project(*result.centroid, z, np.asarray(info.k, dtype=float).reshape(3, 3))
        if point is None:
            return None, 'camera_info K is not usable (zero or non-finite focal length)'
        return point, 'ok'

    def _payload(self, command: Command, frame: Frame | None = None,
                 **fields: Any) -> dict[str, Any]:
        """Build the `result` JSON: the command, its frame, and what grounding found."""
        payload: dict[str, Any] = {
            'command': command.text, 'referring_expression': '', 'noun_phrase': '',
            'status': 'error', 'message': '', 'score': None, 'margin': None, 'bbox': None,
            'centroid': None, 'area': 0, 'num_proposals': 0, 'target_point': None,
            'depth_status': '', 'image_stamp': None, 'frame_id': '', 'timings_ms': {},
            'warnings': []}
        payload.update(fields)
        payload.pop('expression', None)
        if frame is not None:
            payload['image_stamp'] = {'sec': frame.msg.header.stamp.sec,
                                      'nanosec': frame.msg.header.stamp.nanosec}
            payload['frame_id'] = frame.msg.header.frame_id
        payload['timings_ms'] = dict(payload['timings_ms'])
        payload['timings_ms']['queue_wait'] = round(
            (time.monotonic() - command.received) * 1000.0
            - payload['timings_ms'].get('total', 0.0), 3)
        return payload

    def _publish_result(self, payload: dict[str, Any]) -> None:
        self.result_pub.publish(result_message(_finite(payload)))
        self.get_logger().info(
            f"{payload['status']}: {payload['command'][:80]!r} -> "
            f"{payload['noun_phrase'][:80]!r} score {payload['score']}")


def _knobs(config: GroundingConfig) -> dict[str, Any]:
    return config.model_dump(exclude=restart_fields())


def _to_rgb(msg: Image | CompressedImage) -> np.ndarray:
    if isinstance(msg, CompressedImage):
        return rgb_from_compressed(msg)
    return rgb_from_image(msg)


def _optical_frame(frame: Frame, frames: FrameStore) -> str:
    """Name the camera optical frame: camera_info's frame_id, else the image's."""
    info = frames.camera_info
    return (info.header.frame_id if info is not None and info.header.frame_id
            else frame.msg.header.frame_id)


def _finite(value: Any) -> Any:
    """Replace NaN and infinity, which have no JSON spelling, by null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def main(args: list[str] | None = None) -> None:
    """Console script `grounding_node`: init, spin on several threads, clean up."""
    rclpy.init(args=args)
    node = GroundingNode()
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()

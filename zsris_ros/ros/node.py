"""
The grounding node: camera frames and language commands in, mask and target point out.

Thin glue around one GroundingPipeline. Callbacks only store frames or queue commands; one
worker thread loads the models and answers commands in order, so a slow inference never
blocks the subscriptions and every command gets exactly one `result`.
"""

import contextlib
import ctypes
from dataclasses import dataclass
import faulthandler
import gc
import os
import queue
import sys
import threading
import time
from typing import Any, Callable

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
import numpy as np
from pydantic import ValidationError
from rcl_interfaces.msg import SetParametersResult
import rclpy
from rclpy.action import ActionServer, CancelResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header, String
import torch
from visualization_msgs.msg import Marker

from .frames import Frame, FrameStore
from .health import HealthMonitor
from .image_conversion import (bgr8_image, check_frame_size, depth_from_image,
                               ImageConversionError, mono8_image, rgb_from_compressed,
                               rgb_from_image)
from .messages import (diagnostic_array, metric_point, pixel_point, result_message,
                       target_marker, typed_result)
from .parameters import (declare_parameters, describe_invalid, ParameterError,
                         to_settings_names)
from .settings import NodeSettings, ROS_NAMES
from ..action import Ground as GroundAction
from ..frame_policy import Pairing, stamp_ns
from ..grounding import GroundingConfig, GroundingPipeline, GroundingResult
from ..grounding.geometry import target_point
from ..grounding.models import ModelConfigError
from ..grounding.overlay import draw_overlay
from ..msg import GroundingResult as GroundingResultMsg
from ..process_memory import resident_bytes
from ..srv import Ground as GroundService

RESULT_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
#: Seconds a stopping node may take to clean up before it exits regardless.
STOP_GRACE_S = 15.0
#: Threads for the callbacks that never block: frames, commands, timers, parameters.
EXECUTOR_THREADS = 4
#: Longest wait of the executor before it checks whether SIGINT shut the context down.
SPIN_WAKE_S = 0.5
#: What a node that needed its last-resort exit prints first.
STUCK_AFTER_SHUTDOWN = 'grounding_node: still running after shutdown'


@dataclass
class Caller:
    """
    Whoever waits for one command's answer besides the result topic: a service or an action.

    `reply` hears the result exactly once; `cancelled` is asked before and after inference;
    `progress` hears each stage as it starts.
    """

    reply: Callable[[GroundingResult], None]
    cancelled: Callable[[], bool] = lambda: False
    progress: Callable[[str], None] = lambda stage: None


@dataclass
class Command:
    """A command as it arrived: its text, when, and which frame it may be grounded on."""

    text: str
    received: float
    pairing: Pairing[Frame]
    caller: Caller | None = None


@dataclass(frozen=True)
class OpenQuestion:
    """What the last ambiguous answer asked about, and when: a short reply refers to it."""

    noun_phrase: str
    question: str
    asked_at: float


@dataclass(frozen=True)
class Settings:
    """Everything a command is answered with; swapped whole, so no answer mixes two."""

    config: GroundingConfig
    node: NodeSettings


class GroundingNode(LifecycleNode):
    """
    Subscribes to image/command (+ depth, camera_info); publishes mask, points, result.

    A managed (lifecycle) node: configure loads the models, activate subscribes to the camera
    and answers commands, deactivate stops answering (commands get status inactive), cleanup
    releases the models and their memory. With `autostart` (the default) it configures and
    activates itself at start-up; commands that arrive meanwhile wait for it.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('grounding_node', **kwargs)
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        # Our view of the lifecycle state, for answers and diagnostics; 'loading' while
        # configure runs.
        self.state = 'unconfigured'
        self._busy = threading.Lock()  # held by the worker while it answers a command
        self._cameras: list[Any] = []
        try:
            config, node_settings = declare_parameters(self)
        except ParameterError:
            super().destroy_node()
            raise
        # What the parameters say now; the worker adopts it between commands.
        self._wanted = Settings(config, node_settings)
        self._wanted_lock = threading.Lock()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.frames = FrameStore(node_settings.depth_buffer_size)
        self.commands: queue.Queue[Command] = queue.Queue(node_settings.command_queue_size)
        self.pipeline: GroundingPipeline | None = None
        self.load_error = ''
        self._starting = node_settings.autostart
        self._question: OpenQuestion | None = None  # the worker's alone

        # KEEP_ALL: a burst beyond a KEEP_LAST depth would be overwritten in the DDS reader
        # before _on_command runs, and those commands would get no result at all.
        command_qos = QoSProfile(history=HistoryPolicy.KEEP_ALL,
                                 reliability=ReliabilityPolicy.RELIABLE)
        self._frames_group = MutuallyExclusiveCallbackGroup()
        self.create_subscription(String, 'command', self._on_command, command_qos,
                                 callback_group=MutuallyExclusiveCallbackGroup())
        if self._starting:  # frames sent while the models load serve the first commands
            self._subscribe_cameras()

        self.mask_pub = self.create_publisher(Image, 'mask', 10)
        self.centroid_pub = self.create_publisher(PointStamped, 'centroid', 10)
        self.target_pub = self.create_publisher(PointStamped, 'target_point', 10)
        self.overlay_pub = self.create_publisher(Image, 'overlay', 10)
        self.marker_pub = self.create_publisher(Marker, 'marker', 10)
        self.result_pub = self.create_publisher(GroundingResultMsg, 'result', RESULT_QOS)
        self.result_json_pub = self.create_publisher(String, 'result/json', RESULT_QOS)
        requests_group = ReentrantCallbackGroup()  # each call waits for its own answer
        self.create_service(GroundService, 'ground', self._on_ground_request,
                            callback_group=requests_group)
        self._action_server = ActionServer(
            self, GroundAction, 'ground', self._on_ground_goal,
            cancel_callback=lambda _: CancelResponse.ACCEPT, callback_group=requests_group)
        self.health = HealthMonitor(node_settings.diagnostics_window)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_timer(node_settings.diagnostics_period, self._publish_diagnostics,
                          callback_group=MutuallyExclusiveCallbackGroup())

        self._worker = threading.Thread(target=self._work, name='grounding', daemon=True)
        self._worker.start()

    @property
    def settings(self) -> Settings:
        """Return what the parameters say now: the next command is answered with it."""
        with self._wanted_lock:
            return self._wanted

    def destroy_node(self) -> None:
        """Stop the worker before the publishers it uses go away."""
        self._stop.set()
        if self._worker is not None:
            self.frames.close()
            self._worker.join(timeout=5.0)
        super().destroy_node()

    @property
    def finalized(self) -> bool:
        """Tell whether the shutdown transition ran: the process may end."""
        return self.state == 'finalized'

    # Lifecycle transitions.

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the models; a failure leaves the node unconfigured, saying why."""
        self.state = 'loading'
        pipeline = self._load_models()
        if pipeline is None:
            self.state = 'unconfigured'
            return TransitionCallbackReturn.FAILURE
        with self._busy:
            self.pipeline = pipeline
        self.state = 'inactive'
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the camera and answer commands."""
        self._subscribe_cameras()
        self.state = 'active'
        self.get_logger().info('active: grounding commands')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop answering (a command in progress still finishes) and leave the camera."""
        self.state = 'inactive'
        self._unsubscribe_cameras()
        self.get_logger().info('inactive: commands are answered with status inactive')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release the models and the memory they held."""
        self._release_models()
        self.state = 'unconfigured'
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything from whichever state; the process then ends."""
        self._unsubscribe_cameras()
        self._release_models()
        self.state = 'finalized'
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Recover to unconfigured after a transition raised: nothing loaded, nothing served."""
        self._unsubscribe_cameras()
        self._release_models()
        self.state = 'unconfigured'
        return TransitionCallbackReturn.SUCCESS

    def _subscribe_cameras(self) -> None:
        if self._cameras:
            return
        sensor = qos_profile_sensor_data
        self._cameras = [
            self.create_subscription(Image, 'image', self._on_colour, sensor,
                                     callback_group=self._frames_group),
            self.create_subscription(CompressedImage, 'image/compressed', self._on_colour,
                                     sensor, callback_group=self._frames_group),
            self.create_subscription(Image, 'depth', self._on_depth, sensor,
                                     callback_group=self._frames_group),
            self.create_subscription(CameraInfo, 'camera_info', self._on_camera_info, sensor,
                                     callback_group=self._frames_group)]

    def _unsubscribe_cameras(self) -> None:
        for subscription in self._cameras:
            self.destroy_subscription(subscription)
        self._cameras = []

    def _release_models(self) -> None:
        """Drop the pipeline once no command uses it; report what the process gave back."""
        if self.pipeline is None:
            return
        before = memory_in_use()
        with self._busy:
            self.pipeline = None
        gc.collect()
        give_back_freed_memory()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        after = memory_in_use()
        self.get_logger().info('models released: ' + ', '.join(
            f'{name} {before[name]:.0f} -> {after[name]:.0f} MB' for name in before))

    # Callbacks: cheap, never blocking.

    def _on_colour(self, msg: Image | CompressedImage) -> None:
        self.frames.add_colour(msg, self._refusal(msg, 'colour'))

    def _on_depth(self, msg: Image) -> None:
        self.frames.add_depth(msg, self._refusal(msg, 'depth'))

    def _refusal(self, msg: Image | CompressedImage, kind: str) -> str:
        """
        Check a frame's size from its fields or header (no decoding) against max_frame_pixels.

        A refused frame still takes its place, so the command paired with it answers error
        with the reason, but its pixel data is let go at once: queued commands cannot pin
        oversized messages, and a decompression bomb is never decoded.
        """
        try:
            check_frame_size(msg, self.settings.config.max_frame_pixels)
        except ImageConversionError as error:
            msg.data = b''
            self.get_logger().warning(f'refusing {kind} frame stamped {stamp_ns(msg.header)} '
                                      f'ns: {error}', throttle_duration_sec=1.0)
            return str(error)
        return ''

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self.frames.camera_info = msg

    def _on_command(self, msg: String) -> None:
        self.enqueue(msg.data)

    def _on_ground_request(self, request: GroundService.Request,
                           response: GroundService.Response) -> GroundService.Response:
        """Answer a service call through the same queue and worker as topic commands."""
        result = self._answer_for(request)
        response.result, response.mask = typed_result(result), _mask_message(result)
        return response

    def _on_ground_goal(self, goal: ServerGoalHandle) -> GroundAction.Result:
        """Run an action goal like a service call, with feedback per stage and cancel."""
        start = time.monotonic()

        def progress(stage: str) -> None:
            goal.publish_feedback(GroundAction.Feedback(
                stage=stage, elapsed_ms=(time.monotonic() - start) * 1000.0))

        progress('queued')
        result = self._answer_for(goal.request, lambda: goal.is_cancel_requested, progress)
        if self._shutting_down():
            with contextlib.suppress(Exception):  # the context is gone: no status goes out
                goal.abort()
        elif result.status == 'cancelled':
            goal.canceled()
        else:
            goal.succeed()
        return GroundAction.Result(result=typed_result(result), mask=_mask_message(result))

    def _answer_for(self, request: Any, cancelled: Callable[[], bool] = lambda: False,
                    progress: Callable[[str], None] = lambda stage: None) -> GroundingResult:
        """Queue a request (service or action goal) and wait for its one result."""
        answers: queue.Queue[GroundingResult] = queue.Queue(maxsize=1)
        self.enqueue(request.command, request.image if request.use_image else None,
                     Caller(answers.put, cancelled, progress))
        while True:
            try:
                return answers.get(timeout=SPIN_WAKE_S)
            except queue.Empty:
                if self._shutting_down():
                    return GroundingResult.failure(request.command, 'dropped',
                                                   'node shutting down')

    def enqueue(self, text: str, image: Image | CompressedImage | None = None,
                caller: Caller | None = None) -> None:
        """
        Queue a command from any path (topic, service, action) for the one worker.

        Without an image the command is paired with a camera frame under the frame policy;
        with one (a service or action request that brought it), it is grounded on that.
        """
        refusal = self._not_serving(text)
        if refusal is not None:
            self._deliver(refusal, caller)
            return
        if image is None:
            pairing = self.frames.pair(self.settings.node.frame_policy)
        else:
            pairing = self.frames.given(image, self._refusal(image, 'request'))
        command = Command(text=text, received=time.monotonic(), pairing=pairing, caller=caller)
        try:
            self.commands.put_nowait(command)
        except queue.Full:
            self.frames.cancel(pairing)
            self.get_logger().warning(f'command queue full, dropping {text[:80]!r}')
            self._deliver(self._finish(command, GroundingResult.failure(
                command.text, 'dropped', 'command queue is full')), caller)

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """
        Validate a change and hand it to the worker, which adopts it between commands.

        The change is merged onto what the parameters already say (not onto what the worker
        runs with), under a lock, so a change made while another waits is never lost.
        """
        changes = to_settings_names({p.name: p.value for p in parameters})
        with self._wanted_lock:
            try:
                wanted = _merged(self._wanted, changes)
                if self.pipeline is not None:
                    self.pipeline.check(wanted.config)
            except ValidationError as error:
                return SetParametersResult(successful=False, reason=describe_invalid(error))
            except ModelConfigError as error:
                return SetParametersResult(successful=False, reason=str(error))
            self._wanted = wanted
        return SetParametersResult(successful=True)

    # The worker: loads the models, then answers commands one by one.

    def _work(self) -> None:
        if self._starting:
            self._autostart()
        while not self._stop.is_set():
            try:
                command = self.commands.get(timeout=0.1)
            except queue.Empty:
                continue
            with self._busy:
                result = self._answer(command)
            if self._shutting_down():
                return  # SIGINT or destroy_node during inference: nothing can publish now
            try:
                self._deliver(result, command.caller)
            except Exception:  # noqa: BLE001 - the context may go away after the check
                if not self._shutting_down():
                    raise
                return

    def _shutting_down(self) -> bool:
        return self._stop.is_set() or not self.context.ok()

    def _autostart(self) -> None:
        """Configure and activate, as a lifecycle manager would; commands wait meanwhile."""
        try:
            if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
                self.trigger_activate()
        finally:
            self._starting = False

    def _not_serving(self, text: str) -> GroundingResult | None:
        """Say why `text` is not answered now (None when it is), without waiting."""
        if self.state == 'active' or self._starting:
            return None
        if self.load_error:
            return GroundingResult.failure(text, 'error', self.load_error)
        return GroundingResult.failure(
            text, 'inactive', f'the node is {self.state}: configure and activate it (lifecycle) '
            'to ground commands')

    def _load_models(self) -> GroundingPipeline | None:
        logger = self.get_logger()
        config = self.settings.config
        logger.info(f'loading models: preset {config.preset}, CLIP {config.clip_model}/'
                    f'{config.clip_pretrained}, SAM {config.sam_model}/{config.sam_checkpoint}, '
                    f'device {config.device}')
        start = time.monotonic()
        self.load_error = ''
        try:
            pipeline = GroundingPipeline.from_config(config)
        except Exception as error:  # noqa: BLE001 - the node must stay up and say why
            self.load_error = f'models failed to load: {error}'
            logger.error(self.load_error)
            return None
        logger.info(f'models ready on {pipeline.device} in {time.monotonic() - start:.1f} s')
        return pipeline

    def _adopt_settings(self) -> Settings:
        """
        Bring the pipeline to what the parameters say; called between commands only.

        A change accepted while the models loaded was checked without them; if the loaded
        models refuse it, the pipeline keeps its settings and the parameters are set back.
        """
        wanted = self.settings
        if self.pipeline is None or self.pipeline.config == wanted.config:
            return wanted
        try:
            self.pipeline.reconfigure(wanted.config)
        except ModelConfigError as error:
            self.get_logger().error(f'parameters refused by the loaded models: {error}; '
                                    'keeping the previous values')
            self._set_parameters_back(wanted.config, self.pipeline.config)
            return Settings(self.pipeline.config, wanted.node)
        return wanted

    def _set_parameters_back(self, wanted: GroundingConfig, running: GroundingConfig) -> None:
        ros_names = {**{name: name for name in GroundingConfig.model_fields}, **ROS_NAMES}
        self.set_parameters([
            Parameter(ros_names[name], value=getattr(running, name))
            for name in running.run_time_values()
            if getattr(running, name) != getattr(wanted, name)])

    def _answer(self, command: Command) -> GroundingResult:
        """Exactly one result per command, whatever goes wrong."""
        refusal = self._not_serving(command.text)
        if refusal is not None:
            self.frames.cancel(command.pairing)
            return self._finish(command, refusal)
        settings = self._adopt_settings()
        if _cancelled(command):
            self.frames.cancel(command.pairing)
            return self._finish(command, GroundingResult.failure(
                command.text, 'cancelled', 'cancelled while queued'))
        try:
            result = self._ground(command, settings)
        except Exception as error:  # noqa: BLE001 - never lose a command
            if self._shutting_down():  # publishing outputs failed because ROS is going down
                result = GroundingResult.failure(command.text, 'error', 'node shutting down')
            else:
                self.get_logger().error(f'grounding {command.text[:80]!r} failed: {error!r}')
                if isinstance(error, torch.cuda.OutOfMemoryError):
                    torch.cuda.empty_cache()
                result = GroundingResult.failure(command.text, 'error',
                                                 f'{type(error).__name__}: {error}')
        return self._finish(command, result)

    def _ground(self, command: Command, settings: Settings) -> GroundingResult:
        if self.pipeline is None:
            return GroundingResult.failure(command.text, 'error', self.load_error)
        progress = command.caller.progress if command.caller else None
        if progress is not None:
            progress('waiting_for_frame')
        frame = self._frame_for(command, settings.node)
        if frame is None:
            return GroundingResult.failure(command.text, 'no_image',
                                           'no camera frame received for this command')
        if frame.refused:
            return _on_frame(GroundingResult.failure(command.text, 'error', frame.refused), frame)
        try:
            rgb = _to_rgb(frame.msg, settings.config.max_frame_pixels)
        except ImageConversionError as error:
            return _on_frame(GroundingResult.failure(command.text, 'error', str(error)), frame)
        depth, depth_problem = self._paired_depth(frame, settings)
        text = self._said_in_full(command.text, settings.node)
        result = self.pipeline.ground_many(
            rgb, [text], frame_key=(frame.stamp_ns, frame.sequence), depth_m=depth,
            on_stage=progress)[0]
        self._remember_question(command.text, text, result)
        if _cancelled(command):
            return _on_frame(GroundingResult.failure(
                command.text, 'cancelled', 'cancelled during inference'), frame)
        acts = result.status == 'ok' or (result.status == 'ambiguous'
                                         and settings.node.act_on_ambiguous)
        if not acts:
            result.mask = None
        if result.mask is not None and acts:
            self._publish_outputs(frame, rgb, result, settings, depth, depth_problem)
        return _on_frame(result, frame)

    def _said_in_full(self, text: str, settings: NodeSettings) -> str:
        """Read a short reply to the open question with what it asked about ('the left one')."""
        question = self._question
        if question is None or time.monotonic() - question.asked_at > settings.reply_timeout:
            return text
        return self.pipeline.reply(text, question.noun_phrase) or text

    def _remember_question(self, command: str, said: str, result: GroundingResult) -> None:
        """
        Keep what an ambiguous answer asked about, until a reply or another answer.

        A failure (an empty command, no proposals) leaves the question open for a retry.
        """
        if said != command:
            result.command = command
            reply = f'read as {said!r}, a reply to {self._question.question!r}'
            result.message = '; '.join(filter(None, [reply, result.message]))
            self._question = None
        if result.status in ('ok', 'no_match'):
            self._question = None
        elif result.status == 'ambiguous':
            self._question = OpenQuestion(result.noun_phrase, result.question, time.monotonic())

    def _frame_for(self, command: Command, settings: NodeSettings) -> Frame | None:
        """Wait for the frame the frame policy paired with the command when it arrived."""
        return self.frames.wait(command.pairing, settings.next_frame_timeout)

    def _publish_outputs(self, frame: Frame, rgb: np.ndarray, result: GroundingResult,
                         settings: Settings, depth: np.ndarray | None,
                         depth_problem: str) -> None:
        header = frame.msg.header
        self.mask_pub.publish(mono8_image(result.mask, header))
        self.centroid_pub.publish(pixel_point(header, result.centroid))
        if self.overlay_pub.get_subscription_count() > 0:
            picture = draw_overlay(rgb, result.mask, result.centroid, result.noun_phrase,
                                   settings.node.overlay_alpha, list(result.anchors.values()))
            self.overlay_pub.publish(bgr8_image(picture, header))
        point, result.depth_status = self._target_point(result, depth, depth_problem)
        if point is None:
            return
        result.target_point = point
        point_header = Header(stamp=header.stamp, frame_id=_optical_frame(frame, self.frames))
        self.target_pub.publish(metric_point(point_header, point))
        self.marker_pub.publish(target_marker(point_header, point, settings.node.marker_scale,
                                              result.noun_phrase))

    def _paired_depth(self, frame: Frame, settings: Settings) -> tuple[np.ndarray | None, str]:
        """Find the depth image (metres) taken with the colour frame, or why it is unusable."""
        depth_frame = self.frames.depth_near(frame.stamp_ns, settings.node.depth_tolerance,
                                             settings.node.depth_wait)
        if depth_frame is None:
            return None, ''
        if depth_frame.refused:
            return None, depth_frame.refused
        try:
            return depth_from_image(depth_frame.msg, settings.config.max_frame_pixels), ''
        except ImageConversionError as error:
            return None, str(error)

    def _target_point(self, result: GroundingResult, depth: np.ndarray | None,
                      depth_problem: str) -> tuple[list[float] | None, str]:
        """Find the mask's 3-D point from the paired depth and K (the geometry is the core's)."""
        if depth_problem:
            return None, depth_problem
        info = self.frames.camera_info
        k = None if info is None else np.asarray(info.k, dtype=float).reshape(3, 3)
        return target_point(result.mask, result.centroid, depth, k)

    def _finish(self, command: Command, result: GroundingResult) -> GroundingResult:
        """Stamp the time the command waited in the queue."""
        result.timings_ms['queue_wait'] = round(
            (time.monotonic() - command.received) * 1000.0
            - result.timings_ms.get('total', 0.0), 3)
        return result

    def _deliver(self, result: GroundingResult, caller: Caller | None) -> None:
        """Publish the result, then answer whoever called for it."""
        self._publish_result(result)
        if caller is not None:
            caller.reply(result)

    def _publish_result(self, result: GroundingResult) -> None:
        self.health.record(result.status, result.timings_ms)
        self.result_pub.publish(typed_result(result))
        self.result_json_pub.publish(result_message(result.to_dict()))
        self.get_logger().info(
            f'{result.status}: {result.command[:80]!r} -> {result.noun_phrase[:80]!r} '
            f'score {result.score}')

    def _publish_diagnostics(self) -> None:
        """Report model state, queue, failures and stage latencies for operators' tools."""
        pipeline = self.pipeline
        state = 'failed' if self.load_error else 'ready' if self.state == 'active' else (
            'loading' if self._starting else self.state)
        health = self.health.report(state, self.load_error, self.commands.qsize(),
                                    self.commands.maxsize)
        device = str(pipeline.device) if pipeline is not None else self.settings.config.device
        self.diagnostics_pub.publish(diagnostic_array(
            self.get_clock().now().to_msg(), f'{self.get_fully_qualified_name()}: grounding',
            device, health))


def _mask_message(result: GroundingResult) -> Image:
    """Return the answer's mask as mono8, stamped like its frame; empty without one."""
    if result.mask is None:
        return Image()
    stamp = result.image_stamp or {}
    header = Header(frame_id=result.frame_id)
    header.stamp.sec, header.stamp.nanosec = stamp.get('sec', 0), stamp.get('nanosec', 0)
    return mono8_image(result.mask, header)


def give_back_freed_memory() -> None:
    """
    Return freed heap pages to the system (glibc's malloc_trim), so cleanup shows in RSS.

    Freed model weights otherwise stay in malloc's arenas. Measured with the real-size
    networks: without it a first cleanup gave back 729 MB, a second 111 MB (RSS grew 260 MB
    a cycle); with it, 981 MB each time.
    """
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the allocator keeps its own counsel
        pass


def memory_in_use() -> dict[str, float]:
    """Return the process's resident memory and, on CUDA, the allocator's (MB)."""
    usage = {'RSS': resident_bytes() / 2**20}
    if torch.cuda.is_available():
        usage['CUDA allocated'] = torch.cuda.memory_allocated() / 2**20
        usage['CUDA reserved'] = torch.cuda.memory_reserved() / 2**20
    return usage


def _cancelled(command: Command) -> bool:
    return command.caller is not None and command.caller.cancelled()


def _merged(settings: Settings, changes: dict[str, Any]) -> Settings:
    """Validate changes on top of settings; raises ValidationError."""
    core = {k: v for k, v in changes.items() if k in GroundingConfig.model_fields}
    node = {k: v for k, v in changes.items() if k in NodeSettings.model_fields}
    return Settings(GroundingConfig(**{**settings.config.model_dump(), **core}),
                    NodeSettings(**{**settings.node.model_dump(), **node}))


def _on_frame(result: GroundingResult, frame: Frame) -> GroundingResult:
    """Say which camera frame the result belongs to."""
    stamp = frame.msg.header.stamp
    result.image_stamp = {'sec': stamp.sec, 'nanosec': stamp.nanosec}
    result.frame_id = frame.msg.header.frame_id
    return result


def _to_rgb(msg: Image | CompressedImage, max_pixels: int) -> np.ndarray:
    if isinstance(msg, CompressedImage):
        return rgb_from_compressed(msg, max_pixels)
    return rgb_from_image(msg, max_pixels)


def _optical_frame(frame: Frame, frames: FrameStore) -> str:
    """Name the camera optical frame: camera_info's frame_id, else the image's."""
    info = frames.camera_info
    return (info.header.frame_id if info is not None and info.header.frame_id
            else frame.msg.header.frame_id)


def main(args: list[str] | None = None) -> int:
    """Console script `grounding_node`: init, spin on several threads, clean up."""
    rclpy.init(args=args)
    try:
        node = GroundingNode()
    except ParameterError as error:
        rclpy.logging.get_logger('grounding_node').fatal(str(error))
        rclpy.try_shutdown()
        return 2
    threading.Thread(target=_exit_when_stuck, args=(node.context, STOP_GRACE_S),
                     name='stop-watchdog', daemon=True).start()
    # Service calls and action goals each hold a thread while queued; one per queue slot
    # keeps the frame and command callbacks running however many are waiting.
    executor = MultiThreadedExecutor(
        num_threads=EXECUTOR_THREADS + node.settings.node.command_queue_size)
    executor.add_node(node)
    try:
        spin_until_shutdown(executor, node.context, lambda: node.finalized)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:  # noqa: BLE001 - see below
        # SIGINT shuts the context down from the signal handler; if that lands while the
        # executor builds its wait set, rclpy raises RCLError instead of the shutdown
        # exception. Only an error while the context is still up is a real one.
        if node.context.ok():
            raise
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def spin_until_shutdown(executor: MultiThreadedExecutor, context: Any,
                        done: Callable[[], bool] = lambda: False) -> None:
    """
    Spin until the context goes down, never waiting longer than SPIN_WAKE_S at a time.

    rclpy handles SIGINT on a thread of its own that first wakes the executors and only then
    shuts the contexts down. An executor that looks at its context in between finds it still
    up and goes back to a wait that nothing will wake again: the node hung after SIGINT in a
    few of ten suite runs, its main thread blocked in that wait. A bounded wait looks again.
    `done` ends it too (the node's shutdown transition).
    """
    while context.ok() and not done():
        executor.spin_once(timeout_sec=SPIN_WAKE_S)


def _exit_when_stuck(context: Any, seconds: float) -> None:
    """
    Make sure a node whose context was shut down (SIGINT) does stop: a last resort.

    A robot's launch must not hang on whatever might linger after shutdown (a DDS thread, a
    callback that never returns). This daemon thread exits the process `seconds` after the
    context went down and prints every thread's stack, so the cause can be found; the tests
    fail when it ever has to.
    """
    while context.ok():
        time.sleep(0.2)
    time.sleep(seconds)
    sys.stderr.write(f'{STUCK_AFTER_SHUTDOWN} for {seconds:.0f} s; exiting. '
                     'Where each thread was:\n')
    faulthandler.dump_traceback(sys.stderr, all_threads=True)
    sys.stderr.flush()
    os._exit(0)


if __name__ == '__main__':
    sys.exit(main())

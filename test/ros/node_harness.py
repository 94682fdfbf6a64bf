"""
Run the real `grounding_node` in a subprocess and talk to it over real rclpy topics.

No mocks: the node is the installed console script, started with `--ros-args` by the demo's
launcher (zsris_ros.tools.live.node_client), and this process reaches it through DDS on a private
domain restricted to localhost. A `Harness` owns one node process plus one rclpy Node
(publishers, subscriptions, parameter clients) spun by a SingleThreadedExecutor in a
background thread; every received message is kept in a per-topic list guarded by a lock, and
`wait_for` polls a predicate over them. This module holds only what the tests add: base
parameters, steady memory readings, confirmed frames, caches filled before measuring.
"""

import json
import os
from pathlib import Path
import threading
import time
from typing import Any, Callable, TypeVar

from builtin_interfaces.msg import Time
import cv2
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
import numpy as np
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import SetParametersResult
from rcl_interfaces.srv import GetParameters, SetParameters, SetParametersAtomically
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from rclpy.task import Future
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header, String
from visualization_msgs.msg import Marker

from zsris_ros.grounding.result import result_keys
from zsris_ros.ros.node import STUCK_AFTER_SHUTDOWN
from zsris_ros.tools.live import node_client

T = TypeVar('T')

REPO = Path(__file__).resolve().parents[2]
SAMPLE_IMAGE = REPO / 'zsris_ros' / 'data' / 'tabletop.png'
#: The node's `result` publisher: reliable, depth 100.
RESULT_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
#: Commands must not be lost on our side either.
COMMAND_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
#: Camera data goes out best effort, like a driver's, matching the node's sensor-data QoS.
SENSOR_QOS = qos_profile_sensor_data
OUTPUT_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
#: Parameters every test node gets: random-weight tiny models on the CPU.
BASE_PARAMETERS = {'model_preset': 'tiny', 'device': 'cpu'}
#: Each result carries exactly these keys.
RESULT_KEYS = set(result_keys())
#: glibc malloc with fixed thresholds: blocks of 64 KiB and more are mapped and unmapped one by
#: one, so the node's RSS follows the memory it holds instead of its allocator's high-water
#: marks (tens of MB of noise otherwise). A leak stays resident all the same.
STEADY_MALLOC = {'MALLOC_MMAP_THRESHOLD_': '65536', 'MALLOC_TRIM_THRESHOLD_': '131072'}
#: Depth of the node's output publishers' history (mask, overlay, ...): full after this many.
OUTPUT_HISTORY = 10
#: Time for start-up (imports, model loading) of several nodes at once on a loaded machine.
STARTUP_TIMEOUT_S = 180.0
OUTPUT_TYPES = {'mask': Image, 'centroid': PointStamped, 'target_point': PointStamped,
                'marker': Marker, 'overlay': Image}


def sample_rgb() -> np.ndarray:
    """Load the bundled 320x240 tabletop picture as HxWx3 uint8 RGB."""
    bgr = cv2.imread(str(SAMPLE_IMAGE), cv2.IMREAD_COLOR)
    assert bgr is not None, SAMPLE_IMAGE
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def stamp(sec: int, nanosec: int = 0) -> Time:
    return Time(sec=sec, nanosec=nanosec)


def stamp_dict(time_msg: Time) -> dict[str, int]:
    """Spell a stamp the way the `result` JSON does."""
    return {'sec': time_msg.sec, 'nanosec': time_msg.nanosec}


def header(time_msg: Time, frame_id: str = 'camera_colour') -> Header:
    return Header(stamp=time_msg, frame_id=frame_id)


def image_msg(pixels: np.ndarray, encoding: str, time_msg: Time,
              frame_id: str = 'camera_colour') -> Image:
    """Wrap an HxW(xC) array in a tightly packed little-endian Image."""
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    return Image(header=header(time_msg, frame_id), height=height, width=width,
                 encoding=encoding, is_bigendian=0, step=pixels.nbytes // height,
                 data=pixels.tobytes())


def compressed_msg(rgb: np.ndarray, time_msg: Time,
                   frame_id: str = 'camera_colour') -> CompressedImage:
    ok, jpeg = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return CompressedImage(header=header(time_msg, frame_id), format='jpeg',
                           data=jpeg.tobytes())


def camera_info_msg(time_msg: Time, k: tuple[float, ...], width: int = 320, height: int = 240,
                    frame_id: str = 'camera_optical') -> CameraInfo:
    return CameraInfo(header=header(time_msg, frame_id), width=width, height=height,
                      k=[float(value) for value in k], distortion_model='plumb_bob')


def string_cdr(data: bytes) -> bytes:
    """Serialise a std_msgs/String by hand (CDR little endian), whatever bytes it holds."""
    return b'\x00\x01\x00\x00' + (len(data) + 1).to_bytes(4, 'little') + data + b'\x00'


def frame_leak_bytes(num_proposals: int = 0, width: int = 320, height: int = 240) -> int:
    """Bytes a node would leak by keeping one frame: its rgb8 data and its proposal masks."""
    return width * height * (3 + num_proposals)


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f'no VmRSS for pid {pid}')


#: After our side sees the node's endpoints, time for the node to match ours: a service or
#: action server that answers before it has matched the client's reader loses the answer.
DISCOVERY_SETTLE_S = 1.0

#: What the node's middleware logs when it lost an answer that way (seen twice in CI on a
#: loaded machine despite the settle time): the request is then sent again.
LOST_ANSWER = 'failed to send response'

#: How long a service or action call may take to be answered.
CALL_TIMEOUT_S = 60.0


class NodeProcess(node_client.NodeProcess):
    """The demo's node launcher with the tests' base parameters, memory probe and strictness."""

    def __init__(self, namespace: str, parameters: dict[str, Any], log_path: Path) -> None:
        super().__init__(namespace, {**BASE_PARAMETERS, **parameters}, log_path,
                         {**os.environ, **STEADY_MALLOC})

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def steady_rss(self, samples: int = 5, interval: float = 0.1) -> int:
        """Median of a few RSS readings, so one frame in flight does not count."""
        readings = []
        for _ in range(samples):
            readings.append(self.rss())
            time.sleep(interval)
        return sorted(readings)[samples // 2]

    def stop(self, timeout: float = 60.0) -> int:
        """
        Like the demo's stop, but a node that ignores SIGINT fails the test.

        The node exits within seconds on an idle machine; a minute leaves room for a loaded
        one (several nodes unloading torch at once) and still catches a node that hangs.
        """
        code = super().stop(timeout)
        if self.ignored_sigint:
            raise AssertionError(f'node ignored SIGINT for {timeout} s:\n{self.log()}')
        if STUCK_AFTER_SHUTDOWN in self.log():
            raise AssertionError(f'node needed its last-resort exit:\n{self.log()}')
        return code


class Harness:
    """A grounding node subprocess and this process's endpoints facing it."""

    def __init__(self, context: Context, namespace: str, parameters: dict[str, Any],
                 log_path: Path) -> None:
        self.namespace = namespace
        self.process = NodeProcess(namespace, parameters, log_path)
        self._lock = threading.Lock()
        self._received: dict[str, list[Any]] = {
            name: [] for name in ('result', 'diagnostics', *OUTPUT_TYPES)}
        self.node = Node(f'harness_{namespace}', context=context)
        topic = f'/{namespace}/'.__add__
        node = self.node
        self.image_pub = node.create_publisher(Image, topic('image'), SENSOR_QOS)
        self.compressed_pub = node.create_publisher(CompressedImage, topic('image/compressed'),
                                                    SENSOR_QOS)
        self.depth_pub = node.create_publisher(Image, topic('depth'), SENSOR_QOS)
        self.info_pub = node.create_publisher(CameraInfo, topic('camera_info'), SENSOR_QOS)
        self.command_pub = node.create_publisher(String, topic('command'), COMMAND_QOS)
        self.result_sub = node.create_subscription(
            String, topic('result/json'), self._keeper('result', _parse_result), RESULT_QOS)
        self.output_subs = {
            name: node.create_subscription(kind, topic(name), self._keeper(name), OUTPUT_QOS)
            for name, kind in OUTPUT_TYPES.items()}
        self.diagnostics_sub = node.create_subscription(
            DiagnosticArray, '/diagnostics', self._keep_own_status, 10)
        service = f'/{namespace}/grounding_node/'
        self.set_client = node.create_client(SetParameters, service + 'set_parameters')
        self.get_client = node.create_client(GetParameters, service + 'get_parameters')
        self.atomic_client = node.create_client(SetParametersAtomically,
                                                service + 'set_parameters_atomically')
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(node)
        self._spinner = threading.Thread(target=self.executor.spin, daemon=True,
                                         name=f'spin_{namespace}')
        self._spinner.start()
        self._commands = 0

    # Receiving.

    def _keeper(self, name: str, convert: Callable[[Any], Any] = lambda msg: msg
                ) -> Callable[[Any], None]:
        def keep(msg: Any) -> None:
            item = convert(msg)
            with self._lock:
                self._received[name].append(item)
        return keep

    def _keep_own_status(self, msg: DiagnosticArray) -> None:
        """Keep this node's statuses from the shared /diagnostics topic."""
        own = [status for status in msg.status
               if status.name.startswith(f'/{self.namespace}/grounding_node:')]
        with self._lock:
            self._received['diagnostics'].extend(own)

    def diagnostics(self, level: int, timeout: float = 30.0) -> Any:
        """Wait for a /diagnostics status of this node at `level` (0 OK, 1 WARN, 2 ERROR)."""
        return self.wait_for(
            lambda: next((status for status in reversed(self.received('diagnostics'))
                          if status.level == bytes([level])), None),
            timeout, f'a diagnostics status at level {level}')

    def received(self, name: str) -> list[Any]:
        """Copy everything received so far on one of our subscriptions."""
        with self._lock:
            return list(self._received[name])

    def results(self) -> list[dict[str, Any]]:
        return self.received('result')

    def wait_for(self, predicate: Callable[[], T], timeout: float, what: str = 'condition',
                 interval: float = 0.02) -> T:
        """Poll until predicate() is truthy and return its value; fail after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f'timed out after {timeout} s waiting for {what}; node '
                                     f'alive: {self.process.alive()}; log tail:\n'
                                     f'{self.process.log()[-3000:]}')
            time.sleep(interval)

    def answer(self, send: Callable[[], Future], what: str, timeout: float = CALL_TIMEOUT_S,
               tries: int = 3) -> Any:
        """
        Send a service or action request and return its answer, resent if the node lost it.

        The node logs LOST_ANSWER when it answered before matching our reader; waiting out
        the full timeout then would only turn a discovery race into a failed test.
        """
        for _ in range(tries):
            lost = self.process.log().count(LOST_ANSWER)
            future = send()
            self.wait_for(lambda: future.done() or self.process.log().count(LOST_ANSWER) > lost,
                          timeout, what, interval=0.05)
            if future.done():
                return future.result()
        raise AssertionError(f'the node lost the answer to {what} {tries} times')

    def results_for(self, text: str) -> list[dict[str, Any]]:
        return [r for r in self.results() if r['command'] == text]

    def result_for(self, text: str, timeout: float = 30.0, settle: float = 0.3
                   ) -> dict[str, Any]:
        """Return the one result answering `text`; wait `settle` more to catch a duplicate."""
        self.wait_for(lambda: self.results_for(text), timeout, f'result for {text[:60]!r}')
        time.sleep(settle)
        found = self.results_for(text)
        assert len(found) == 1, f'{len(found)} results for {text[:60]!r}: {found}'
        assert set(found[0]) == RESULT_KEYS, sorted(found[0])
        return found[0]

    def stamped_now(self, name: str, time_msg: Time) -> list[Any]:
        """Messages received so far on an output topic whose header carries `time_msg`."""
        return [m for m in self.received(name) if m.header.stamp == time_msg]

    def stamped(self, name: str, time_msg: Time, timeout: float = 10.0) -> list[Any]:
        """Like stamped_now, but waits until there is at least one."""
        return self.wait_for(lambda: self.stamped_now(name, time_msg), timeout,
                             f'{name} stamped {time_msg}')

    # Sending.

    def unique(self, text: str) -> str:
        """Make command text unique so its result can be told apart."""
        self._commands += 1
        return f'{text} #{self._commands}'

    def blank(self) -> str:
        """Make a whitespace-only command of a length not used before."""
        self._commands += 1
        return ' ' * self._commands

    def send(self, text: str) -> str:
        self.command_pub.publish(String(data=text))
        return text

    def send_raw(self, data: bytes) -> None:
        """Publish hand-serialised bytes on `command` (may be invalid UTF-8)."""
        self.command_pub.publish(string_cdr(data))

    def publish_frame(self, msg: Image | CompressedImage, repeats: int = 2,
                      confirm: bool = True, timeout: float = 60.0) -> None:
        """
        Publish a best-effort frame (twice, same stamp) and make sure it is the node's latest.

        Frames and commands reach the node on separate readers, so a command sent after a
        frame may overtake it. With `confirm`, a blank command is sent after the frame: the
        node answers it at once, naming the frame it had; the frame is sent again until that
        is this one. Needs frame_policy latest and loaded models; otherwise confirm=False.
        """
        publisher = self.compressed_pub if isinstance(msg, CompressedImage) else self.image_pub
        deadline = time.monotonic() + timeout
        while True:
            for _ in range(repeats):
                publisher.publish(msg)
                time.sleep(0.03)
            if not confirm or self.latest_frame(timeout) == stamp_dict(msg.header.stamp):
                return
            assert time.monotonic() < deadline, f'frame {msg.header.stamp} never became latest'

    def latest_frame(self, timeout: float = 60.0) -> dict[str, int] | None:
        """Ask the node for the stamp of its latest frame: a blank command is answered with it."""
        return self.result_for(self.send(self.blank()), timeout, settle=0.0)['image_stamp']

    def publish_depth(self, depth: Image, info: CameraInfo, repeats: int = 2) -> None:
        for _ in range(repeats):
            self.depth_pub.publish(depth)
            self.info_pub.publish(info)
            time.sleep(0.03)

    def ground(self, text: str, timeout: float = 30.0) -> dict[str, Any]:
        """Send a unique command and return its one result."""
        return self.result_for(self.send(self.unique(text)), timeout)

    def fill_caches(self, publish: Callable[[], None] = lambda: None,
                    text: str = 'the red cup') -> list[dict[str, Any]]:
        """
        Ground commands on distinct frames until the node's memory has reached its plateau.

        The per-frame feature cache (frame_cache_size) and the output publishers' history
        fill up during the first commands, so memory measured before that grows without any
        leak. `publish` makes the next frame current (a stream may already be doing it).
        """
        cache_size = self.get_parameters('frame_cache_size')['frame_cache_size']
        wanted = max(cache_size, OUTPUT_HISTORY) + 2
        results, frames = [], set()
        while len(frames) < wanted:
            assert len(results) < 3 * wanted, f'commands kept reusing frames: {results}'
            publish()
            results.append(self.ground(text))
            assert results[-1]['status'] == 'ok', results[-1]
            frames.add(json.dumps(results[-1]['image_stamp'], sort_keys=True))
        return results

    # Parameters.

    def set_parameters(self, timeout: float = 10.0, **values: Any) -> list[SetParametersResult]:
        assert self.set_client.wait_for_service(timeout), 'set_parameters service missing'
        request = SetParameters.Request(parameters=[
            Parameter(name, value=value).to_parameter_msg() for name, value in values.items()])
        answer = self.answer(lambda: self.set_client.call_async(request),
                             'set_parameters response', timeout)
        return list(answer.results)

    def set_parameters_atomically(self, timeout: float = 10.0,
                                  **values: Any) -> SetParametersResult:
        assert self.atomic_client.wait_for_service(timeout), 'atomic service missing'
        request = SetParametersAtomically.Request(parameters=[
            Parameter(name, value=value).to_parameter_msg() for name, value in values.items()])
        return self.answer(lambda: self.atomic_client.call_async(request),
                           'set_parameters_atomically response', timeout).result

    def get_parameters(self, *names: str, timeout: float = 10.0) -> dict[str, Any]:
        assert self.get_client.wait_for_service(timeout), 'get_parameters service missing'
        request = GetParameters.Request(names=list(names))
        answer = self.answer(lambda: self.get_client.call_async(request),
                             'get_parameters response', timeout)
        return {name: Parameter.from_parameter_msg(ParameterMsg(name=name, value=value)).value
                for name, value in zip(names, answer.values)}

    # Life cycle.

    def wait_connected(self, timeout: float = STARTUP_TIMEOUT_S, cameras: bool = True) -> None:
        """
        Both directions of every topic discovered (the node's endpoints exist).

        The camera topics only once the node is active (`cameras`): a lifecycle node that is
        not subscribes to commands alone, to answer them with its state.
        """
        endpoints = [self.command_pub]
        if cameras:
            endpoints += [self.image_pub, self.compressed_pub, self.depth_pub, self.info_pub]
        self.wait_for(lambda: all(p.get_subscription_count() > 0 for p in endpoints)
                      and self.result_sub.get_publisher_count() > 0
                      and all(s.get_publisher_count() > 0 for s in self.output_subs.values()),
                      timeout, 'node endpoints to be discovered')
        # Discovery is not symmetric: give the node time to match our endpoints too.
        time.sleep(DISCOVERY_SETTLE_S)

    def wait_ready(self, probe_frame: Image, timeout: float = STARTUP_TIMEOUT_S) -> None:
        """
        Wait until discovered and the models loaded: a probe command has been answered.

        The probe is a blank command, which the node answers (status error, 'empty
        command') without running the models once it has a frame. Best-effort frames sent
        before the node has matched our publisher are lost, so `probe_frame` is repeated
        until the answer comes. The blank's length makes it unique.
        """
        self.wait_connected(timeout)
        probe = self.send(self.blank())
        deadline = time.monotonic() + timeout
        while not self.results_for(probe):
            assert time.monotonic() < deadline, f'no answer to the probe:\n{self.process.log()}'
            self.image_pub.publish(probe_frame)
            time.sleep(0.2)
        result = self.results_for(probe)[0]
        assert (result['status'], result['message']) == ('error', 'empty command'), result

    def close(self) -> str:
        """Stop the node (SIGINT), tear our endpoints down; return the node's log."""
        try:
            self.process.stop()
        finally:
            self.executor.shutdown(timeout_sec=5.0)
            self._spinner.join(5.0)
            self.node.destroy_node()
        return self.process.log()


def _parse_result(msg: String) -> dict[str, Any]:
    return json.loads(msg.data)


class CameraStream:
    """
    A camera in a thread: a frame with a new stamp every 1/rate s, and when each was sent.

    Frame i is stamped `second` s + i us, so the stamps never meet another test's.
    """

    def __init__(self, harness: Harness, second: int, rate: float = 30.0) -> None:
        self._harness, self._second, self._period = harness, second, 1.0 / rate
        self._sent: list[float] = []
        self.started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name='camera')

    def __enter__(self) -> 'CameraStream':
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def _run(self) -> None:
        msg = image_msg(sample_rgb(), 'rgb8', stamp(self._second))
        while not self._stop.is_set():
            msg.header.stamp = stamp(self._second, len(self._sent) * 1000)
            self._harness.image_pub.publish(msg)
            self._sent.append(time.monotonic())
            time.sleep(max(0.0, self.started + len(self._sent) * self._period - time.monotonic()))

    @property
    def count(self) -> int:
        """Frames sent so far."""
        return len(self._sent)

    def rate(self) -> float:
        """Frames sent per second so far."""
        return self.count / max(time.monotonic() - self.started, 1e-9)

    def sent_at(self, image_stamp: dict[str, int] | None) -> float | None:
        """When the frame with this `result` stamp was sent (monotonic), or None if not ours."""
        if not image_stamp or image_stamp['sec'] != self._second:
            return None
        index, rest = divmod(image_stamp['nanosec'], 1000)
        return self._sent[index] if rest == 0 and index < len(self._sent) else None


class InProcessClient:
    """Talks to a GroundingNode spun in this process: frames and commands out, results in."""

    def __init__(self, context: Context, name: str = 'in_process_client') -> None:
        self.node = Node(name, context=context)
        self.image = self.node.create_publisher(Image, 'image', SENSOR_QOS)
        self.compressed = self.node.create_publisher(CompressedImage, 'image/compressed',
                                                     SENSOR_QOS)
        self.depth = self.node.create_publisher(Image, 'depth', SENSOR_QOS)
        self.info = self.node.create_publisher(CameraInfo, 'camera_info', SENSOR_QOS)
        self.command = self.node.create_publisher(String, 'command', COMMAND_QOS)
        self.results: list[dict[str, Any]] = []
        #: Each result as it came, before JSON parsing (which would accept NaN and Infinity).
        self.raw_results: list[str] = []
        self.arrived = threading.Condition()
        self._frames = 0
        self.node.create_subscription(String, 'result/json', self._keep, RESULT_QOS)

    def _keep(self, msg: String) -> None:
        with self.arrived:
            self.raw_results.append(msg.data)
            self.results.append(json.loads(msg.data))
            self.arrived.notify_all()

    def wait_connected(self, timeout: float = 30.0) -> None:
        """Wait until the node has matched every publisher of ours (best effort ones too)."""
        publishers = (self.image, self.compressed, self.depth, self.info, self.command)
        deadline = time.monotonic() + timeout
        while not all(p.get_subscription_count() > 0 for p in publishers):
            assert time.monotonic() < deadline, 'the node never subscribed to our topics'
            time.sleep(0.02)

    def ask(self, text: str, timeout: float = 60.0) -> dict[str, Any]:
        """
        Show the node a new frame, then send a command; return the command's result.

        A frame and a command travel on separate readers, so a command sent right after its
        frame may overtake it and be grounded on the previous one (whose features are
        cached: a fault injected into the proposals would never be reached). A blank
        command, answered at once with the stamp of the node's latest frame, confirms it.
        """
        self._frames += 1
        frame = image_msg(sample_rgb(), 'rgb8', stamp(1_700_000_000, self._frames))
        deadline = time.monotonic() + timeout
        while self._send(' ', timeout).get('image_stamp') != stamp_dict(frame.header.stamp):
            assert time.monotonic() < deadline, f'frame {self._frames} never became latest'
            self.image.publish(frame)
            time.sleep(0.05)
        return self._send(text, timeout)

    def _send(self, text: str, timeout: float) -> dict[str, Any]:
        with self.arrived:
            seen = len(self.results)
            self.command.publish(String(data=text))
            assert self.arrived.wait_for(lambda: len(self.results) > seen, timeout), text
            return self.results[seen]

    def wait_results(self, count: int, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Wait until `count` results have arrived in all; return them."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.results) >= count, timeout), (
                f'{len(self.results)} of {count} results')
            return list(self.results)


def spin_in_process(context: Context, client: InProcessClient, **parameters: Any
                    ) -> tuple[Any, MultiThreadedExecutor]:
    """Start a tiny-preset GroundingNode and the client on a multi-threaded executor."""
    from zsris_ros.ros.node import GroundingNode

    overrides = {'model_preset': 'tiny', 'device': 'cpu', **parameters}
    node = GroundingNode(context=context, parameter_overrides=[
        Parameter(name, value=value) for name, value in overrides.items()])
    executor = MultiThreadedExecutor(context=context)
    executor.add_node(node)
    executor.add_node(client.node)
    threading.Thread(target=executor.spin, daemon=True).start()
    return node, executor


def stop_in_process(node: Any, executor: MultiThreadedExecutor,
                    client: InProcessClient) -> None:
    """
    Stop spinning and destroy the node (the worker first) and the client.

    Nothing of rclpy may outlive the test: a later test that forks (flake8's worker pool)
    would otherwise finalise DDS objects in the child, which crashes it.
    """
    executor.shutdown()
    node.destroy_node()
    client.node.destroy_node()

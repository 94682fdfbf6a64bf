"""
Run the real `grounding_node` in a subprocess and talk to it over real rclpy topics.

No mocks: the node is the installed console script, started with `--ros-args`, and this
process reaches it through DDS on a private domain restricted to localhost. A `Harness`
owns one node process plus one rclpy Node (publishers, subscriptions, parameter clients)
spun by a SingleThreadedExecutor in a background thread; every received message is kept in
a per-topic list guarded by a lock, and `wait_for` polls a predicate over them.
"""

import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable, TypeVar

from builtin_interfaces.msg import Time
import cv2
from geometry_msgs.msg import PointStamped
import numpy as np
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import SetParametersResult
from rcl_interfaces.srv import GetParameters, SetParameters, SetParametersAtomically
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header, String
from visualization_msgs.msg import Marker

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
RESULT_KEYS = {
    'command', 'referring_expression', 'noun_phrase', 'status', 'message', 'score', 'margin',
    'bbox', 'centroid', 'area', 'num_proposals', 'target_point', 'depth_status',
    'image_stamp', 'frame_id', 'timings_ms', 'warnings'}
OUTPUT_TYPES = {'mask': Image, 'centroid': PointStamped, 'target_point': PointStamped,
                'marker': Marker, 'overlay': Image}


def node_executable() -> str:
    """Find the `grounding_node` console script of the interpreter running the tests."""
    found = Path(sys.executable).with_name('grounding_node')
    if found.is_file():
        return str(found)
    found = shutil.which('grounding_node')
    if found is None:
        raise RuntimeError('console script grounding_node not found; pip install -e .')
    return found


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


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f'no VmRSS for pid {pid}')


class NodeProcess:
    """One `grounding_node` subprocess with its log captured to a file."""

    def __init__(self, namespace: str, parameters: dict[str, Any], log_path: Path) -> None:
        self.namespace = namespace
        self.log_path = log_path
        arguments = [node_executable(), '--ros-args', '-r', f'__ns:=/{namespace}']
        for name, value in {**BASE_PARAMETERS, **parameters}.items():
            arguments += ['-p', f'{name}:={_parameter_text(value)}']
        self.arguments = arguments
        self._interrupted = False
        self._log = open(log_path, 'wb')
        env = {**os.environ, 'PYTHONUNBUFFERED': '1', 'RCUTILS_LOGGING_BUFFERED_STREAM': '0'}
        self.process = subprocess.Popen(arguments, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=env)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors='replace')

    def interrupt(self) -> None:
        """Send SIGINT once (a second one could interrupt the node's own clean-up)."""
        if not self._interrupted and self.alive():
            self._interrupted = True
            self.process.send_signal(signal.SIGINT)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGINT, as ros2 launch does; kill if it does not exit in time. Returns the code."""
        self.interrupt()
        if self.alive():
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10.0)
                self._log.close()
                raise AssertionError(f'node ignored SIGINT for {timeout} s:\n{self.log()}')
        self._log.close()
        return self.process.returncode


def _parameter_text(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


class Harness:
    """A grounding node subprocess and this process's endpoints facing it."""

    def __init__(self, context: Context, namespace: str, parameters: dict[str, Any],
                 log_path: Path) -> None:
        self.namespace = namespace
        self.process = NodeProcess(namespace, parameters, log_path)
        self._lock = threading.Lock()
        self._received: dict[str, list[Any]] = {name: [] for name in ('result', *OUTPUT_TYPES)}
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
            String, topic('result'), self._keeper('result', _parse_result), RESULT_QOS)
        self.output_subs = {
            name: node.create_subscription(kind, topic(name), self._keeper(name), OUTPUT_QOS)
            for name, kind in OUTPUT_TYPES.items()}
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
                      settle: float = 0.25) -> None:
        """Best-effort frame, sent twice (same stamp) and given time to land before commands."""
        publisher = self.compressed_pub if isinstance(msg, CompressedImage) else self.image_pub
        for _ in range(repeats):
            publisher.publish(msg)
            time.sleep(0.03)
        time.sleep(settle)

    def publish_depth(self, depth: Image, info: CameraInfo, repeats: int = 2) -> None:
        for _ in range(repeats):
            self.depth_pub.publish(depth)
            self.info_pub.publish(info)
            time.sleep(0.03)

    def ground(self, text: str, timeout: float = 30.0) -> dict[str, Any]:
        """Send a unique command and return its one result."""
        return self.result_for(self.send(self.unique(text)), timeout)

    # Parameters.

    def set_parameters(self, timeout: float = 10.0, **values: Any) -> list[SetParametersResult]:
        assert self.set_client.wait_for_service(timeout), 'set_parameters service missing'
        request = SetParameters.Request(parameters=[
            Parameter(name, value=value).to_parameter_msg() for name, value in values.items()])
        future = self.set_client.call_async(request)
        self.wait_for(future.done, timeout, 'set_parameters response')
        return list(future.result().results)

    def set_parameters_atomically(self, timeout: float = 10.0,
                                  **values: Any) -> SetParametersResult:
        assert self.atomic_client.wait_for_service(timeout), 'atomic service missing'
        request = SetParametersAtomically.Request(parameters=[
            Parameter(name, value=value).to_parameter_msg() for name, value in values.items()])
        future = self.atomic_client.call_async(request)
        self.wait_for(future.done, timeout, 'set_parameters_atomically response')
        return future.result().result

    def get_parameters(self, *names: str, timeout: float = 10.0) -> dict[str, Any]:
        assert self.get_client.wait_for_service(timeout), 'get_parameters service missing'
        future = self.get_client.call_async(GetParameters.Request(names=list(names)))
        self.wait_for(future.done, timeout, 'get_parameters response')
        return {name: Parameter.from_parameter_msg(ParameterMsg(name=name, value=value)).value
                for name, value in zip(names, future.result().values)}

    # Life cycle.

    def wait_connected(self, timeout: float = 60.0) -> None:
        """Both directions of every topic discovered (the node's endpoints exist)."""
        endpoints = [self.image_pub, self.compressed_pub, self.depth_pub, self.info_pub,
                     self.command_pub]
        self.wait_for(lambda: all(p.get_subscription_count() > 0 for p in endpoints)
                      and self.result_sub.get_publisher_count() > 0
                      and all(s.get_publisher_count() > 0 for s in self.output_subs.values()),
                      timeout, 'node endpoints to be discovered')
        # Discovery is not symmetric: give the node time to match our endpoints too.
        time.sleep(0.5)

    def wait_ready(self, probe_frame: Image, timeout: float = 60.0) -> None:
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

"""
Drive a real grounding node process over DDS: start it, feed it, hear its answers.

Used by `zsris demo` to replay a bag into the node exactly as a robot stack would, on a
loopback-only DDS domain so nothing leaves the machine.
"""

import json
import os
from pathlib import Path
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String

RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
MASK_GRACE_S = 2.0


def loopback_environment() -> dict[str, str]:
    """Keep DDS on this machine, on the caller's domain or a random private one."""
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    env.setdefault('ROS_DOMAIN_ID', str(random.randint(120, 220)))
    return env


#: The node's module, run with this interpreter when no console script can be found.
NODE_MODULE = 'zsris_ros.ros.node'
#: Child output reaches the log file as it is written, so a log read mid-run is current.
UNBUFFERED = {'PYTHONUNBUFFERED': '1', 'RCUTILS_LOGGING_BUFFERED_STREAM': '0'}


def node_command() -> list[str]:
    """
    Find how to start `grounding_node` with this interpreter, however the package was installed.

    pip puts the console script next to sys.executable (a venv's bin/) or on PATH; colcon puts
    it under lib/zsris_ros/, which is on neither, so the last resort runs the node's `main`
    through this interpreter, which works wherever `zsris_ros` imports.
    """
    beside = Path(sys.executable).with_name('grounding_node')
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    on_path = shutil.which('grounding_node')
    if on_path is not None:
        return [on_path]
    return [sys.executable, '-m', NODE_MODULE]


def parameter_text(value: Any) -> str:
    """Spell a value for `-p name:=value` (booleans as ROS spells them)."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


class NodeProcess:
    """The grounding node as a child process with its log in a file, stopped with SIGINT."""

    def __init__(self, namespace: str, parameters: dict[str, Any], log_path: Path,
                 env: dict[str, str] | None = None) -> None:
        self.namespace = '/' + namespace.lstrip('/')
        self.log_path = log_path
        self.arguments = [*node_command(), '--ros-args', '-r', f'__ns:={self.namespace}']
        for name, value in parameters.items():
            self.arguments += ['-p', f'{name}:={parameter_text(value)}']
        self.ignored_sigint = False
        self._interrupted = False
        with open(log_path, 'wb') as log:
            self.process = subprocess.Popen(
                self.arguments, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**(os.environ if env is None else env), **UNBUFFERED})

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors='replace')

    def interrupt(self) -> None:
        """Send SIGINT once (a second one could interrupt the node's own clean-up)."""
        if not self._interrupted and self.alive():
            self._interrupted = True
            self.process.send_signal(signal.SIGINT)

    def stop(self, timeout: float = 20.0) -> int:
        """
        Interrupt the node as a terminal would; kill it if it has not exited within timeout.

        Returns the exit code; `ignored_sigint` tells whether it had to be killed.
        """
        self.interrupt()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.ignored_sigint = True
            self.process.kill()
            return self.process.wait()


class NodeClient:
    """Publishes frames and commands to a node's namespace and keeps what comes back."""

    def __init__(self, namespace: str, env: dict[str, str]) -> None:
        os.environ.update({k: env[k] for k in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE')})
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = Node('zsris_replay', context=self.context)
        self.image = self.node.create_publisher(Image, f'{namespace}/image',
                                                qos_profile_sensor_data)
        self.depth = self.node.create_publisher(Image, f'{namespace}/depth',
                                                qos_profile_sensor_data)
        self.camera_info = self.node.create_publisher(CameraInfo, f'{namespace}/camera_info',
                                                      qos_profile_sensor_data)
        self.command = self.node.create_publisher(String, f'{namespace}/command', RELIABLE)
        self._lock = threading.Lock()
        self.results: list[dict[str, Any]] = []
        self.masks: list[Image] = []
        self.node.create_subscription(String, f'{namespace}/result/json', self._on_result,
                                      RELIABLE)
        self.node.create_subscription(Image, f'{namespace}/mask', self._on_mask, RELIABLE)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._spinner = threading.Thread(target=self.executor.spin, daemon=True)
        self._spinner.start()

    def _on_result(self, msg: String) -> None:
        with self._lock:
            self.results.append(json.loads(msg.data))

    def _on_mask(self, msg: Image) -> None:
        with self._lock:
            self.masks.append(msg)

    def wait_connected(self, timeout: float) -> bool:
        """Wait until the node subscribes to everything we publish (it has started)."""
        deadline = time.monotonic() + timeout
        publishers = (self.command, self.image, self.depth, self.camera_info)
        while any(publisher.get_subscription_count() == 0 for publisher in publishers):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def send_frame(self, raw: bytes, depth: bytes | None = None,
                   camera_info: bytes | None = None, repeats: int = 3) -> None:
        """
        Publish one recorded frame (CDR bytes as recorded) a few times: best effort.

        Its depth and camera_info go first, so the node has them when it grounds on the frame.
        """
        for publisher, message in ((self.depth, depth), (self.camera_info, camera_info),
                                   (self.image, raw)):
            for _ in range(repeats if message is not None else 0):
                publisher.publish(message)
                time.sleep(0.03)

    def show_frame(self, raw: bytes, stamp_ns: int | None, depth: bytes | None = None,
                   camera_info: bytes | None = None, timeout: float = 30.0) -> bool:
        """
        Send a frame until the node grounds on it; False if it never did within timeout.

        Frames and commands travel on separate readers, so a command sent right after a new
        frame may overtake it. A blank command is answered at once with the stamp of the
        node's latest frame, which tells whether this one has arrived.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.send_frame(raw, depth, camera_info)
            answer, _ = self.ask(' ', max(0.0, deadline - time.monotonic()))
            stamp = (answer or {}).get('image_stamp') or {}
            if stamp and stamp['sec'] * 10**9 + stamp['nanosec'] == stamp_ns:
                return True
        return False

    def ask(self, text: str, timeout: float) -> tuple[dict[str, Any] | None, Image | None]:
        """Send a command and wait for its result and, when there is one, its mask."""
        with self._lock:
            seen = len(self.results)
            self.masks.clear()
        self.command.publish(String(data=text))
        result = self._wait(lambda: self.results[seen] if len(self.results) > seen else None,
                            timeout)
        if result is None or result['status'] != 'ok':
            return result, None
        # The mask travels on its own topic and may land just after the result.
        return result, self._wait(lambda: self.masks[-1] if self.masks else None, MASK_GRACE_S)

    def _wait(self, get: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                value = get()
            if value is not None or time.monotonic() > deadline:
                return value
            time.sleep(0.01)

    def close(self) -> None:
        """Stop spinning and release the context."""
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)

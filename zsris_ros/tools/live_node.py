"""
Drive a real grounding node process over DDS: start it, feed it, hear its answers.

Used by `zsris demo` to replay a bag into the node exactly as a robot stack would, on a
loopback-only DDS domain so nothing leaves the machine.
"""

import json
import os
from pathlib import Path
import random
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
from sensor_msgs.msg import Image
from std_msgs.msg import String

RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
MASK_GRACE_S = 2.0


def loopback_environment() -> dict[str, str]:
    """Keep DDS on this machine, on the caller's domain or a random private one."""
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    env.setdefault('ROS_DOMAIN_ID', str(random.randint(120, 220)))
    return env


class NodeProcess:
    """The `grounding_node` console script as a child process, stopped with SIGINT."""

    def __init__(self, namespace: str, parameters: dict[str, Any], log_path: Path,
                 env: dict[str, str]) -> None:
        executable = Path(sys.executable).with_name('grounding_node')
        arguments = [str(executable), '--ros-args', '-r', f'__ns:={namespace}']
        for name, value in parameters.items():
            arguments += ['-p', f'{name}:={value}']
        self.log_path = log_path
        with open(log_path, 'w') as log:
            self.process = subprocess.Popen(arguments, stdout=log, stderr=subprocess.STDOUT,
                                            env=env)

    def stop(self, timeout: float = 15.0) -> None:
        """Interrupt the node as a terminal would, then make sure it is gone."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class NodeClient:
    """Publishes frames and commands to a node's namespace and keeps what comes back."""

    def __init__(self, namespace: str, env: dict[str, str]) -> None:
        os.environ.update({k: env[k] for k in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE')})
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = Node('zsris_replay', context=self.context)
        self.image = self.node.create_publisher(Image, f'{namespace}/image',
                                                qos_profile_sensor_data)
        self.command = self.node.create_publisher(String, f'{namespace}/command', RELIABLE)
        self._lock = threading.Lock()
        self.results: list[dict[str, Any]] = []
        self.masks: list[Image] = []
        self.node.create_subscription(String, f'{namespace}/result', self._on_result, RELIABLE)
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
        """Wait until the node subscribes to our commands (it has started)."""
        deadline = time.monotonic() + timeout
        while self.command.get_subscription_count() == 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def send_frame(self, raw: bytes, repeats: int = 3) -> None:
        """Publish one recorded frame (its CDR bytes as recorded) a few times: best effort."""
        for _ in range(repeats):
            self.image.publish(raw)
            time.sleep(0.03)

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

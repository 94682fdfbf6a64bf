"""
Faults inside the pipeline, injected into a GroundingNode running in this process.

The node and a client talk over real rclpy topics; only the pipeline call is replaced, to
raise what a GPU or a bug would raise. Every command must still get one result, and the
node must ground the next command normally.
"""

import json
from pathlib import Path
import sys
import threading

import pytest
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image
from std_msgs.msg import String
import torch

from zsris_ros.ros.node import GroundingNode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from node_harness import (COMMAND_QOS, image_msg, RESULT_QOS, sample_rgb,  # noqa: E402, I100
                          SENSOR_QOS, stamp)


class Client:
    """Publishes to the node under test and keeps its results."""

    def __init__(self, context) -> None:
        self.node = Node('fault_client', context=context)
        self.image = self.node.create_publisher(Image, 'image', SENSOR_QOS)
        self.command = self.node.create_publisher(String, 'command', COMMAND_QOS)
        self.results: list[dict] = []
        self.arrived = threading.Condition()
        self.node.create_subscription(String, 'result', self._keep, RESULT_QOS)

    def _keep(self, msg: String) -> None:
        with self.arrived:
            self.results.append(json.loads(msg.data))
            self.arrived.notify_all()

    def ask(self, text: str, timeout: float = 60.0) -> dict:
        """Publish a frame and a command; return the command's result."""
        self.image.publish(image_msg(sample_rgb(), 'rgb8', stamp(1_700_000_000)))
        with self.arrived:
            seen = len(self.results)
            self.command.publish(String(data=text))
            assert self.arrived.wait_for(lambda: len(self.results) > seen, timeout), text
            return self.results[seen]


@pytest.fixture(scope='module')
def running(ros_context):
    """Spin a tiny-preset GroundingNode and a client together on several threads."""
    node = GroundingNode(context=ros_context, parameter_overrides=[
        Parameter('model_preset', value='tiny'), Parameter('device', value='cpu')])
    client = Client(ros_context)
    executor = MultiThreadedExecutor(context=ros_context)
    executor.add_node(node)
    executor.add_node(client.node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    client.ask('warm up the models')
    yield node, client
    executor.shutdown()
    node.destroy_node()
    client.node.destroy_node()


def test_exception_in_the_pipeline_answers_error_then_recovers(running, monkeypatch):
    node, client = running
    real = node.pipeline.ground_many
    calls = []

    def failing_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError('simulated bug in the pipeline')
        return real(*args, **kwargs)

    monkeypatch.setattr(node.pipeline, 'ground_many', failing_once)
    broken = client.ask('the red mug')
    assert broken['status'] == 'error'
    assert 'simulated bug in the pipeline' in broken['message']
    assert client.ask('the red mug')['status'] == 'ok'


def test_cuda_out_of_memory_retries_then_reports_and_recovers(running, monkeypatch):
    node, client = running
    real = node.pipeline.proposer.propose
    attempts = []

    def out_of_memory(frame, config):
        attempts.append(config.points_per_batch)
        raise torch.cuda.OutOfMemoryError('CUDA out of memory (simulated)')

    monkeypatch.setattr(node.pipeline.proposer, 'propose', out_of_memory)
    failed = client.ask('the blue box')
    assert failed['status'] == 'error' and 'OutOfMemoryError' in failed['message']
    assert attempts == [attempts[0], attempts[0] // 2], 'one retry with half batches'
    monkeypatch.setattr(node.pipeline.proposer, 'propose', real)
    assert client.ask('the blue box')['status'] == 'ok'

"""
Faults inside the pipeline, injected into a GroundingNode running in this process.

The node and a client talk over real rclpy topics; only the pipeline call is replaced, to
raise what a GPU or a bug would raise. Every command must still get one result, and the
node must ground the next command normally.
"""

from pathlib import Path
import sys
import time

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from node_harness import (InProcessClient, spin_in_process,  # noqa: E402, I100
                          stop_in_process)


@pytest.fixture(scope='module')
def running(ros_context):
    """Spin a tiny-preset GroundingNode and a client together on several threads."""
    client = InProcessClient(ros_context, 'fault_client')
    node, executor = spin_in_process(ros_context, client)
    client.ask('warm up the models')
    yield node, client
    stop_in_process(node, executor, client)


def test_exception_in_the_pipeline_answers_error_then_recovers(running, monkeypatch):
    node, client = running
    real = node.pipeline.ground_many
    calls = []

    def failing_once(image, texts, *args, **kwargs):
        if texts == ['the red mug'] and not calls:  # not the blank that confirms the frame
            calls.append(texts)
            raise RuntimeError('simulated bug in the pipeline')
        return real(image, texts, *args, **kwargs)

    monkeypatch.setattr(node.pipeline, 'ground_many', failing_once)
    broken = client.ask('the red mug')
    assert broken['status'] == 'error'
    assert 'simulated bug in the pipeline' in broken['message']
    assert client.ask('the red mug')['status'] == 'ok'


def test_cuda_out_of_memory_retries_then_reports_and_recovers(running, monkeypatch):
    node, client = running
    real = node.pipeline.proposer.propose
    attempts = []

    def out_of_memory(frame, config, timings=None):
        attempts.append(config.points_per_batch)
        raise torch.cuda.OutOfMemoryError('CUDA out of memory (simulated)')

    monkeypatch.setattr(node.pipeline.proposer, 'propose', out_of_memory)
    failed = client.ask('the blue box')
    assert failed['status'] == 'error' and 'OutOfMemoryError' in failed['message']
    assert attempts == [attempts[0], attempts[0] // 2], 'one retry with half batches'
    monkeypatch.setattr(node.pipeline.proposer, 'propose', real)
    assert client.ask('the blue box')['status'] == 'ok'


def test_an_ambiguous_answer_publishes_no_target_unless_told_to_act(running, monkeypatch):
    """Two cups fit equally: the robot must ask, not grab; act_on_ambiguous overrides."""
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image

    node, client = running
    masks = []
    client.node.create_subscription(Image, 'mask', masks.append, 10)
    real = node.pipeline.ground_many

    def ambiguous(*args, **kwargs):
        results = real(*args, **kwargs)
        for result in results:
            result.status, result.question = 'ambiguous', 'the cup on the left or the right?'
        return results

    monkeypatch.setattr(node.pipeline, 'ground_many', ambiguous)
    asked = client.ask('the cup')
    assert asked['status'] == 'ambiguous' and asked['question'], asked
    assert asked['target_point'] is None and asked['depth_status'] == ''
    assert not masks, 'an ambiguous answer must not publish a mask'
    node.set_parameters([Parameter('act_on_ambiguous', value=True)])
    try:
        acted = client.ask('the cup')
    finally:
        node.set_parameters([Parameter('act_on_ambiguous', value=False)])
    assert acted['status'] == 'ambiguous'
    deadline = time.monotonic() + 10
    while not masks and time.monotonic() < deadline:
        time.sleep(0.05)
    assert masks, 'act_on_ambiguous publishes the best guess'


def test_a_short_reply_to_the_question_is_read_with_what_it_asked_about(running, monkeypatch):
    """'the left one' after "the cup on the left or the right?" is the left cup, once."""
    from rclpy.parameter import Parameter

    node, client = running
    real = node.pipeline.ground_many
    grounded = []

    def cups_alike(image, texts, *args, **kwargs):
        results = real(image, texts, *args, **kwargs)
        grounded.extend(texts)
        if texts == ['the cup']:
            results[0].status, results[0].question = 'ambiguous', 'the left or the right cup?'
        return results

    monkeypatch.setattr(node.pipeline, 'ground_many', cups_alike)
    assert client.ask('the cup')['status'] == 'ambiguous'
    reply = client.ask('the left one')
    assert grounded[-1] == 'the left cup'
    assert reply['command'] == 'the left one'
    assert reply['referring_expression'] == 'the left cup'
    assert "a reply to 'the left or the right cup?'" in reply['message']
    client.ask('the left one')
    assert grounded[-1] == 'the left one', 'an answer that is not ambiguous closes the question'
    client.ask('the cup')
    assert client.ask('the red box')['referring_expression'] == 'the red box', 'names a kind'
    client.ask('the cup')
    node.set_parameters([Parameter('reply_timeout', value=0.0)])
    try:
        client.ask('on the left')
    finally:
        node.set_parameters([Parameter('reply_timeout', value=60.0)])
    assert grounded[-1] == 'on the left', 'reply_timeout 0 reads every command on its own'

"""
Parameter changes reach the worker whole and between commands, never half-way through one.

A GroundingNode runs in this process (tiny preset) with a client over real rclpy topics;
parameters are set through the node's own parameter API from another thread, as the
parameter services do.
"""

from pathlib import Path
import sys
import threading

import pytest
from rclpy.parameter import Parameter
from std_msgs.msg import String

from zsris_ros.ros.node import GroundingNode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from node_harness import (image_msg, InProcessClient, sample_rgb,  # noqa: E402, I100
                          spin_in_process, stamp, stop_in_process)

#: Two run-time configurations; a command answered with half of each scores differently.
FIRST, SECOND = {'v': 0.2, 'r': 0.3}, {'v': 0.8, 'r': 0.9}
TEXT = 'the mug with a red handle'


def _reference_score(pipeline, **settings) -> float:
    """Score of TEXT under settings, leaving the shared pipeline as it was."""
    original = pipeline.config
    pipeline.reconfigure(original.model_copy(update=settings))
    try:
        return pipeline.ground(sample_rgb(), TEXT).score
    finally:
        pipeline.reconfigure(original)


def test_every_answer_uses_one_whole_configuration(ros_context, tiny_pipeline):
    expected = {name: _reference_score(tiny_pipeline, **values)
                for name, values in (('first', FIRST), ('second', SECOND))}
    mixed = [_reference_score(tiny_pipeline, v=FIRST['v'], r=SECOND['r']),
             _reference_score(tiny_pipeline, v=SECOND['v'], r=FIRST['r'])]
    # The test can only catch a mixed configuration if mixing changes the score.
    assert min(abs(m - e) for m in mixed for e in expected.values()) > 1e-4, (mixed, expected)

    client = InProcessClient(ros_context, 'settings_client')
    node, executor = spin_in_process(ros_context, client, command_queue_size=64, **FIRST)
    stop = threading.Event()
    refused = []

    def toggle() -> None:
        while not stop.is_set():
            for values in (SECOND, FIRST):
                answer = node.set_parameters_atomically(
                    [Parameter(name, value=value) for name, value in values.items()])
                if not answer.successful:
                    refused.append(answer.reason)
                stop.wait(0.002)

    toggler = threading.Thread(target=toggle, daemon=True)
    try:
        client.image.publish(image_msg(sample_rgb(), 'rgb8', stamp(1_700_000_000)))
        client.command.publish(String(data=TEXT))
        client.wait_results(1)
        toggler.start()
        for _ in range(30):
            client.command.publish(String(data=TEXT))
        results = client.wait_results(31)
    finally:
        stop.set()
        toggler.join(10)
        stop_in_process(node, executor, client)
    assert not refused, refused
    assert len(results) == 31
    used = []
    for result in results:
        assert result['status'] == 'ok', result
        matches = [name for name, score in expected.items()
                   if abs(result['score'] - score) < 1e-5]
        assert matches, (result['score'], expected, mixed)
        used += matches
    assert used[0] == 'first'


def test_a_change_the_loaded_models_refuse_is_set_back_and_the_node_answers(
        ros_context):
    client = InProcessClient(ros_context, 'settings_client')
    node, executor = spin_in_process(ros_context, client)
    try:
        # Usually lands while the models load, when only the ranges can be checked.
        answer = node.set_parameters([Parameter('masking_block', value=50)])[0]
        client.image.publish(image_msg(sample_rgb(), 'rgb8', stamp(1_700_000_000)))
        client.command.publish(String(data=TEXT))
        result = client.wait_results(1)[0]
        depth = node.pipeline.vision_depth
        kept = node.get_parameter('masking_block').value
    finally:
        stop_in_process(node, executor, client)
    assert result['status'] == 'ok', result
    assert kept < depth, (answer, kept)


@pytest.mark.parametrize('name, value, accepts', [
    ('model_preset', 'foo', 'one of: real, toy, tiny'),
    ('v', 5.0, '0.0 to 1.0'),
    ('command_queue_size', 0, '1 to 100'),
    ('frame_policy', 'sideways', 'one of: latest, next'),
])
def test_an_unusable_start_up_parameter_is_named_with_what_it_accepts(
        ros_context, name, value, accepts):
    from zsris_ros.ros.parameters import ParameterError

    with pytest.raises(ParameterError) as raised:
        GroundingNode(context=ros_context, parameter_overrides=[Parameter(name, value=value)])
    assert name in str(raised.value) and accepts in str(raised.value)
    assert '\n' not in str(raised.value)

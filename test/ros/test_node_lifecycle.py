"""
The grounding node as a managed (lifecycle) node, driven through its lifecycle services.

From another process, the way a lifecycle manager (Nav2's, a launch file's) drives it.
"""

import os
from pathlib import Path
import sys
import time

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from node_harness import (DISCOVERY_SETTLE_S, Harness, image_msg, sample_rgb,  # noqa: E402, I100
                          stamp)

from zsris_ros.srv import Ground  # noqa: E402

CALL_TIMEOUT_S = 120.0


class Lifecycle:
    """The node's lifecycle services, called from the harness's node."""

    def __init__(self, node: Harness) -> None:
        self.node = node
        base = f'/{node.namespace}/grounding_node'
        self.change = node.node.create_client(ChangeState, f'{base}/change_state')
        self.get = node.node.create_client(GetState, f'{base}/get_state')
        self.ground = node.node.create_client(Ground, f'/{node.namespace}/ground')
        for client in (self.change, self.get, self.ground):
            assert client.wait_for_service(timeout_sec=60.0)
        time.sleep(DISCOVERY_SETTLE_S)

    def _call(self, client, request):
        return self.node.answer(lambda: client.call_async(request),
                                f'{client.srv_name} to answer', CALL_TIMEOUT_S)

    def state(self) -> str:
        return self._call(self.get, GetState.Request()).current_state.label

    def transition(self, transition_id: int) -> bool:
        request = ChangeState.Request()
        request.transition.id = transition_id
        return self._call(self.change, request).success

    def ask(self, text: str) -> dict:
        """Ask on the topic and through the service; both must agree; return the topic's."""
        topic = self.node.ground(self.node.unique(text))
        served = self._call(self.ground, Ground.Request(command=self.node.unique(text)))
        assert served.result.status == topic['status'], (served.result, topic)
        return topic


@pytest.fixture
def managed(ros_context, tmp_path):
    """Start a node left unconfigured (autostart false), as `autostart:=false` does."""
    node = Harness(ros_context, f'zsris_managed_{os.getpid()}', {'autostart': False},
                   tmp_path / 'node.log')
    node.wait_connected(cameras=False)
    yield node, Lifecycle(node)
    if node.process.alive():
        node.close()
    else:
        node.executor.shutdown(timeout_sec=5.0)
        node.node.destroy_node()


def test_each_transition_does_what_a_lifecycle_manager_expects(managed):
    node, lifecycle = managed
    assert lifecycle.state() == 'unconfigured'
    answer = lifecycle.ask('the cup')
    assert answer['status'] == 'inactive' and 'unconfigured' in answer['message']
    assert 'not serving: unconfigured' in node.diagnostics(level=1).message

    assert lifecycle.transition(Transition.TRANSITION_CONFIGURE)
    assert lifecycle.state() == 'inactive'
    assert 'models ready' in node.process.log()
    assert lifecycle.ask('the cup')['status'] == 'inactive'

    assert lifecycle.transition(Transition.TRANSITION_ACTIVATE)
    assert lifecycle.state() == 'active'
    node.wait_connected()  # the camera topics are subscribed now
    node.publish_frame(image_msg(sample_rgb(), 'rgb8', stamp(1_700_000_100)))
    assert lifecycle.ask('the cup')['status'] not in ('inactive', 'error')

    assert lifecycle.transition(Transition.TRANSITION_DEACTIVATE)
    assert lifecycle.ask('the cup')['status'] == 'inactive'
    node.wait_for(lambda: node.image_pub.get_subscription_count() == 0, 30.0,
                  'the camera subscription to go')

    assert lifecycle.transition(Transition.TRANSITION_CLEANUP)
    assert lifecycle.state() == 'unconfigured'
    assert 'models released: RSS' in node.process.log()

    # Configured again from scratch, it answers again.
    assert lifecycle.transition(Transition.TRANSITION_CONFIGURE)
    assert lifecycle.transition(Transition.TRANSITION_ACTIVATE)
    node.wait_connected()
    node.publish_frame(image_msg(sample_rgb(), 'rgb8', stamp(1_700_000_200)))
    assert lifecycle.ask('the plate')['status'] not in ('inactive', 'error')


@pytest.mark.parametrize('steps, shutdown', [
    ((), Transition.TRANSITION_UNCONFIGURED_SHUTDOWN),
    ((Transition.TRANSITION_CONFIGURE,), Transition.TRANSITION_INACTIVE_SHUTDOWN),
    ((Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE),
     Transition.TRANSITION_ACTIVE_SHUTDOWN),
])
def test_shutdown_from_any_state_ends_the_process(managed, steps, shutdown):
    node, lifecycle = managed
    for step in steps:
        assert lifecycle.transition(step)
    assert lifecycle.transition(shutdown)
    assert node.process.process.wait(timeout=60.0) == 0
    log = node.process.log()
    assert 'Traceback' not in log, log

"""
Added latency of the `ground` service and action over the `command` topic, in one run.

Starts a grounding node (toy preset by default), shows it one frame, then times round trips
of the same command on that frame (its features cached, so the figures are the transport
and queueing, not the networks) through the topic (command -> result/json), the service
and the action, interleaved so drift on a busy machine hits all three alike. Prints the
medians and the service's and action's extra time over the topic.

Usage: .venv/bin/python scripts/request_latency.py [--rounds 30] [--preset toy]
"""

import argparse
import os
from pathlib import Path
import statistics
import tempfile
import time

from rclpy.action import ActionClient
from rclpy.serialization import serialize_message
from std_msgs.msg import Header, String

from zsris_ros.action import Ground as GroundAction
from zsris_ros.image_io import read_rgb
from zsris_ros.ros.image_conversion import bgr8_image
from zsris_ros.srv import Ground as GroundService
from zsris_ros.tools.live.node_client import loopback_environment, NodeClient, NodeProcess

PICTURE = Path(__file__).resolve().parents[1] / 'zsris_ros' / 'data' / 'tabletop.png'


def wait_for(get, timeout: float):
    """Poll get() until it returns something; the spinning thread of NodeClient fills it."""
    deadline = time.monotonic() + timeout
    while (value := get()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError('no answer')
        time.sleep(0.0005)
    return value


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rounds', type=int, default=30)
    parser.add_argument('--preset', default='toy')
    args = parser.parse_args()
    env = loopback_environment()
    os.environ.update(env)
    log = Path(tempfile.mkdtemp()) / 'node.log'
    node = NodeProcess('/latency', {'model_preset': args.preset, 'device': 'cpu'}, log, env)
    client = NodeClient('/latency', env)
    try:
        assert client.wait_connected(120), node.log()
        frame = bgr8_image(read_rgb(str(PICTURE)), Header(frame_id='camera'))
        frame.header.stamp.sec = 1_700_000_000
        assert client.show_frame(serialize_message(frame), 1_700_000_000 * 10**9), node.log()
        service = client.node.create_client(GroundService, '/latency/ground')
        action = ActionClient(client.node, GroundAction, '/latency/ground')
        assert service.wait_for_service(timeout_sec=30) and action.wait_for_server(30)
        text = 'the red cup'

        def by_topic() -> None:  # until the result; ask() would wait for the mask too
            seen = len(client.results)
            client.command.publish(String(data=text))
            wait_for(lambda: len(client.results) > seen or None, 60)

        def by_service() -> None:
            future = service.call_async(GroundService.Request(command=text))
            wait_for(lambda: future.result() if future.done() else None, 60)

        def by_action() -> None:
            sent = action.send_goal_async(GroundAction.Goal(command=text))
            handle = wait_for(lambda: sent.result() if sent.done() else None, 60)
            result = handle.get_result_async()
            wait_for(lambda: result.result() if result.done() else None, 60)

        rounds = {'topic': [], 'service': [], 'action': []}
        for _ in range(args.rounds):
            rounds['topic'].append(timed(by_topic))
            rounds['service'].append(timed(by_service))
            rounds['action'].append(timed(by_action))
        medians = {path: statistics.median(times) for path, times in rounds.items()}
        for path, median in medians.items():
            extra = median - medians['topic']
            print(f'{path:8s} median {median:7.1f} ms  (+{extra:5.1f} ms over the topic)')
        action.destroy()
    finally:
        client.close()
        node.stop()


if __name__ == '__main__':
    main()

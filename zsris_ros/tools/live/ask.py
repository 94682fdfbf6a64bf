"""
`zsris ask`: call a running grounding node's `ground` service and print the answer as JSON.

For people at a terminal and for agents that shell out: one command in, one JSON object out,
and an exit status a script can branch on.
"""

import json
import os
from pathlib import Path

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from std_msgs.msg import Header

from ..errors import InputError
from ...image_io import read_rgb
from ...ros.image_conversion import bgr8_image
from ...ros.messages import result_from_typed
from ...srv import Ground

#: Exit statuses: answered ok; answered otherwise (see "status"); no answer at all.
ANSWERED_OK, ANSWERED_NOT_OK, NO_ANSWER = 0, 1, 3


def ask(text: str, service: str, timeout: float, image: Path | None = None) -> int:
    """Send one command (optionally with an image file) and print the node's answer."""
    request = Ground.Request(command=text)
    if image is not None:
        rgb = read_rgb(str(image))
        if rgb is None:
            raise InputError(f'cannot read image {image}')
        request.use_image, request.image = True, bgr8_image(rgb, Header(frame_id='ask'))
    response = _call(service, request, timeout)
    if response is None:
        print(json.dumps({'command': text, 'status': 'timeout',
                          'message': f'no answer from {service} within {timeout:g} s'}))
        return NO_ANSWER
    result = result_from_typed(response.result)
    print(json.dumps(result.to_dict()))
    return ANSWERED_OK if result.status == 'ok' else ANSWERED_NOT_OK


def _call(service: str, request: Ground.Request, timeout: float) -> Ground.Response | None:
    """Call the service on a context of our own; None when it is absent or silent."""
    context = Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    node = Node(f'zsris_ask_{os.getpid()}', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        client = node.create_client(Ground, service)
        if not client.wait_for_service(timeout_sec=timeout):
            return None
        future = client.call_async(request)
        executor.spin_until_future_complete(future, timeout_sec=timeout)
        return future.result() if future.done() else None
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)

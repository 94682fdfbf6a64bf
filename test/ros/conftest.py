"""A private, loopback-only ROS context per test module."""

import random

import pytest
import rclpy
from rclpy.context import Context
from rclpy.signals import SignalHandlerOptions


@pytest.fixture(scope='module')
def ros_context():
    """Run rclpy in this process on a private localhost-only domain shared with the nodes."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
        patch.setenv('ROS_DOMAIN_ID', str(random.SystemRandom().randint(100, 200)))
        context = Context()
        rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
        try:
            yield context
        finally:
            rclpy.try_shutdown(context=context)

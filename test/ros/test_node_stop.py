"""The node's spin loop ends when its context goes down, however the shutdown arrives."""

import threading
import time

import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from zsris_ros.ros.node import spin_until_shutdown, SPIN_WAKE_S


def spinning(spin) -> tuple[Context, MultiThreadedExecutor, Node, threading.Thread]:
    """Start an idle node in its own context, spun by `spin(executor, context)` on a thread."""
    context = Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    node = Node('idle', context=context)
    executor = MultiThreadedExecutor(context=context)
    executor.add_node(node)
    thread = threading.Thread(target=spin, args=(executor, context), daemon=True)
    thread.start()
    time.sleep(0.5)  # let it enter its wait
    return context, executor, node, thread


def shut_down_as_the_signal_thread_does(context: Context) -> None:
    """Shut the rcl context down without the Python callbacks that would wake executors."""
    context.handle.shutdown()


def release(executor: MultiThreadedExecutor, node: Node, thread: threading.Thread) -> None:
    """Wake and stop the executor (what a stuck node lacked) and destroy what it spun."""
    executor.wake()
    thread.join(5.0)
    executor.shutdown()
    node.destroy_node()


def test_the_node_loop_returns_when_the_context_goes_down_without_waking_it():
    context, executor, node, thread = spinning(spin_until_shutdown)
    shut_down_as_the_signal_thread_does(context)
    thread.join(SPIN_WAKE_S * 6)
    returned = not thread.is_alive()
    release(executor, node, thread)
    assert returned, 'spin_until_shutdown kept waiting after the shutdown'


def test_a_plain_spin_is_what_hangs_so_the_test_above_can_fail():
    context, executor, node, thread = spinning(lambda executor, _: executor.spin())
    shut_down_as_the_signal_thread_does(context)
    thread.join(SPIN_WAKE_S * 6)
    still_waiting = thread.is_alive()
    release(executor, node, thread)
    assert still_waiting, 'rclpy now wakes executors on shutdown; the bounded loop may go'
    assert not thread.is_alive()

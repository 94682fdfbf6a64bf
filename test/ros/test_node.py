"""
End-to-end tests of `grounding_node`: the real console script in a subprocess, real rclpy.

The tiny preset's models have random weights, so the tests never assert which object is
chosen, only structural facts: one result per command, masks, points and stamps that agree
with each other and with what was published, and errors that are answered, not fatal.
"""

import json
import math
import os
from pathlib import Path
import subprocess
import sys
import time

import numpy as np
import pytest
from rclpy.action import ActionClient
from sensor_msgs.msg import Image
from visualization_msgs.msg import Marker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from node_harness import (camera_info_msg, CameraStream, compressed_msg,  # noqa: E402, I100
                          DISCOVERY_SETTLE_S, frame_leak_bytes, Harness, image_msg,
                          sample_rgb, stamp, stamp_dict, STARTUP_TIMEOUT_S)

from zsris_ros.action import Ground as GroundAction  # noqa: E402
from zsris_ros.srv import Ground as GroundService  # noqa: E402

WIDTH, HEIGHT = 320, 240
K = (300.0, 0.0, 160.0, 0.0, 310.0, 120.0, 0.0, 0.0, 1.0)
FX, FY, CX, CY = 300.0, 310.0, 160.0, 120.0
#: Distinct seconds per frame, so stamps never pair with another test's depth frames.
_STAMPS = iter(range(1_700_000_000, 1_800_000_000, 10))


def next_stamp():
    return stamp(next(_STAMPS), 123_456_789)


# Fixtures: one ROS context per module, a shared default node, dedicated nodes.

#: Nodes with settings of their own, each used by one test only. They are started together
#: with the shared node, since start-up is mostly single-threaded imports.
DEDICATED = {
    'noframe': {'next_frame_timeout': 1.0},
    'burst': {'command_queue_size': 3, 'next_frame_timeout': 600.0},
    'badsam': {'sam_checkpoint': '/nonexistent/sam.pth'},
    'queued': {'frame_policy': 'next', 'next_frame_timeout': 600.0, 'command_queue_size': 1},
}


@pytest.fixture(scope='module')
def nodes(ros_context, tmp_path_factory):
    """Every node of this module, started at once; SIGINT to all of them at the end."""
    logs = tmp_path_factory.mktemp('node_logs')
    started = {}
    for label, parameters in {'main': {}, **DEDICATED}.items():
        namespace = f'zsris_{label}_{os.getpid()}'
        started[label] = Harness(ros_context, namespace, parameters,
                                 logs / f'{namespace}.log')
    yield started
    for harness in started.values():
        harness.process.interrupt()
    problems = []
    for label, harness in started.items():
        try:
            log = harness.close()
        except AssertionError as error:  # ignored SIGINT: killed, the others still stop
            problems.append(f'{label}: {error}')
            continue
        if 'Traceback' in log or harness.process.process.returncode != 0:
            problems.append(f'{label} exited with {harness.process.process.returncode}:\n{log}')
    assert not problems, '\n'.join(problems)


@pytest.fixture(scope='module')
def node(nodes):
    """Wait until the shared default node, frame_policy latest, is ready; return it."""
    nodes['main'].wait_ready(image_msg(sample_rgb(), 'rgb8', next_stamp()))
    return nodes['main']


# Helpers.

def ground_frame(node: Harness, msg, text: str = 'the red cup') -> dict:
    node.publish_frame(msg)
    return node.ground(text)


def assert_still_grounding(node: Harness) -> dict:
    """After whatever came before, a good frame and command still give an ok result."""
    frame_stamp = next_stamp()
    result = ground_frame(node, image_msg(sample_rgb(), 'rgb8', frame_stamp))
    assert result['status'] == 'ok', result
    assert result['image_stamp'] == stamp_dict(frame_stamp)
    return result


def mask_array(msg) -> np.ndarray:
    assert msg.encoding == 'mono8' and msg.step == msg.width, msg
    return np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width)


def the_one(node: Harness, topic: str, frame_stamp):
    """Return the single message on an output topic stamped like the grounded frame."""
    node.stamped(topic, frame_stamp)
    time.sleep(0.1)  # a duplicate would be right behind
    found = node.stamped_now(topic, frame_stamp)
    assert len(found) == 1, found
    return found[0]


def eroded(mask: np.ndarray, radius: int = 3) -> np.ndarray:
    """Square erosion; pixels beyond the border count as inside (OpenCV's default)."""
    padded = np.pad(mask, radius, constant_values=True)
    out = np.ones_like(mask)
    size = 2 * radius + 1
    for dy in range(size):
        for dx in range(size):
            out &= padded[dy:dy + mask.shape[0], dx:dx + mask.shape[1]]
    return out


def expected_depth(mask: np.ndarray, depth_m: np.ndarray) -> float:
    """Median valid depth in the eroded mask, or in the mask when erosion empties it."""
    for region in (eroded(mask), mask):
        values = depth_m[region]
        values = values[np.isfinite(values) & (values > 0)]
        if values.size:
            return float(np.median(values))
    raise AssertionError('no valid depth in the mask')


def planar_depth() -> np.ndarray:
    """Metres on a tilted plane: 1.0 m at the top-left corner, deeper to the right and down."""
    v, u = np.mgrid[0:HEIGHT, 0:WIDTH]
    return 1.0 + 0.002 * u + 0.001 * v


# 1. A good command.

def test_good_command_on_rgb8_frame(node):
    frame_stamp = next_stamp()
    result = ground_frame(node, image_msg(sample_rgb(), 'rgb8', frame_stamp))

    assert result['status'] == 'ok', result
    assert result['image_stamp'] == stamp_dict(frame_stamp)
    assert result['frame_id'] == 'camera_colour'
    assert result['message'] == ''
    assert result['num_proposals'] >= 1 and isinstance(result['score'], float)
    assert result['noun_phrase'] and result['warnings']
    assert result['timings_ms']['queue_wait'] >= 0.0 and result['timings_ms']['total'] > 0.0
    assert result['target_point'] is None and 'depth' in result['depth_status']

    mask_msg = the_one(node, 'mask', frame_stamp)
    assert mask_msg.header.frame_id == 'camera_colour'
    assert (mask_msg.width, mask_msg.height) == (WIDTH, HEIGHT)
    mask = mask_array(mask_msg)
    assert set(np.unique(mask).tolist()) <= {0, 255}
    on = mask == 255
    rows, cols = np.nonzero(on)
    assert result['area'] == int(on.sum()) > 0
    assert result['bbox'] == [int(cols.min()), int(rows.min()), int(cols.max()) + 1,
                              int(rows.max()) + 1]

    centroid = the_one(node, 'centroid', frame_stamp)
    assert centroid.header.frame_id == 'camera_colour'
    u, v = centroid.point.x, centroid.point.y
    assert [u, v] == pytest.approx(result['centroid']) and centroid.point.z == 0.0
    assert on[int(round(v)), int(round(u))]
    assert not node.stamped_now('target_point', frame_stamp)


# 2. The 3-D target point.

@pytest.mark.parametrize('encoding', ['32FC1', '16UC1'])
def test_target_point_is_the_back_projected_centroid(node, encoding):
    frame_stamp = next_stamp()
    if encoding == '32FC1':
        metres = planar_depth().astype(np.float32)
        depth_msg = image_msg(metres, '32FC1', frame_stamp, 'camera_depth')
    else:
        millimetres = np.round(planar_depth() * 1000.0).astype(np.uint16)
        metres = millimetres / 1000.0
        depth_msg = image_msg(millimetres, '16UC1', frame_stamp, 'camera_depth')
    node.publish_depth(depth_msg, camera_info_msg(frame_stamp, K))
    result = ground_frame(node, image_msg(sample_rgb(), 'rgb8', frame_stamp))

    assert result['status'] == 'ok', result
    assert result['depth_status'] == 'ok'
    mask = mask_array(the_one(node, 'mask', frame_stamp)) == 255
    u, v = result['centroid']
    z = expected_depth(mask, metres)
    expected = [(u - CX) * z / FX, (v - CY) * z / FY, z]
    assert result['target_point'] == pytest.approx(expected, abs=1e-4)

    point = the_one(node, 'target_point', frame_stamp)
    assert point.header.frame_id == 'camera_optical'
    assert [point.point.x, point.point.y, point.point.z] == pytest.approx(expected, abs=1e-4)
    marker = the_one(node, 'marker', frame_stamp)
    assert marker.header.frame_id == 'camera_optical'
    assert marker.type == Marker.SPHERE and marker.action == Marker.ADD
    position = marker.pose.position
    assert [position.x, position.y, position.z] == pytest.approx(expected, abs=1e-4)


# 3. Bad inputs: each answered, and the node keeps grounding.

def _bad_image(kind: str, frame_stamp):
    rgb = sample_rgb()
    msg = image_msg(rgb, 'rgb8', frame_stamp)
    if kind == 'short data':
        msg.data = rgb.tobytes()[:-1]
    elif kind == 'short step':
        msg.step = WIDTH * 3 - 1
        msg.data = rgb.tobytes()[:msg.step * HEIGHT]
    else:
        msg.encoding = 'foo'
    return msg


def test_malformed_images_are_answered(node):
    expected = {'short data': f'data too short: expected {WIDTH * 3 * HEIGHT} bytes',
                'short step': f'step {WIDTH * 3 - 1} is less than width {WIDTH} x 3 bytes',
                'unknown encoding': "unknown encoding 'foo'"}
    for kind, message in expected.items():
        frame_stamp = next_stamp()
        result = ground_frame(node, _bad_image(kind, frame_stamp))
        assert result['status'] == 'error', (kind, result)
        assert message in result['message'], (kind, result)
        assert result['image_stamp'] == stamp_dict(frame_stamp)
        assert not node.stamped_now('mask', frame_stamp)
    assert_still_grounding(node)


def test_blank_and_long_commands_are_answered(node):
    node.publish_frame(image_msg(sample_rgb(), 'rgb8', next_stamp()))
    for text in ('', node.blank() + '\t\n'):
        result = node.result_for(node.send(text))
        assert (result['status'], result['message']) == ('error', 'empty command'), result

    words = 'the small red cup to the left of the plate '
    long_text = node.unique(words * (10_000 // len(words)))
    long_text += words[:10_000 - len(long_text)]
    assert len(long_text) == 10_000
    result = node.result_for(node.send(long_text))
    # A grounded answer; with random tiny models the spatial stage may find no fit, and says so.
    assert result['status'] in ('ok', 'ambiguous', 'no_match'), result
    assert result['status'] == 'ok' or result['message'], result
    assert_still_grounding(node)


def test_non_utf8_command_is_answered(node):
    """Invalid UTF-8 on the wire: rclpy decodes with replacement characters, the node answers."""
    node.publish_frame(image_msg(sample_rgb(), 'rgb8', next_stamp()))
    suffix = node.unique(' pick up the cup')
    node.send_raw(b'\xff\xfe' + suffix.encode())
    result = node.result_for('\ufffd\ufffd' + suffix)
    assert result['status'] == 'ok', result
    assert_still_grounding(node)


def test_command_before_any_frame_answers_no_image(nodes):
    node = nodes['noframe']
    node.wait_connected()
    text = node.send(node.unique('the cup'))
    result = node.result_for(text, timeout=STARTUP_TIMEOUT_S)
    assert result['status'] == 'no_image', result
    assert result['message'] and result['image_stamp'] is None
    assert result['timings_ms']['queue_wait'] >= 1000.0
    assert_still_grounding(node)


def test_unusable_depth_is_explained(node):
    frame = sample_rgb()
    nan_depth = np.full((HEIGHT, WIDTH), np.nan, np.float32)
    zero_depth = np.zeros((HEIGHT, WIDTH), np.uint16)
    small_depth = np.ones((80, 100), np.float32)
    cases = [  # depth, encoding, K, what depth_status must say
        (nan_depth, '32FC1', K, 'no valid depth inside the mask'),
        (zero_depth, '16UC1', K, 'no valid depth inside the mask'),
        (small_depth, '32FC1', K, f'depth 100x80 does not match image {WIDTH}x{HEIGHT}'),
        (planar_depth().astype(np.float32), '32FC1', (0.0,) * 9,
         'camera_info K is not usable'),
    ]
    for depth, encoding, k, reason in cases:
        frame_stamp = next_stamp()
        node.publish_depth(image_msg(depth, encoding, frame_stamp, 'camera_depth'),
                           camera_info_msg(frame_stamp, k))
        result = ground_frame(node, image_msg(frame, 'rgb8', frame_stamp))
        assert result['status'] == 'ok', result
        assert result['target_point'] is None, result
        assert reason in result['depth_status'], result
        assert not node.stamped_now('target_point', frame_stamp)
        assert not node.stamped_now('marker', frame_stamp)


# 4. Exactly one result per command, even when the queue overflows.

def test_burst_gets_one_result_per_command(nodes):
    """
    Fifteen commands against a queue of three, while the worker cannot finish any.

    The node has never had a frame and waits up to next_frame_timeout for one, so at most
    one command is being worked on and three wait: at least eleven must be dropped at once,
    whatever the speed of the machine. A frame then lets the others be grounded.
    """
    node = nodes['burst']
    node.wait_connected()
    texts = [node.send(node.unique('the cup')) for _ in range(15)]

    def dropped() -> list[dict]:
        return [r for t in texts for r in node.results_for(t) if r['status'] == 'dropped']
    node.wait_for(lambda: len(dropped()) >= 11, STARTUP_TIMEOUT_S, '11 dropped commands')
    frame = image_msg(sample_rgb(), 'rgb8', next_stamp())
    node.wait_for(lambda: all(node.results_for(t) for t in texts)
                  or node.publish_frame(frame, confirm=False), 90.0, 'all 15 results')
    time.sleep(0.5)
    statuses = []
    for text in texts:
        found = node.results_for(text)
        assert len(found) == 1, found
        statuses.append(found[0]['status'])
        if found[0]['status'] == 'dropped':
            assert found[0]['message'] == 'command queue is full', found[0]
    assert set(statuses) == {'ok', 'dropped'}, statuses
    assert 3 <= statuses.count('ok') <= 4, statuses


# 5. Which frame a command is grounded on.

#: Long enough for a command to reach an idle node before the next frame is sent.
COMMAND_LANDS_S = 1.0


def _policy_run(node: Harness, policy: str) -> tuple[dict, dict, dict]:
    """
    Ground a command sent between two frames under `policy`.

    `before` is confirmed as the node's latest frame first; `after` follows the command once
    it has had time to land, and is repeated until the result comes (best effort).
    """
    rgb = sample_rgb()
    before, after = next_stamp(), next_stamp()
    node.publish_frame(image_msg(rgb, 'rgb8', before))
    assert node.set_parameters(frame_policy=policy)[0].successful
    text = node.send(node.unique('the cup'))
    time.sleep(COMMAND_LANDS_S)
    later = image_msg(rgb, 'rgb8', after)
    node.wait_for(lambda: node.results_for(text) or node.publish_frame(later, confirm=False),
                  30.0, f'result for {text!r}')
    return node.result_for(text), stamp_dict(before), stamp_dict(after)


def test_frame_policy_latest_uses_the_frame_before_the_command(node):
    result, before, _ = _policy_run(node, 'latest')
    assert result['status'] == 'ok' and result['image_stamp'] == before, result


def test_frame_policy_next_uses_the_frame_after_the_command(node):
    try:
        result, _, after = _policy_run(node, 'next')
    finally:
        assert node.set_parameters(frame_policy='latest')[0].successful
    assert result['status'] == 'ok' and result['image_stamp'] == after, result


# 6. A camera faster than inference.

#: A frame sent longer than this before a command is stale (30 frames at 30 Hz).
FRESH_S = 1.0
#: Growth allowed over the flood's second half, after the caches are full (measured < 1 MB).
FLOOD_SLACK_MB = 8.0
MB = 2 ** 20


def ground_in_flood(node: Harness, camera: CameraStream) -> float:
    """Send a command into the flood; return the age (s) of its frame when it was sent."""
    text = node.unique('the cup')
    sent = time.monotonic()
    node.send(text)
    node.wait_for(lambda: node.results_for(text), 60.0, f'result for {text!r}')
    received = time.monotonic()
    result = node.result_for(text, settle=0.0)
    assert result['status'] == 'ok', result
    frame_sent = camera.sent_at(result['image_stamp'])
    assert frame_sent is not None, f'not a frame of the flood: {result}'
    # The node took the frame it had when the command arrived, before queueing and inference.
    in_node = (result['timings_ms']['queue_wait'] + result['timings_ms']['total']) / 1000.0
    assert frame_sent <= received - in_node, f'a frame sent after the command arrived: {result}'
    return round(sent - frame_sent, 3)


def test_image_flood_keeps_memory_flat_and_grounds_on_fresh_frames(node, record_property):
    """
    A 30 Hz camera, faster than inference, with a command every few seconds.

    Frames and commands travel on separate readers, so the node may have the frames sent
    just after a command when it arrives; a frame from before FRESH_S is stale. Memory:
    after the caches are full, the second half of the flood must not grow by FLOOD_SLACK_MB,
    and lasts until a node keeping every frame would have grown by twice that.
    """
    fill = node.fill_caches(lambda: node.publish_frame(image_msg(sample_rgb(), 'rgb8',
                                                                 next_stamp())))
    frames_needed = math.ceil(2 * FLOOD_SLACK_MB * MB / frame_leak_bytes())
    ages = []
    with CameraStream(node, next(_STAMPS)) as camera:
        for _ in range(2):
            time.sleep(2.0)
            ages.append(ground_in_flood(node, camera))
        middle, middle_frames = node.process.steady_rss(), camera.count
        ages.append(ground_in_flood(node, camera))
        node.wait_for(lambda: camera.count - middle_frames >= frames_needed, 60.0,
                      f'{frames_needed} frames in the second half')
        end, frames = node.process.steady_rss(), camera.count - middle_frames
        rate = camera.rate()
    growth_mb = (end - middle) / MB
    figures = (f'{len(fill)} commands filled the caches; flood {rate:.1f} Hz; frame age at '
               f'each command {ages} s; RSS {middle / MB:.1f} -> {end / MB:.1f} MB '
               f'({growth_mb:+.1f} MB) over the second half, where keeping its {frames} frames '
               f'would add {frames * frame_leak_bytes() / MB:.0f} MB')
    print(figures)
    record_property('flood_memory', figures)
    assert all(age <= FRESH_S for age in ages), f'a stale frame was grounded: {figures}'
    assert growth_mb < FLOOD_SLACK_MB, figures


# 7. Parameters at run time.

def test_parameters_are_validated_at_run_time(node):
    rgb = sample_rgb()
    try:
        assert node.set_parameters(v=0.5)[0].successful
        assert node.get_parameters('v') == {'v': 0.5}
        text = node.unique('the red cup')
        node.publish_frame(image_msg(rgb, 'rgb8', next_stamp()))
        before = node.result_for(node.send(text))
        rejected = {
            'v': node.set_parameters(v=1.5)[0],
            'clip_model': node.set_parameters(clip_model='ViT-B-32')[0],
            'masking_block': node.set_parameters(masking_block=99)[0],
            'masking_block below depth': node.set_parameters(masking_block=4)[0],
            'atomic': node.set_parameters_atomically(v=0.05, frame_policy='sideways'),
        }
        for name, answer in rejected.items():
            assert not answer.successful and answer.reason, name
        assert 'clip_model' in rejected['clip_model'].reason
        assert 'vision depth 4' in rejected['masking_block below depth'].reason
        assert 'frame_policy' in rejected['atomic'].reason
        assert node.get_parameters('v', 'masking_block', 'clip_model', 'frame_policy') == {
            'v': 0.5, 'masking_block': 2, 'clip_model': 'zsris-tiny', 'frame_policy': 'latest'}
        # Nothing of the rejected changes reached the models: same pixels and text, same score.
        node.publish_frame(image_msg(rgb, 'rgb8', next_stamp()))
        node.send(text)
        after = node.wait_for(lambda: node.results_for(text)[1:], 30.0, 'second result')[0]
        assert (before['status'], after['status']) == ('ok', 'ok'), (before, after)
        assert after['score'] == pytest.approx(before['score'], abs=1e-6)
        assert after['bbox'] == before['bbox']
    finally:
        assert node.set_parameters(v=0.95)[0].successful


# 8. Compressed frames; 9. the overlay.

def test_compressed_image_is_grounded(node):
    frame_stamp = next_stamp()
    result = ground_frame(node, compressed_msg(sample_rgb(), frame_stamp))
    assert result['status'] == 'ok', result
    assert result['image_stamp'] == stamp_dict(frame_stamp)
    mask = mask_array(the_one(node, 'mask', frame_stamp))
    assert mask.shape == (HEIGHT, WIDTH) and int((mask == 255).sum()) == result['area']


def test_overlay_is_published_when_subscribed(node):
    frame_stamp = next_stamp()
    rgb = sample_rgb()
    result = ground_frame(node, image_msg(rgb, 'rgb8', frame_stamp))
    assert result['status'] == 'ok', result
    overlay = the_one(node, 'overlay', frame_stamp)
    assert overlay.encoding == 'bgr8' and overlay.header.frame_id == 'camera_colour'
    assert (overlay.width, overlay.height, overlay.step) == (WIDTH, HEIGHT, WIDTH * 3)
    picture = np.frombuffer(bytes(overlay.data), np.uint8).reshape(HEIGHT, WIDTH, 3)
    mask = mask_array(the_one(node, 'mask', frame_stamp)) == 255
    assert (picture[mask] != rgb[..., ::-1][mask]).any()


# 10. Models that fail to load.

def test_failed_model_load_answers_every_command_with_the_reason(nodes):
    node = nodes['badsam']
    node.wait_connected(cameras=False)  # configure failed: never active
    texts = [node.send(node.unique('the cup'))]
    node.publish_frame(image_msg(sample_rgb(), 'rgb8', next_stamp()), confirm=False)
    texts += [node.send(node.unique('the plate')), node.send('')]
    for text in texts:
        result = node.result_for(text, timeout=60.0)
        assert result['status'] == 'error', result
        assert '/nonexistent/sam.pth' in result['message'], result
    assert node.process.alive()
    status = node.diagnostics(level=2)
    assert '/nonexistent/sam.pth' in status.message
    assert {v.key: v.value for v in status.values}['model state'] == 'failed'


def test_diagnostics_report_health_and_stage_latencies(node):
    node.ground(node.unique('the cup'))
    status = node.wait_for(
        lambda: next((s for s in reversed(node.received('diagnostics'))
                      if any(v.key == 'total p95 ms' for v in s.values)), None),
        30.0, 'a diagnostics status with latencies')
    values = {v.key: v.value for v in status.values}
    assert status.hardware_id == 'cpu'
    assert values['model state'] == 'ready'
    assert int(values['commands answered']) >= 1
    for stage in ('total', 'queue_wait'):
        assert float(values[f'{stage} p95 ms']) >= float(values[f'{stage} p50 ms']) >= 0.0


# The ground service and action: the same queue, worker and answers as topic commands.

def call(node, command: str, image=None) -> GroundService.Response:
    client = node.node.create_client(GroundService, f'/{node.namespace}/ground')
    try:
        assert client.wait_for_service(timeout_sec=30.0)
        time.sleep(DISCOVERY_SETTLE_S)
        request = GroundService.Request(command=command, use_image=image is not None)
        if image is not None:
            request.image = image
        return node.answer(lambda: client.call_async(request), 'the call')
    finally:
        node.node.destroy_client(client)


class Goal:
    """One action goal: its handle, the feedback stages heard, and its result future."""

    def __init__(self, client: ActionClient, node, command: str) -> None:
        self.stages: list[str] = []
        self.node = node
        self.handle = node.answer(
            lambda: client.send_goal_async(GroundAction.Goal(command=command),
                                           feedback_callback=self._feedback),
            'the goal to be accepted')
        assert self.handle.accepted

    def _feedback(self, msg) -> None:
        self.stages.append(msg.feedback.stage)

    def result(self):
        return self.node.answer(self.handle.get_result_async, 'the goal result')


@pytest.fixture
def action_client(nodes):
    clients = []

    def make(label: str) -> ActionClient:
        node = nodes[label]
        client = ActionClient(node.node, GroundAction, f'/{node.namespace}/ground')
        assert client.wait_for_server(timeout_sec=30.0)
        time.sleep(DISCOVERY_SETTLE_S)
        clients.append((node, client))
        return client
    yield make
    for _, client in clients:
        client.destroy()


def test_a_service_call_is_answered_like_a_topic_command(nodes):
    node = nodes['main']
    node.wait_ready(image_msg(sample_rgb(), 'rgb8', next_stamp()))
    frame = image_msg(sample_rgb(), 'rgb8', next_stamp())
    node.publish_frame(frame)
    text = node.unique('the red cup')
    response = call(node, text)
    typed = response.result
    assert typed.command == text
    assert typed.status in ('ok', 'no_match', 'ambiguous'), typed.message
    assert (typed.image_header.stamp.sec, typed.image_header.stamp.nanosec) == (
        frame.header.stamp.sec, frame.header.stamp.nanosec)
    assert [t.stage for t in typed.timings][-1] == 'queue_wait'
    published = node.result_for(text)
    assert published['status'] == typed.status
    assert published['score'] == pytest.approx(typed.score, rel=1e-5)
    if typed.status == 'ok':
        assert (response.mask.width, response.mask.height) == (frame.width, frame.height)
        assert response.mask.encoding == 'mono8'
        assert sum(response.mask.data) // 255 == typed.area


def test_a_request_grounds_on_the_image_it_brings(nodes):
    node = nodes['main']
    node.wait_ready(image_msg(sample_rgb(), 'rgb8', next_stamp()))
    own = image_msg(sample_rgb()[:200, :300].copy(), 'rgb8', stamp(42, 7))
    response = call(node, node.unique('the plate'), own)
    assert response.result.status != 'error', response.result.message
    assert (response.result.image_header.stamp.sec, response.result.num_proposals > 0) == (
        42, True)
    if response.result.status == 'ok':
        assert (response.mask.width, response.mask.height) == (300, 200)


def test_a_request_with_a_bad_image_gets_its_status_and_the_node_serves_on(nodes):
    node = nodes['main']
    node.wait_ready(image_msg(sample_rgb(), 'rgb8', next_stamp()))
    bad = image_msg(sample_rgb(), 'rgb8', stamp(43, 0))
    bad.encoding = 'rgb17'
    response = call(node, node.unique('the cup'), bad)
    assert response.result.status == 'error'
    assert 'rgb17' in response.result.message
    assert len(response.mask.data) == 0
    empty = call(node, node.unique('the cup'), Image())
    assert empty.result.status == 'error' and empty.result.message, empty.result
    assert call(node, node.unique('the cup')).result.status != 'error'


def test_an_action_reports_each_stage_and_its_result(nodes, action_client):
    node = nodes['main']
    node.wait_ready(image_msg(sample_rgb(), 'rgb8', next_stamp()))
    node.publish_frame(image_msg(sample_rgb(), 'rgb8', next_stamp()))
    goal = Goal(action_client('main'), node, node.unique('the red cup'))
    answer = goal.result()
    assert answer.result.result.status in ('ok', 'no_match', 'ambiguous')
    node.wait_for(lambda: len(goal.stages) >= 4, 10.0, 'all feedback')
    assert goal.stages == ['queued', 'waiting_for_frame', 'proposals', 'scoring']


def test_cancel_while_queued_and_while_running(nodes, action_client):
    """
    Cancel one goal while it runs and one while it waits; overflow the queue with a call.

    Under frame_policy next the worker waits for a frame: the first goal is running, the
    second queued; a third request finds the one-slot queue full and is dropped at once.
    """
    node = nodes['queued']
    node.wait_connected()
    client = action_client('queued')
    running = Goal(client, node, node.unique('the cup'))
    node.wait_for(lambda: 'waiting_for_frame' in running.stages, 60.0, 'the first goal to run')
    queued = Goal(client, node, node.unique('the plate'))
    dropped = call(node, node.unique('the bowl'))
    assert dropped.result.status == 'dropped'
    node.answer(queued.handle.cancel_goal_async, 'the cancel while queued')
    node.answer(running.handle.cancel_goal_async, 'the cancel while running')
    node.publish_frame(image_msg(sample_rgb(), 'rgb8', next_stamp()), confirm=False)
    for goal, when in ((running, 'during inference'), (queued, 'while queued')):
        answer = goal.result()
        assert answer.status == 5, answer  # action_msgs/GoalStatus.STATUS_CANCELED
        assert answer.result.result.status == 'cancelled'
        assert when in answer.result.result.message
    after = Goal(client, node, node.unique('the cup'))
    node.wait_for(lambda: 'waiting_for_frame' in after.stages, 60.0, 'the next goal to run')
    node.publish_frame(image_msg(sample_rgb(), 'rgb8', next_stamp()), confirm=False)
    assert after.result().result.result.status not in ('error', 'cancelled')


def test_a_node_stopped_with_requests_in_flight_exits_cleanly(ros_context, tmp_path):
    node = Harness(ros_context, f'zsris_inflight_{os.getpid()}',
                   {'frame_policy': 'next', 'next_frame_timeout': 600.0}, tmp_path / 'node.log')
    client = ActionClient(node.node, GroundAction, f'/{node.namespace}/ground')
    try:
        node.wait_connected()
        assert client.wait_for_server(timeout_sec=30.0)
        time.sleep(DISCOVERY_SETTLE_S)
        goal = Goal(client, node, 'the cup')
        node.wait_for(lambda: 'waiting_for_frame' in goal.stages, 60.0, 'the goal to run')
        service = node.node.create_client(GroundService, f'/{node.namespace}/ground')
        assert service.wait_for_service(timeout_sec=30.0)
        time.sleep(DISCOVERY_SETTLE_S)
        service.call_async(GroundService.Request(command='the plate'))
        time.sleep(0.5)
    finally:
        client.destroy()
        log = node.close()
    assert node.process.process.returncode == 0 and 'Traceback' not in log, log


def run_ask(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name('zsris')), 'ask', *arguments],
                          capture_output=True, text=True, timeout=120, env=os.environ)


def test_zsris_ask_prints_the_answer_and_exits_by_status(nodes):
    node = nodes['main']
    node.wait_ready(image_msg(sample_rgb(), 'rgb8', next_stamp()))
    text = node.unique('the red cup')
    done = run_ask(text, '--service', f'/{node.namespace}/ground')
    answer = json.loads(done.stdout)
    assert answer['command'] == text
    assert done.returncode == (0 if answer['status'] == 'ok' else 1), done.stderr
    assert node.result_for(text)['status'] == answer['status']


def test_zsris_ask_without_a_node_says_so():
    done = run_ask('the cup', '--service', '/nobody/ground', '--timeout', '1')
    assert done.returncode == 3
    assert json.loads(done.stdout)['status'] == 'timeout'

"""
The package's typed interfaces (msg/, srv/, action/), as CMakeLists.txt generates them.

`make install` builds them into .venv; these tests import the generated Python types and send
every field through the ROS serialisation, so a field the generator or the wire drops fails.
"""

import math
from pathlib import Path
import re

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, PointStamped
import numpy as np
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from zsris_ros.action import Ground as GroundAction
from zsris_ros.grounding.result import STATUSES
from zsris_ros.msg import Anchor, Candidate, GroundingResult, StageTiming
from zsris_ros.srv import Ground

REPO = Path(__file__).resolve().parents[1]


def stamped_header() -> Header:
    """Return a header with a stamp and a frame, as a camera driver fills it."""
    return Header(stamp=Time(sec=1_700_000_000, nanosec=123_456_789), frame_id='camera_optical')


def full_result() -> GroundingResult:
    """
    Build a result with every field set to something other than its default.

    Its float32 values are exact in float32, so a result read back compares equal.
    """
    header = stamped_header()
    return GroundingResult(
        command='pick up the red mug left of the bowl',
        expression='the red mug left of the bowl',
        referring_expression='the red mug left of the bowl',
        noun_phrase='red mug',
        status=GroundingResult.STATUS_AMBIGUOUS,
        message='two mugs fit nearly equally',
        score=0.3125, margin=0.015625,
        bbox=[10.0, 20.0, 110.0, 140.0], centroid=[60.5, 80.25],
        area=9000, num_proposals=42,
        has_target_point=True,
        target_point=PointStamped(header=header, point=Point(x=0.1, y=-0.2, z=0.75)),
        depth_status='ok',
        image_header=header,
        reading_json='{"target": "red mug", "relations": [["left of", "the bowl"]]}',
        anchors=[Anchor(phrase='the bowl', bbox=[200.0, 30.0, 300.0, 120.0])],
        candidates=[Candidate(bbox=[10.0, 20.0, 110.0, 140.0], centroid=[60.5, 80.25],
                              score=0.5),
                    Candidate(bbox=[400.0, 22.0, 480.0, 130.0], centroid=[440.0, 76.0],
                              score=0.46875)],
        question='Which mug: the one on the left or the one on the right?',
        timings=[StageTiming(stage='proposals', ms=812.5), StageTiming(stage='scoring', ms=40.0)],
        warnings=['tiny or random-weight models: answers are meaningless'])


def small_image() -> Image:
    """Return a 2x3 rgb8 image with distinct bytes."""
    return Image(header=stamped_header(), height=2, width=3, encoding='rgb8', is_bigendian=0,
                 step=9, data=list(range(18)))


def round_trip(message):
    """Serialise a message as it goes on the wire and read it back."""
    return deserialize_message(serialize_message(message), type(message))


def differs(value, default) -> bool:
    """Tell whether a field's value is not its default (arrays compared element by element)."""
    if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
        return not np.array_equal(value, default)
    return value != default


def assert_every_field_set(message) -> None:
    """Fail if any field of the message still holds its default value."""
    default = type(message)()
    unset = [name for name in message.get_fields_and_field_types()
             if not differs(getattr(message, name), getattr(default, name))]
    assert not unset, f'{type(message).__name__} fields left at their default: {unset}'


def test_status_constants_are_the_result_types_statuses_in_order():
    names = [name for name in vars(type(GroundingResult)) if name.startswith('STATUS_')]
    assert names == [f'STATUS_{status.upper()}' for status in STATUSES]
    assert [getattr(GroundingResult, name) for name in names] == list(STATUSES)


def test_grounding_result_round_trips_with_every_field_set():
    result = full_result()
    assert_every_field_set(result)
    back = round_trip(result)
    assert back == result
    assert back.candidates[1].score == 0.46875
    assert back.anchors[0].phrase == 'the bowl'
    assert back.timings[0].stage == 'proposals'
    assert back.target_point.point.z == 0.75
    assert back.image_header.stamp.nanosec == 123_456_789


def test_missing_values_travel_as_nan():
    result = GroundingResult(command='the cup', status=GroundingResult.STATUS_NO_MATCH,
                             score=math.nan, margin=math.nan, bbox=[math.nan] * 4,
                             centroid=[math.nan] * 2)
    back = round_trip(result)
    assert math.isnan(back.score) and math.isnan(back.margin)
    assert np.isnan(back.bbox).all() and np.isnan(back.centroid).all()
    assert not back.has_target_point


def test_ground_service_round_trips():
    request = Ground.Request(command='the red mug', use_image=True, image=small_image())
    assert_every_field_set(request)
    assert round_trip(request) == request
    response = Ground.Response(result=full_result(), mask=small_image())
    assert_every_field_set(response)
    assert round_trip(response) == response


def test_ground_action_round_trips():
    goal = GroundAction.Goal(command='the red mug', use_image=True, image=small_image())
    assert_every_field_set(goal)
    assert round_trip(goal) == goal
    result = GroundAction.Result(result=full_result(), mask=small_image())
    assert round_trip(result) == result
    feedback = GroundAction.Feedback(stage='proposals', elapsed_ms=12.5)
    assert_every_field_set(feedback)
    assert round_trip(feedback) == feedback


def test_cmake_generates_every_interface_file():
    listed = set(re.findall(r'^\s+((?:msg|srv|action)/\w+\.(?:msg|srv|action))\s*$',
                            (REPO / 'CMakeLists.txt').read_text(), re.MULTILINE))
    present = {str(path.relative_to(REPO)) for folder in ('msg', 'srv', 'action')
               for path in (REPO / folder).iterdir()}
    assert listed == present

"""The typed result message carries every field of the core's result, and reads back."""

import math

import numpy as np
from rclpy.serialization import deserialize_message, serialize_message

from zsris_ros.grounding.result import GroundingResult, result_keys, STATUSES
from zsris_ros.msg import GroundingResult as GroundingResultMsg
from zsris_ros.ros.messages import result_from_typed, typed_result


def full_result() -> GroundingResult:
    """Return a result with every field set, as an ambiguous spatial answer has them."""
    return GroundingResult(
        command='pick up the mug on the left', expression='pick up the mug on the left',
        referring_expression='the mug on the left', noun_phrase='the mug', status='ambiguous',
        message='two objects fit', score=0.25, margin=0.0625, bbox=[10, 20, 110, 220],
        centroid=[60.5, 120.25], area=15000, num_proposals=42, target_point=[0.5, -0.25, 1.5],
        depth_status='ok', image_stamp={'sec': 1700000000, 'nanosec': 123456789},
        frame_id='camera_color_optical_frame',
        reading={'target': 'the mug', 'positions': ['left'], 'relations': []},
        anchors={'the bowl': [1, 2, 3, 4]},
        candidates=[{'box': [10, 20, 110, 220], 'centroid': [60.5, 120.25], 'score': 0.5},
                    {'box': [200, 20, 300, 220], 'centroid': [250.0, 120.0], 'score': 0.5}],
        question='the mug on the left or the one in the middle?',
        timings_ms={'proposals': 12.5, 'total': 30.0, 'queue_wait': 0.5},
        warnings=['random weights'], mask=np.ones((4, 4), bool))


def test_every_field_survives_the_typed_message_and_its_wire_format():
    result = full_result()  # its numbers are exact in float32, the message's width
    wire = serialize_message(typed_result(result))
    back = result_from_typed(deserialize_message(wire, GroundingResultMsg)).to_dict()
    assert list(back) == result_keys()
    assert back == result.to_dict()


def test_missing_values_are_nan_in_the_message_and_null_again_after():
    result = GroundingResult.failure('the cup', 'no_image', 'no camera frame')
    msg = typed_result(result)
    assert math.isnan(msg.score) and math.isnan(msg.margin)
    assert all(map(math.isnan, msg.bbox)) and not msg.has_target_point
    assert result_from_typed(msg).to_dict() == result.to_dict()


def test_the_message_names_every_status_of_the_core():
    constants = {value for name, value in vars(GroundingResultMsg).items()
                 if name.startswith('STATUS_')}
    assert constants == set(STATUSES)

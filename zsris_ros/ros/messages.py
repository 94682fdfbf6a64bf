"""Builders of the node's output messages from a GroundingResult; no logic of the method."""

import json
from typing import Any

from geometry_msgs.msg import PointStamped
from std_msgs.msg import Header, String
from visualization_msgs.msg import Marker


def result_message(payload: dict[str, Any]) -> String:
    """Pack a result for the `result` topic: one JSON object per command."""
    return String(data=json.dumps(payload, allow_nan=False, default=str))


def pixel_point(header: Header, centroid: list[float]) -> PointStamped:
    """`centroid`: x = u, y = v in pixels, stamped like the grounded frame."""
    msg = PointStamped(header=header)
    msg.point.x, msg.point.y = float(centroid[0]), float(centroid[1])
    return msg


def metric_point(header: Header, xyz: list[float]) -> PointStamped:
    """`target_point`: metres in the camera optical frame."""
    msg = PointStamped(header=header)
    msg.point.x, msg.point.y, msg.point.z = map(float, xyz)
    return msg


def target_marker(header: Header, xyz: list[float], diameter: float, text: str) -> Marker:
    """Build a sphere marker at the target for RViz, named after the noun phrase."""
    marker = Marker(header=header, ns='zsris_target', id=0, type=Marker.SPHERE,
                    action=Marker.ADD, text=text)
    marker.pose.position.x, marker.pose.position.y, marker.pose.position.z = map(float, xyz)
    marker.pose.orientation.w = 1.0
    marker.scale.x = marker.scale.y = marker.scale.z = float(diameter)
    marker.color.g, marker.color.a = 1.0, 0.8
    return marker

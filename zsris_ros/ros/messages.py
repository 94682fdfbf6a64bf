"""Builders of the node's output messages from a GroundingResult; no logic of the method."""

import json
import math
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PointStamped
from std_msgs.msg import Header, String
from visualization_msgs.msg import Marker

from .health import Health
from ..grounding.result import GroundingResult
from ..msg import Anchor, Candidate, StageTiming
from ..msg import GroundingResult as GroundingResultMsg


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


def diagnostic_array(stamp: Any, name: str, hardware_id: str, health: Health
                     ) -> DiagnosticArray:
    """Wrap a health report as the one status of a /diagnostics message."""
    status = DiagnosticStatus(level=bytes([health.level]), name=name, message=health.message,
                              hardware_id=hardware_id)
    status.values = [KeyValue(key=key, value=value) for key, value in health.values.items()]
    return DiagnosticArray(header=Header(stamp=stamp), status=[status])


def typed_result(result: GroundingResult) -> GroundingResultMsg:
    """Convert a result into the typed message; NaN stands where the JSON has null."""
    msg = GroundingResultMsg(
        command=result.command, expression=result.expression,
        referring_expression=result.referring_expression, noun_phrase=result.noun_phrase,
        status=result.status, message=result.message, score=_or_nan(result.score),
        margin=_or_nan(result.margin), bbox=_floats(result.bbox, 4),
        centroid=_floats(result.centroid, 2), area=int(result.area),
        num_proposals=int(result.num_proposals), depth_status=result.depth_status,
        reading_json=json.dumps(result.reading) if result.reading else '',
        question=result.question, warnings=list(result.warnings))
    stamp = result.image_stamp or {}
    msg.image_header.stamp.sec = int(stamp.get('sec', 0))
    msg.image_header.stamp.nanosec = int(stamp.get('nanosec', 0))
    msg.image_header.frame_id = result.frame_id
    if result.target_point is not None:
        msg.has_target_point = True
        msg.target_point.header = msg.image_header
        point = msg.target_point.point
        point.x, point.y, point.z = map(float, result.target_point)
    msg.anchors = [Anchor(phrase=phrase, bbox=_floats(box, 4))
                   for phrase, box in result.anchors.items()]
    msg.candidates = [Candidate(bbox=_floats(c['box'], 4), centroid=_floats(c['centroid'], 2),
                                score=float(c['score'])) for c in result.candidates]
    msg.timings = [StageTiming(stage=stage, ms=float(ms))
                   for stage, ms in result.timings_ms.items()]
    return msg


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _floats(values: list[float] | None, size: int) -> list[float]:
    return [math.nan] * size if values is None else [float(v) for v in values]


def result_from_typed(msg: GroundingResultMsg) -> GroundingResult:
    """Read a typed result back into the core's result (null where the message has NaN)."""
    stamp = msg.image_header.stamp
    point = msg.target_point.point
    return GroundingResult(
        command=msg.command, expression=msg.expression,
        referring_expression=msg.referring_expression, noun_phrase=msg.noun_phrase,
        status=msg.status, message=msg.message, score=_or_none(msg.score),
        margin=_or_none(msg.margin), bbox=_ints_or_none(msg.bbox),
        centroid=_list_or_none(msg.centroid), area=msg.area, num_proposals=msg.num_proposals,
        target_point=[point.x, point.y, point.z] if msg.has_target_point else None,
        depth_status=msg.depth_status,
        image_stamp={'sec': stamp.sec, 'nanosec': stamp.nanosec}
        if stamp.sec or stamp.nanosec or msg.image_header.frame_id else None,
        frame_id=msg.image_header.frame_id,
        reading=json.loads(msg.reading_json) if msg.reading_json else None,
        anchors={a.phrase: _ints_or_none(a.bbox) for a in msg.anchors},
        candidates=[{'box': _ints_or_none(c.bbox), 'centroid': _list_or_none(c.centroid),
                     'score': float(c.score)} for c in msg.candidates],
        question=msg.question, timings_ms={t.stage: float(t.ms) for t in msg.timings},
        warnings=list(msg.warnings))


def _or_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _list_or_none(values: Any) -> list[float] | None:
    values = [float(v) for v in values]
    return None if any(map(math.isnan, values)) else values


def _ints_or_none(values: Any) -> list[int] | None:
    floats = _list_or_none(values)
    return None if floats is None else [int(v) for v in floats]

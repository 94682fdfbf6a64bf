"""
Settings that only the ROS node has: frame pairing, queueing, outputs.

They live in a typed model like the core's GroundingConfig, so declarations, ranges, the YAML
file and the README table come from one place. The queue and buffer limits keep what a node
can hold within the README's memory bound ("Memory"): each entry may pin one frame message.
"""

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ..grounding.config import GroundingConfig, setting, setting_kind


class NodeSettings(BaseModel):
    """How the node pairs commands with frames and what it publishes."""

    model_config = ConfigDict(extra='forbid', validate_assignment=True)

    autostart: bool = setting(
        True, restart=True, changes_answers=False,
        description='Configure (load the models) and activate at start-up; false leaves the '
        'lifecycle node unconfigured for a lifecycle manager or `ros2 lifecycle set`')
    frame_policy: Literal['latest', 'next'] = setting(
        'latest', description='Ground a command on the latest frame received before it '
        '(latest) or on the first frame after it (next)')
    next_frame_timeout: float = setting(
        5.0, ge=0.0, le=600.0,
        description="Seconds a command waits for a frame under frame_policy 'next' (or for "
        'the first frame at all) before answering no_image')
    command_queue_size: int = setting(
        10, ge=1, le=100,
        description='Commands waiting for inference; a command beyond this answers dropped',
        restart=True)
    depth_tolerance: float = setting(
        0.05, ge=0.0, le=10.0,
        description='Largest stamp difference (s) between a colour frame and its depth frame')
    depth_wait: float = setting(
        0.5, ge=0.0, le=10.0,
        description='Seconds a command waits for the depth frame taken with its colour frame '
        'while the depth stream lags behind the colour stream')
    depth_buffer_size: int = setting(
        30, ge=1, le=100, description='Recent depth frames kept for stamp pairing',
        restart=True)
    act_on_ambiguous: bool = setting(
        False, description='Publish the best guess (mask, points, marker) even when the answer '
        'is ambiguous; by default an ambiguous command gets only its result, with a question')
    reply_timeout: float = setting(
        60.0, ge=0.0, le=3600.0,
        description='Seconds after an ambiguous answer during which a command that names no '
        "kind of object ('the left one', 'on the left') is read as a reply to its question "
        "('the left red mug'); 0: never")
    overlay_alpha: float = setting(
        0.5, ge=0.0, le=1.0, description='Opacity of the mask in the overlay image',
        changes_answers=False)
    diagnostics_period: float = setting(
        1.0, ge=0.1, le=60.0, restart=True, changes_answers=False,
        description='Seconds between health reports on /diagnostics')
    diagnostics_window: int = setting(
        100, ge=1, le=10000, restart=True, changes_answers=False,
        description='Recent commands the diagnostics latency percentiles and failure counts '
        'cover')
    marker_scale: float = setting(
        0.05, ge=0.001, le=10.0, description='Diameter (m) of the target marker sphere',
        changes_answers=False)


#: Parameter names that differ from the settings field names (a bare `preset` is ambiguous
#: among a robot's many nodes).
ROS_NAMES = {'preset': 'model_preset'}


@dataclass(frozen=True)
class ParameterRow:
    """One node parameter as the declarations, the YAML and the README table see it."""

    name: str
    field: str
    default: Any
    kind: type
    low: float | None
    high: float | None
    choices: tuple[str, ...]
    description: str
    read_only: bool
    frame_key: bool
    changes_answers: bool


def parameter_rows() -> list[ParameterRow]:
    """Every node parameter, from GroundingConfig then NodeSettings, in declaration order."""
    rows = []
    for model in (GroundingConfig, NodeSettings):
        defaults = model().model_dump()
        for name, field in model.model_fields.items():
            low = high = None
            for item in field.metadata:
                low, high = getattr(item, 'ge', low), getattr(item, 'le', high)
            choices = tuple(getattr(field.annotation, '__args__', ()))
            kind = setting_kind(field)
            rows.append(ParameterRow(
                name=ROS_NAMES.get(name, name), field=name, default=defaults[name],
                kind=str if choices else field.annotation, low=low, high=high,
                choices=choices, description=field.description, read_only=kind['restart'],
                frame_key=model is GroundingConfig and kind['frame_key'],
                changes_answers=kind['changes_answers']))
    return rows

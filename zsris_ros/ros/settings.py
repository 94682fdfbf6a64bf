"""Settings that only the ROS node has: frame pairing, queueing, outputs.

They live in a typed model like the core's GroundingConfig, so declarations, ranges, the YAML
file and the README table come from one place.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..grounding.config import RESTART


class NodeSettings(BaseModel):
    """How the node pairs commands with frames and what it publishes."""

    model_config = ConfigDict(extra='forbid', validate_assignment=True)

    frame_policy: Literal['latest', 'next'] = Field(
        'latest', description='Ground a command on the latest frame received before it '
        '(latest) or on the first frame after it (next)')
    next_frame_timeout: float = Field(
        5.0, ge=0.0, le=600.0,
        description="Seconds a command waits for a frame under frame_policy 'next' (or for "
        'the first frame at all) before answering no_image')
    command_queue_size: int = Field(
        10, ge=1, le=1000,
        description='Commands waiting for inference; a command beyond this answers dropped',
        json_schema_extra=RESTART)
    depth_tolerance: float = Field(
        0.05, ge=0.0, le=10.0,
        description='Largest stamp difference (s) between a colour frame and its depth frame')
    depth_buffer_size: int = Field(
        30, ge=1, le=1000, description='Recent depth frames kept for stamp pairing',
        json_schema_extra=RESTART)
    overlay_alpha: float = Field(
        0.5, ge=0.0, le=1.0, description='Opacity of the mask in the overlay image')
    marker_scale: float = Field(
        0.05, ge=0.001, le=10.0, description='Diameter (m) of the target marker sphere')

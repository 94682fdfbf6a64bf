"""
The one result type of a command: the CLI, the node, the evaluators and the demo all use it.

The pipeline fills what grounding found; the node adds where the answer lies in 3-D and which
frame it was grounded on. A command that never reaches the pipeline (dropped, no image, ...)
gets the same type through `GroundingResult.failure`, so every consumer reads one set of keys.
"""

from dataclasses import dataclass, field, fields
import math
from typing import Any, get_args, Literal

import numpy as np

#: Every way a command can end. ok, ambiguous (two objects fit nearly equally: see `question`
#: and `candidates`), no_match and no_proposals come from the pipeline; error
#: from anything that failed; no_image, dropped and timeout from whoever delivers the frame
#: and the command (the node, the bag replay, the demo's wait for an answer); cancelled when
#: the caller withdrew the request (an action goal cancelled while queued or running);
#: inactive when the (lifecycle) node is not active.
Status = Literal['ok', 'ambiguous', 'no_match', 'no_proposals', 'error', 'no_image',
                 'dropped', 'timeout', 'cancelled', 'inactive']
STATUSES: tuple[str, ...] = get_args(Status)
RANDOM_WEIGHTS_WARNING = 'tiny or random-weight models: answers are meaningless'


@dataclass
class GroundingResult:
    """What grounding one command on one frame produced, and how long it took."""

    command: str
    expression: str = ''
    referring_expression: str = ''
    noun_phrase: str = ''
    status: Status = 'error'
    message: str = ''
    score: float | None = None
    margin: float | None = None
    bbox: list[int] | None = None
    centroid: list[float] | None = None
    area: int = 0
    num_proposals: int = 0
    target_point: list[float] | None = None
    depth_status: str = ''
    image_stamp: dict[str, int] | None = None
    frame_id: str = ''
    reading: dict[str, Any] | None = None
    anchors: dict[str, list[int]] = field(default_factory=dict)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    question: str = ''
    timings_ms: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    mask: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def failure(cls, command: str, status: Status, message: str) -> 'GroundingResult':
        """Answer a command that could not be grounded, saying why."""
        return cls(command=command, status=status, message=message)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> 'GroundingResult':
        """Read back a result dictionary (the node's JSON, a results.jsonl line)."""
        return cls(**{key: data[key] for key in result_keys() if key in data})

    def to_dict(self) -> dict[str, Any]:
        """
        JSON-ready fields; the mask travels separately (PNG file or Image message).

        NaN and infinity have no JSON spelling; they become null.
        """
        return _finite({f.name: getattr(self, f.name) for f in fields(self) if f.name != 'mask'})


def result_keys() -> list[str]:
    """Return the keys of every result dictionary, in order."""
    return [f.name for f in fields(GroundingResult) if f.name != 'mask']


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value

"""The one result type every consumer (CLI, node, evaluation) reads."""

from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np

Status = Literal['ok', 'no_match', 'no_proposals', 'error']
RANDOM_WEIGHTS_WARNING = 'tiny or random-weight models: answers are meaningless'


@dataclass
class GroundingResult:
    """What grounding one expression on one frame produced, and how long it took."""

    expression: str
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
    timings_ms: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    mask: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields; the mask travels separately (PNG file or Image message)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != 'mask'}

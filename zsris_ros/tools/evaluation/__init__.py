"""Score the grounding: bag replay, the RefCOCO protocol, the toy world, their metrics."""

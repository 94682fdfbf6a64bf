"""Fixtures of the evaluation tests."""

import pytest

from zsris_ros.grounding import GroundingPipeline


@pytest.fixture
def shared_pipeline(monkeypatch, tiny_pipeline):
    """`zsris` commands run in-process reuse the session's tiny models instead of loading."""
    monkeypatch.setattr(GroundingPipeline, 'from_config',
                        classmethod(lambda cls, config: tiny_pipeline))
    return tiny_pipeline

"""Shared fixtures: tiny real-architecture models built from fixed seeds."""

import os
from pathlib import Path

import pytest
import torch

# DDS traffic of every test stays on this machine.
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

REPO = Path(__file__).resolve().parents[1]
SAMPLE_IMAGE = REPO / 'zsris_ros' / 'data' / 'tabletop.png'


@pytest.fixture(scope='session')
def sample_image() -> Path:
    return SAMPLE_IMAGE


@pytest.fixture(scope='session')
def tiny_config():
    from zsris_ros.grounding import GroundingConfig
    return GroundingConfig(preset='tiny', device='cpu')


@pytest.fixture(scope='session')
def tiny_clip(tiny_config):
    from zsris_ros.grounding.models import load_clip
    return load_clip(tiny_config, torch.device('cpu'))


@pytest.fixture(scope='session')
def tiny_pipeline(tiny_config):
    from zsris_ros.grounding import GroundingPipeline
    return GroundingPipeline.from_config(tiny_config)


@pytest.fixture(scope='session')
def tiny_checkpoints(tmp_path_factory, tiny_config):
    """Save the tiny models' weights as files, to go through the real loading path."""
    from zsris_ros.grounding.models import load_clip, load_sam
    folder = tmp_path_factory.mktemp('weights')
    clip_file, sam_file = folder / 'tiny_clip.pt', folder / 'tiny_sam.pth'
    torch.save(load_clip(tiny_config, torch.device('cpu')).model.state_dict(), clip_file)
    torch.save(load_sam(tiny_config, torch.device('cpu')).state_dict(), sam_file)
    return clip_file, sam_file

"""ROS-free core: Global-Local CLIP grounding of referring expressions on SAM proposals."""

from .config import GroundingConfig
from .models import ModelConfigError
from .pipeline import GroundingPipeline, ImageInputError
from .result import GroundingResult
from .weights import WeightsUnavailableError

__all__ = ['GroundingConfig', 'GroundingPipeline', 'GroundingResult', 'ImageInputError',
           'ModelConfigError', 'WeightsUnavailableError']

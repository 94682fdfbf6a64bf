"""
ROS-free core: Global-Local CLIP grounding of referring expressions on SAM proposals.

The public names are imported on first use (PEP 562), so importing a light submodule such as
``zsris_ros.grounding.config`` (the CLI's parser, the node's parameter declarations) does not
load torch, open_clip and SAM first.
"""

from importlib import import_module
from typing import Any, TYPE_CHECKING

if TYPE_CHECKING:
    from .config import GroundingConfig
    from .models import ModelConfigError
    from .pipeline import GroundingPipeline, ImageInputError
    from .result import GroundingResult
    from .weights import WeightsUnavailableError

#: Public name -> the submodule that defines it.
_HOMES = {
    'GroundingConfig': 'config',
    'GroundingPipeline': 'pipeline',
    'GroundingResult': 'result',
    'ImageInputError': 'pipeline',
    'ModelConfigError': 'models',
    'WeightsUnavailableError': 'weights',
}

__all__ = ['GroundingConfig', 'GroundingPipeline', 'GroundingResult', 'ImageInputError',
           'ModelConfigError', 'WeightsUnavailableError']


def __getattr__(name: str) -> Any:
    """Import a public name's submodule when the name is first asked for."""
    if name not in _HOMES:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(import_module(f'.{_HOMES[name]}', __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the lazy names too, as they were before they became lazy."""
    return sorted(set(globals()) | set(__all__))

"""ROS parameters generated from the typed settings models, descriptors and ranges included."""

from typing import Any

from pydantic import BaseModel
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType)
from rclpy.node import Node

from ..grounding.config import PRESETS, GroundingConfig
from .settings import NodeSettings

#: Parameter names that differ from the settings field names (a bare `preset` is ambiguous
#: among a robot's many nodes).
ROS_NAMES = {'preset': 'model_preset'}
SETTINGS_MODELS: tuple[type[BaseModel], ...] = (GroundingConfig, NodeSettings)
PARAMETER_TYPES = {int: ParameterType.PARAMETER_INTEGER, float: ParameterType.PARAMETER_DOUBLE,
                   bool: ParameterType.PARAMETER_BOOL}


def _bounds(field: Any) -> tuple[Any, Any]:
    low = high = None
    for item in field.metadata:
        low = getattr(item, 'ge', low)
        high = getattr(item, 'le', high)
    return low, high


def descriptor(name: str, field: Any) -> ParameterDescriptor:
    """Description, type, range and read-only flag of one settings field."""
    kind = PARAMETER_TYPES.get(field.annotation, ParameterType.PARAMETER_STRING)
    choices = getattr(field.annotation, '__args__', None)
    text = field.description + (f" (one of: {', '.join(choices)})" if choices else '')
    result = ParameterDescriptor(
        name=name, type=kind, description=text,
        read_only=bool((field.json_schema_extra or {}).get('read_only')))
    low, high = _bounds(field)
    if kind == ParameterType.PARAMETER_INTEGER and low is not None:
        result.integer_range = [IntegerRange(from_value=low, to_value=high, step=1)]
    elif kind == ParameterType.PARAMETER_DOUBLE and low is not None:
        result.floating_point_range = [
            FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)]
    return result


def parameter_fields() -> dict[str, Any]:
    """Every settings field the node declares, by parameter name."""
    return {ROS_NAMES.get(name, name): field for model in SETTINGS_MODELS
            for name, field in model.model_fields.items()}


def declare_parameters(node: Node) -> tuple[GroundingConfig, NodeSettings]:
    """Declare every parameter; a preset replaces each value still at the real default.

    ROS cannot tell a value left at its default from one a params file repeats, so the preset
    wins exactly where the value equals the documented default. Values are read in a first,
    writable declaration and then declared for good with their descriptors (read-only ones
    cannot be corrected after the fact).
    """
    real = {**GroundingConfig().model_dump(), **NodeSettings().model_dump()}
    values = {}
    for name, default in real.items():
        values[name] = node.declare_parameter(ROS_NAMES.get(name, name), default).value
        node.undeclare_parameter(ROS_NAMES.get(name, name))
    values.update({name: value for name, value in PRESETS[values['preset']].items()
                   if values[name] == real[name]})
    fields = parameter_fields()
    for name, value in values.items():
        ros_name = ROS_NAMES.get(name, name)
        node.declare_parameter(ros_name, value, descriptor(ros_name, fields[ros_name]),
                               ignore_override=True)
    return split_values(values)


def to_settings_names(parameters: dict[str, Any]) -> dict[str, Any]:
    """Parameter names -> settings field names."""
    fields = {ros: name for name, ros in ROS_NAMES.items()}
    return {fields.get(name, name): value for name, value in parameters.items()}


def split_values(values: dict[str, Any]) -> tuple[GroundingConfig, NodeSettings]:
    """Validate a flat settings dict into the core config and the node settings."""
    config = {k: v for k, v in values.items() if k in GroundingConfig.model_fields}
    settings = {k: v for k, v in values.items() if k in NodeSettings.model_fields}
    return GroundingConfig(**config), NodeSettings(**settings)

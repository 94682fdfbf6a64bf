"""ROS parameters declared from the settings table, descriptors and ranges included."""

from typing import Any

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType)
from rclpy.node import Node

from .settings import NodeSettings, parameter_rows, ParameterRow, ROS_NAMES
from ..grounding.config import GroundingConfig, PRESETS

PARAMETER_TYPES = {int: ParameterType.PARAMETER_INTEGER, float: ParameterType.PARAMETER_DOUBLE,
                   bool: ParameterType.PARAMETER_BOOL, str: ParameterType.PARAMETER_STRING}


def descriptor(row: ParameterRow) -> ParameterDescriptor:
    """Describe one parameter to ROS: description, type, range and read-only flag."""
    kind = PARAMETER_TYPES[row.kind]
    text = row.description + (f" (one of: {', '.join(row.choices)})" if row.choices else '')
    result = ParameterDescriptor(name=row.name, type=kind, description=text,
                                 read_only=row.read_only)
    if kind == ParameterType.PARAMETER_INTEGER and row.low is not None:
        result.integer_range = [IntegerRange(from_value=row.low, to_value=row.high, step=1)]
    elif kind == ParameterType.PARAMETER_DOUBLE and row.low is not None:
        result.floating_point_range = [FloatingPointRange(
            from_value=float(row.low), to_value=float(row.high), step=0.0)]
    return result


def declare_parameters(node: Node) -> tuple[GroundingConfig, NodeSettings]:
    """
    Declare every parameter; a preset replaces each value still at the real default.

    ROS cannot tell a value left at its default from one a params file repeats, so the preset
    wins exactly where the value equals the documented default. Values are read in a first,
    writable declaration and then declared for good with their descriptors (read-only ones
    cannot be corrected after the fact).
    """
    rows = parameter_rows()
    values = {}
    for row in rows:
        values[row.field] = node.declare_parameter(row.name, row.default).value
        node.undeclare_parameter(row.name)
    values.update({name: value for name, value in PRESETS[values['preset']].items()
                   if values[name] == GroundingConfig.model_fields[name].default})
    for row in rows:
        node.declare_parameter(row.name, values[row.field], descriptor(row),
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

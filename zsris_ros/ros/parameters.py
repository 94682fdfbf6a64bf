"""ROS parameters declared from the settings table, descriptors and ranges included."""

from typing import Any

from pydantic import ValidationError
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType)
from rclpy.node import Node

from .settings import NodeSettings, parameter_rows, ParameterRow, ROS_NAMES
from ..grounding.config import GroundingConfig

PARAMETER_TYPES = {int: ParameterType.PARAMETER_INTEGER, float: ParameterType.PARAMETER_DOUBLE,
                   bool: ParameterType.PARAMETER_BOOL, str: ParameterType.PARAMETER_STRING}


class ParameterError(ValueError):
    """A parameter value the node cannot start with; the message names it and what it takes."""


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
    Declare every parameter; the values the user gave win, the preset fills the rest.

    That is the rule of the CLI too. To tell a given value from a default, each parameter is
    first declared without a value (dynamically typed, so any override is accepted); the
    settings models validate what was given, and the parameters are then declared for good
    with their descriptors and the resolved values.
    """
    rows = parameter_rows()
    given = {}
    untyped = ParameterDescriptor(dynamic_typing=True)
    for row in rows:
        value = node.declare_parameter(row.name, None, untyped).value
        node.undeclare_parameter(row.name)
        if value is not None:
            given[row.field] = value
    config, settings = split_values(given)
    values = {**config.model_dump(), **settings.model_dump()}
    for row in rows:
        node.declare_parameter(row.name, values[row.field], descriptor(row),
                               ignore_override=True)
    return config, settings


def to_settings_names(parameters: dict[str, Any]) -> dict[str, Any]:
    """Parameter names -> settings field names."""
    fields = {ros: name for name, ros in ROS_NAMES.items()}
    return {fields.get(name, name): value for name, value in parameters.items()}


def split_values(values: dict[str, Any]) -> tuple[GroundingConfig, NodeSettings]:
    """Validate a flat settings dict into the core config and the node settings."""
    config = {k: v for k, v in values.items() if k in GroundingConfig.model_fields}
    settings = {k: v for k, v in values.items() if k in NodeSettings.model_fields}
    try:
        return GroundingConfig(**config), NodeSettings(**settings)
    except ValidationError as error:
        raise ParameterError(describe_invalid(error)) from None


def describe_invalid(error: ValidationError) -> str:
    """One line naming each rejected parameter (by its ROS name) and what it accepts."""
    names = {row.field: row for row in parameter_rows()}
    problems = []
    for item in error.errors():
        field = str(item['loc'][0]) if item['loc'] else ''
        row = names.get(field)
        accepts = ''
        if row is not None and row.choices:
            accepts = f" (one of: {', '.join(row.choices)})"
        elif row is not None and row.low is not None:
            accepts = f' ({row.low} to {row.high})'
        name = row.name if row is not None else field
        problems.append(f"{name}={item.get('input')!r}: {item['msg']}{accepts}")
    return 'invalid parameters: ' + '; '.join(problems)

"""config/grounding.yaml, the declared node parameters and the README table agree."""

from pathlib import Path
import re

import pytest
from rcl_interfaces.msg import ParameterType
import rclpy
from rclpy.context import Context
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
import yaml

from zsris_ros.grounding.config import GroundingConfig, preset_fields
from zsris_ros.ros.parameters import declare_parameters, split_values, to_settings_names
from zsris_ros.ros.settings import ROS_NAMES
from zsris_ros.tools.parameter_table import render_markdown, render_yaml

REPO = Path(__file__).resolve().parents[1]
PARAMS_FILE = REPO / 'config' / 'grounding.yaml'
README = REPO / 'README.md'
REGENERATE = '.venv/bin/zsris params > config/grounding.yaml'
README_START, README_END = '<!-- params:start -->', '<!-- params:end -->'

#: Parameters every rclpy node has, whatever it declares.
BUILT_IN = {'use_sim_time', 'start_type_description_service'}
NUMERIC = {ParameterType.PARAMETER_INTEGER, ParameterType.PARAMETER_DOUBLE}
YAML_TYPES = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
              float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}


#: A parameter line, set or left to the preset (commented out); descriptions start upper-case.
PARAMETER_LINE = re.compile(r' {4}(# )?([a-z][a-z0-9_]*): (.*)')


def yaml_values() -> dict:
    """Read the parameter values of the file as ROS does (`/**` matches every node)."""
    return yaml.safe_load(PARAMS_FILE.read_text())['/**']['ros__parameters']


def commented_values() -> dict:
    """Read the parameters the file leaves to the preset, with the value shown for them."""
    return {key.group(2): yaml.safe_load(key.group(3))
            for key in map(PARAMETER_LINE.fullmatch, PARAMS_FILE.read_text().splitlines())
            if key and key.group(1)}


def yaml_comments() -> dict[str, str]:
    """Each parameter's comment line in the file (the line right above it)."""
    comments, last = {}, None
    for line in PARAMS_FILE.read_text().splitlines():
        key = PARAMETER_LINE.fullmatch(line)
        comment = re.fullmatch(r' {4}# (.*)', line)
        if key:
            assert last is not None, f'{key.group(2)} has no comment line above it'
            comments[key.group(2)], last = last, None
        elif comment:
            last = comment.group(1)
    return comments


def allowed(comment: str) -> str | None:
    """Return the "Allowed: ..." text of a comment, or None."""
    found = re.search(r'Allowed: (.+?)\.(?: \[restart\])?$', comment)
    return found.group(1) if found else None


#: DDS domains of their own for the two contexts below. In one domain they would discover
#: each other inside this process, and Fast DDS can deadlock destroying a writer while the
#: other participant's reader is matched with it (seen: a suite run hung in destroy_node).
FIXTURE_DOMAIN, TEST_DOMAIN = 231, 232


def parameters_context(domain_id: int, *arguments: str) -> Context:
    """Start a context that only holds parameters: command-line arguments, no signals."""
    context = Context()
    rclpy.init(context=context, domain_id=domain_id, args=['--ros-args', *arguments],
               signal_handler_options=SignalHandlerOptions.NO)
    return context


@pytest.fixture(scope='module')
def node():
    """Declare the parameters on a node given the file the way a launch file passes it."""
    context = parameters_context(FIXTURE_DOMAIN, '--params-file', str(PARAMS_FILE))
    node = Node('grounding_node', context=context)
    declare_parameters(node)
    yield node
    node.destroy_node()
    rclpy.shutdown(context=context)


@pytest.fixture(scope='module')
def declared(node) -> set[str]:
    return set(node.list_parameters([], 0).names) - BUILT_IN


def test_file_is_generated_from_the_settings():
    assert PARAMS_FILE.read_text() == render_yaml(), (
        f'config/grounding.yaml is out of date with the settings models: run `{REGENERATE}`')


def test_file_names_exactly_the_declared_parameters(declared):
    names = set(yaml_values()) | set(commented_values())
    assert not names - declared, f'in the YAML but not declared by the node: {names - declared}'
    assert not declared - names, f'declared by the node but not in the YAML: {declared - names}'
    assert set(yaml_values()).isdisjoint(commented_values())
    assert set(commented_values()) == {ROS_NAMES.get(n, n) for n in preset_fields()}
    assert sorted(names) == sorted(yaml_comments())


def test_file_values_reach_the_node_with_their_types(node, declared):
    """The file's values are what the node ends up with (rcl parsed the file, types agree)."""
    values = {**yaml_values(), **commented_values()}
    for name in declared:
        parameter = node.get_parameter(name)
        assert parameter.value == values[name], name
        assert YAML_TYPES[type(values[name])] == parameter.type_.value, (
            f'{name}: YAML value {values[name]!r} does not have the declared type')


def test_descriptors_match_the_file_comments(node, declared):
    comments = yaml_comments()
    for name, descriptor in zip(sorted(declared), node.describe_parameters(sorted(declared))):
        comment = comments[name]
        assert descriptor.description.strip(), f'{name} has no description'
        assert comment.startswith(descriptor.description.split(' (one of: ')[0]), name
        assert descriptor.read_only == comment.endswith('[restart]'), (
            f'{name}: read_only={descriptor.read_only} but the YAML comment says {comment!r}')
        text = allowed(comment)
        if descriptor.type == ParameterType.PARAMETER_INTEGER and descriptor.integer_range:
            limits = descriptor.integer_range[0]
            assert text == f'{limits.from_value} to {limits.to_value}', name
            assert limits.step == 1, name
        elif descriptor.type == ParameterType.PARAMETER_DOUBLE and descriptor.floating_point_range:
            limits = descriptor.floating_point_range[0]
            low, high = (float(x) for x in text.split(' to '))
            assert (low, high) == (limits.from_value, limits.to_value), name
        elif descriptor.type in NUMERIC:
            pytest.fail(f'{name} is numeric but declared without a range')
        elif text is not None:
            assert descriptor.description.endswith(f' (one of: {text})'), (
                f'{name}: choices {text!r} in the YAML, description {descriptor.description!r}')


def test_a_user_file_that_changes_the_preset_gets_the_whole_preset(tmp_path):
    """The shipped file with only model_preset edited: every preset setting follows it."""
    edited = PARAMS_FILE.read_text().replace('model_preset: real', 'model_preset: tiny')
    path = tmp_path / 'mine.yaml'
    path.write_text(edited)
    context = parameters_context(TEST_DOMAIN, '--params-file', str(path), '-p', 'v:=0.25')
    node = Node('grounding_node', context=context)
    try:
        config, _ = declare_parameters(node)
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
    tiny = GroundingConfig(preset='tiny')
    for name in preset_fields() - {'v'}:
        assert getattr(config, name) == getattr(tiny, name), name
    assert config.v == 0.25


def test_file_values_are_valid_settings():
    config, settings = split_values(to_settings_names(yaml_values()))
    assert config.preset == yaml_values()['model_preset']
    assert settings.frame_policy == yaml_values()['frame_policy']


def test_readme_table_is_generated_from_the_settings():
    assert README.is_file(), (
        f'README.md is missing; it needs the parameter table between {README_START} and '
        f'{README_END} (render_markdown())')
    text = README.read_text()
    assert README_START in text and README_END in text, (
        f'README.md has no parameter table between {README_START} and {README_END}')
    table = text.split(README_START, 1)[1].split(README_END, 1)[0]
    assert table.strip() == render_markdown().strip(), (
        'README.md parameter table is out of date: paste `render_markdown()` '
        '(zsris_ros/tools/parameter_table.py) between the params markers')

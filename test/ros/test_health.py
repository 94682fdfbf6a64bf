"""The node's health judgement: levels that mean something, figures over a recent window."""

import pytest

from zsris_ros.ros.health import ERROR, HealthMonitor, OK, OUTAGE_RUN, WARN


def monitor_with(statuses: list[str], window: int = 100) -> HealthMonitor:
    """Record commands with the given outcomes and a total time equal to their index."""
    monitor = HealthMonitor(window)
    for index, status in enumerate(statuses):
        monitor.record(status, {'total': float(index), 'proposals': 1.0})
    return monitor


def test_a_ready_node_answering_is_ok_with_its_figures():
    health = monitor_with(['ok'] * 19 + ['no_match']).report('ready', '', 0, 10)
    assert (health.level, health.message) == (OK, 'ready')
    assert health.values['commands answered'] == '20'
    assert health.values['total p50 ms'] == '9.5'
    assert health.values['total p95 ms'] == '18.1'
    assert health.values['proposals p95 ms'] == '1.0'
    assert health.values['queue depth'] == '0/10'


@pytest.mark.parametrize('state, queue, statuses, level, words', [
    ('loading', 0, [], WARN, 'not serving: loading'),
    ('inactive', 0, ['ok'], WARN, 'not serving: inactive'),
    ('ready', 8, ['ok'], WARN, 'queue nearly full (8/10)'),
    ('ready', 0, ['ok', 'dropped', 'ok', 'error'], WARN, '2 of the last 4 commands failed'),
    ('ready', 0, ['ok'] + ['error'] * OUTAGE_RUN, ERROR, f'last {OUTAGE_RUN} commands'),
    ('ready', 0, ['no_image'] * OUTAGE_RUN, ERROR, '(no_image)'),
])
def test_levels_say_what_is_at_risk(state, queue, statuses, level, words):
    health = monitor_with(statuses).report(state, '', queue, 10)
    assert health.level == level
    assert words in health.message


def test_models_that_failed_to_load_are_an_error_saying_why():
    health = HealthMonitor(10).report('failed', 'models failed to load: no such file', 0, 10)
    assert (health.level, health.message) == (ERROR, 'models failed to load: no such file')


def test_failures_older_than_the_window_no_longer_warn_but_stay_counted():
    health = monitor_with(['error'] + ['ok'] * 10, window=10).report('ready', '', 0, 10)
    assert health.level == OK
    assert health.values['total error'] == '1'
    assert health.values['commands answered'] == '11'

"""`zsris eval compare`: a side-by-side table of two metrics.json files."""

import json

from zsris_ros.tools import cli
from zsris_ros.tools.evaluation.compare import compare_table, flatten

A = {'n': 10, 'oIoU': 0.25, 'mIoU': None, 'latency_ms': {'total': {'p50': 100.0}},
     'status_counts': {'ok': 9, 'no_match': 1}, 'note': 'text is left out'}
B = {'n': 12, 'oIoU': 0.3125, 'mIoU': 0.5, 'latency_ms': {'total': {'p50': 80.5}},
     'status_counts': {'ok': 12}}


def test_flatten_names_nested_numbers_with_dots():
    assert flatten(A) == {'n': 10, 'oIoU': 0.25, 'mIoU': None, 'latency_ms.total.p50': 100.0,
                          'status_counts.ok': 9, 'status_counts.no_match': 1}


def test_table_shows_both_runs_and_the_change():
    rows = [line.split() for line in compare_table(A, B).splitlines()]
    assert rows[0] == ['metric', 'A', 'B', 'B', '-', 'A']
    assert ['n', '10', '12', '+2'] in rows
    assert ['oIoU', '0.2500', '0.3125', '+0.0625'] in rows
    assert ['mIoU', '-', '0.5000'] in rows
    assert ['latency_ms.total.p50', '100.0000', '80.5000', '-19.5000'] in rows
    assert ['status_counts.no_match', '1', '-'] in rows


def test_compare_command(tmp_path, capsys):
    (tmp_path / 'a.json').write_text(json.dumps(A))
    (tmp_path / 'b.json').write_text(json.dumps(B))
    assert cli.main(['eval', 'compare', str(tmp_path / 'a.json'), str(tmp_path / 'b.json')]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f'A = {tmp_path / "a.json"}' and out[1] == f'B = {tmp_path / "b.json"}'
    assert any(line.startswith('oIoU') and line.endswith('+0.0625') for line in out)


def test_missing_metrics_file_is_one_line_and_exit_2(tmp_path, capsys):
    code = cli.main(['eval', 'compare', str(tmp_path / 'a.json'), str(tmp_path / 'b.json')])
    assert code == cli.EXIT_CONFIG
    [line] = capsys.readouterr().err.strip().splitlines()
    assert str(tmp_path / 'a.json') in line

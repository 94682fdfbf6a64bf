"""
Resuming a results folder: what is not a record as written stops the run, and changes nothing.

Each case starts from a real folder of `zsris eval bag --limit 2` and damages it the way a
hand edit, a foreign tool or a lost file would; the rerun must answer with one line and exit
status 2, and leave results.jsonl and run.json as they were.
"""

import json
from pathlib import Path
import shutil
import sys

import pytest

from zsris_ros.tools import cli
from zsris_ros.tools.bags.layout import COMMAND_TOPIC, IMAGE_TOPIC

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bag_helpers import frame, read_results, string_msg, write_events  # noqa: E402, I100

TINY = ['--preset', 'tiny', '--device', 'cpu']


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
    """Write a bag of three commands and run over its first two."""
    root = tmp_path_factory.mktemp('resume')
    bag = write_events(root / 'bag', 'mcap', [
        (0, IMAGE_TOPIC, frame(1, 0)), (10, COMMAND_TOPIC, string_msg('the cup')),
        (20, COMMAND_TOPIC, string_msg('the box')), (30, COMMAND_TOPIC, string_msg('the can'))])
    assert eval_bag(bag, root / 'run', '--limit', '2') == 0
    return bag, root / 'run'


def eval_bag(bag, out, *options):
    return cli.main(['eval', 'bag', str(bag), *TINY, '--out', str(out), *options])


def damaged_copy(finished, tmp_path):
    bag, run = finished
    out = tmp_path / 'run'
    shutil.copytree(run, out)
    return bag, out


def refused(bag, out, capsys):
    """Rerun; return the one error line, after checking that the folder is unchanged."""
    before = {name: (out / name).read_bytes() for name in ('results.jsonl', 'run.json')
              if (out / name).exists()}
    capsys.readouterr()
    assert eval_bag(bag, out) == cli.EXIT_CONFIG
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith('zsris: error: ')
    assert before == {name: (out / name).read_bytes() for name in before}
    return line


def second_line_as(out, text):
    """Replace the second results line by `text` (bytes), keeping the first."""
    results = out / 'results.jsonl'
    first = results.read_bytes().splitlines(keepends=True)[0]
    results.write_bytes(first + text + b'\n')


def record(**changes):
    """Build a valid-looking record of index 1, fields changed or removed (None)."""
    fields = {'index': 1, 'command': 'the box', 'status': 'ok', 'iou': 0.5,
              'intersection': 1, 'union': 2, 'timings_ms': {'total': 1.0}, 'info': None}
    fields.update(changes)
    return json.dumps({k: v for k, v in fields.items() if v is not None}).encode()


@pytest.mark.parametrize('line, problem', [
    (b'[1, "ok"]', 'is a JSON list, not an object'),
    (b'{"index": 1, "status": "ok", "command": "\xff\xfe"}', 'is not UTF-8 JSON'),
    (record(index=None), 'has index None'),
    (record(index='1'), "has index '1', not a whole number"),
    (record(index=True), 'has index True'),
    (record(index=0), 'repeats index 0'),
    (record(status=None), 'has status None'),
    (record(status='fine'), "has status 'fine'"),
    (record(iou='high'), 'has an iou, intersection or union that is not a finite'),
    (record(iou=0.5, union=None), 'has an iou, intersection or union that is not a finite'),
    (b'{"index": 1, "status": "ok", "iou": NaN, "intersection": 0, "union": 0}',
     'has an iou, intersection or union that is not a finite'),
    (record(timings_ms=[1.0]), 'has timings_ms that are not an object'),
    (record(info=['type']), 'has info that is not an object'),
])
def test_a_malformed_line_is_named_and_nothing_changes(finished, tmp_path, capsys, line,
                                                       problem):
    bag, out = damaged_copy(finished, tmp_path)
    second_line_as(out, line)
    error = refused(bag, out, capsys)
    assert f'{out / "results.jsonl"} line 2 {problem}' in error


@pytest.mark.parametrize('settings, problem', [
    (b'{"bag": ', 'run.json is not readable JSON'),
    (b'\xff{}', 'run.json is not readable JSON'),
    (b'["bag"]', 'run.json is not a JSON object'),
])
def test_a_corrupt_run_json_is_named_and_nothing_changes(finished, tmp_path, capsys,
                                                         settings, problem):
    bag, out = damaged_copy(finished, tmp_path)
    (out / 'run.json').write_bytes(settings)
    assert problem in refused(bag, out, capsys)


def test_results_without_run_json_are_not_adopted(finished, tmp_path, capsys):
    bag, out = damaged_copy(finished, tmp_path)
    (out / 'run.json').unlink()
    error = refused(bag, out, capsys)
    assert 'has no run.json beside it' in error and 'another --out' in error
    assert not (out / 'run.json').exists()
    assert eval_bag(bag, tmp_path / 'fresh') == 0, 'a new folder still works'


def test_an_intact_folder_resumes_to_every_command(finished, tmp_path):
    bag, out = damaged_copy(finished, tmp_path)
    assert eval_bag(bag, out) == 0
    assert [r['index'] for r in read_results(out)] == [0, 1, 2]


def test_an_out_that_is_a_file_is_one_line(finished, tmp_path, capsys):
    bag, _ = finished
    (tmp_path / 'taken').write_text('x')
    assert eval_bag(bag, tmp_path / 'taken') == cli.EXIT_CONFIG
    [line] = capsys.readouterr().err.strip().splitlines()
    assert 'cannot use' in line and str(tmp_path / 'taken') in line

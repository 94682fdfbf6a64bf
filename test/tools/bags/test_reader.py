"""
A bag's .mcap or .db3 file read alone gives what its folder gives.

`zsris bag` compresses each message with zstd and rosbag2 records that only in the folder's
metadata.yaml, so these bags are the case that matters.
"""

import json
from pathlib import Path
import shutil
import sys

import numpy as np
import pytest

from zsris_ros.tools import cli
from zsris_ros.tools.bags.layout import COMMAND_TOPIC, IMAGE_TOPIC, INFO_TOPIC, TRUTH_TOPIC
from zsris_ros.tools.bags.reader import Bag, BagTopics, paired_commands

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bag_helpers import read_results  # noqa: E402, I100

TOPICS = BagTopics(IMAGE_TOPIC, COMMAND_TOPIC, TRUTH_TOPIC, INFO_TOPIC)
SUFFIX = {'mcap': '.mcap', 'sqlite3': '.db3'}


def toy_bag(folder, storage):
    assert cli.main(['bag', 'from-toy', '--n', '2', '--per-scene', '2', '--out', str(folder),
                     '--storage', storage]) == 0
    [data] = folder.glob('*' + SUFFIX[storage])
    return data


def replayed(path):
    """Pair a bag's commands; return text, frame pixels, truth mask and info of each."""
    with Bag(path) as bag:
        return [(c.text, c.frame.rgb(), c.truth.mask(), c.info)
                for c in paired_commands(bag, TOPICS, 'latest', 5.0)]


@pytest.mark.parametrize('storage', ('mcap', 'sqlite3'))
def test_a_bag_file_alone_reads_as_its_folder(tmp_path, storage):
    data = toy_bag(tmp_path / 'toy', storage)
    alone = tmp_path / 'elsewhere' / data.name
    alone.parent.mkdir()
    shutil.copy(data, alone)
    expected = replayed(tmp_path / 'toy')
    assert len(expected) == 4
    for path in (data, alone):
        got = replayed(path)
        assert [(t, i) for t, _, _, i in got] == [(t, i) for t, _, _, i in expected]
        for (_, frame, truth, _), (_, frame0, truth0, _) in zip(got, expected):
            assert np.array_equal(frame, frame0) and np.array_equal(truth, truth0)


@pytest.mark.parametrize('storage', ('mcap', 'sqlite3'))
def test_eval_bag_on_the_file_scores_as_on_the_folder(tmp_path, storage, capsys):
    data = toy_bag(tmp_path / 'toy', storage)
    runs = {}
    for name, path in (('folder', data.parent), ('file', data)):
        out = tmp_path / name
        assert cli.main(['eval', 'bag', str(path), '--preset', 'tiny', '--device', 'cpu',
                         '--limit', '2', '--out', str(out)]) == 0, capsys.readouterr().err
        runs[name] = [{k: r[k] for k in ('command', 'status', 'gt', 'iou', 'info')}
                      for r in read_results(out)]
    assert runs['file'] == runs['folder']
    assert [r['gt'] for r in runs['file']] == ['ok', 'ok']
    assert json.loads((tmp_path / 'file' / 'run.json').read_text())['bag'] == str(data)


def test_garbled_metadata_is_one_line(tmp_path, capsys):
    data = toy_bag(tmp_path / 'toy', 'mcap')
    (data.parent / 'metadata.yaml').write_text('rosbag2_bagfile_information:\n  version: 8\n'
                                               ' files: [\n')
    assert cli.main(['eval', 'bag', str(data.parent), '--preset', 'tiny', '--out',
                     str(tmp_path / 'run')]) == cli.EXIT_CONFIG
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith('zsris: error: cannot open bag') and 'metadata.yaml' in line

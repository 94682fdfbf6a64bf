"""
`zsris eval refer` and `zsris bag from-refer` on a miniature dataset in the REFER layout.

The files follow the official schema: refs(unc).p is a protocol-2 pickle of ref dicts as the
REFER toolkit writes them, instances.json is COCO, images are JPEGs named as in train2014.
"""

import json
from pathlib import Path
import pickle
import sys

import cv2
import numpy as np
import pytest

from zsris_ros.tools import cli
from zsris_ros.tools.errors import InputError
from zsris_ros.tools.evaluation.refer_data import find_image_dir, in_split, load_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bag_helpers import frame_pixels, read_metrics, read_results  # noqa: E402, I100

HEIGHT, WIDTH = 48, 64
TRIANGLE = [4.0, 4.0, 40.0, 6.0, 20.0, 40.0]
# 'size'/'counts' written by pycocotools.mask.encode for rows 10..19 x columns 30..49 set.
BOX_RLE = {'size': [HEIGHT, WIDTH], 'counts': 'Z]1:V10000000000000000000000000000000000000fd0'}


def sentence(sent_id, raw):
    return {'sent_id': sent_id, 'raw': raw, 'sent': raw.lower(), 'tokens': raw.lower().split()}


def ref(ref_id, ann_id, image_id, split, *sentences):
    return {'ref_id': ref_id, 'ann_id': ann_id, 'image_id': image_id, 'split': split,
            'category_id': 47, 'file_name': f'COCO_train2014_{image_id:012d}_{ann_id}.jpg',
            'sentences': list(sentences), 'sent_ids': [s['sent_id'] for s in sentences]}


def annotation(ann_id, image_id, segmentation):
    return {'id': ann_id, 'image_id': image_id, 'segmentation': segmentation,
            'category_id': 47, 'iscrowd': 0, 'area': 0.0, 'bbox': [0.0, 0.0, 1.0, 1.0]}


def make_refer(root, images='images/mscoco/images/train2014'):
    """Two images, refs in val, testA, testAB and train, polygon and RLE targets."""
    refs = [ref(1, 11, 1, 'val', sentence(100, 'The Left Cup'), sentence(101, 'cup on left')),
            ref(2, 12, 1, 'testA', sentence(102, 'man in black')),
            ref(3, 21, 2, 'val', sentence(103, 'the box')),
            ref(4, 22, 2, 'testAB', sentence(104, 'the other box')),
            ref(5, 11, 1, 'train', sentence(105, 'a training sentence'))]
    instances = {
        'images': [{'id': i, 'file_name': f'COCO_train2014_{i:012d}.jpg', 'height': HEIGHT,
                    'width': WIDTH} for i in (1, 2)],
        'annotations': [annotation(11, 1, [TRIANGLE]),
                        annotation(12, 1, [[30.0, 30.0, 60.0, 30.0, 60.0, 45.0]]),
                        annotation(21, 2, BOX_RLE),
                        annotation(22, 2, {'size': [HEIGHT, WIDTH],
                                           'counts': [1000, 50, HEIGHT * WIDTH - 1050]})],
        'categories': [{'id': 47, 'name': 'cup', 'supercategory': 'kitchen'}]}
    (root / 'refcoco').mkdir(parents=True)
    with (root / 'refcoco' / 'refs(unc).p').open('wb') as file:
        pickle.dump(refs, file, protocol=2)
    (root / 'refcoco' / 'instances.json').write_text(json.dumps(instances))
    (root / images).mkdir(parents=True)
    for image_id in (1, 2):
        bgr = cv2.cvtColor(frame_pixels(image_id), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(root / images / f'COCO_train2014_{image_id:012d}.jpg'), bgr)
    return root


def eval_refer(root, out, *options):
    return cli.main(['eval', 'refer', '--root', str(root), '--dataset', 'refcoco',
                     '--preset', 'tiny', '--device', 'cpu', '--out', str(out), *options])


def test_eval_refer_scores_every_sentence_of_the_split(tmp_path, capsys):
    root, out = make_refer(tmp_path / 'refer'), tmp_path / 'run'
    assert eval_refer(root, out, '--split', 'val', '--overlays') == 0
    assert capsys.readouterr().out.startswith('n=3 scored=3 ')
    records = read_results(out)
    assert [(r['index'], r['ref_id'], r['sent_id'], r['image_id']) for r in records] == [
        (0, 1, 100, 1), (1, 1, 101, 1), (2, 3, 103, 2)]
    assert records[0]['expression'] == 'the left cup'   # the raw sentence, lower-cased
    assert all(r['gt'] == 'ok' and r['status'] == 'ok' for r in records)
    box = records[2]
    assert box['union'] >= 200 and box['intersection'] <= 200
    metrics = read_metrics(out)
    assert metrics['n'] == metrics['n_scored'] == 3
    assert metrics['oIoU'] == pytest.approx(sum(r['intersection'] for r in records)
                                            / sum(r['union'] for r in records))
    assert metrics['mIoU'] == pytest.approx(np.mean([r['iou'] for r in records]))
    assert json.loads((out / 'run.json').read_text())['v'] == 0.95
    assert len(list((out / 'overlays').iterdir())) == 3


def test_refcocog_defaults_to_the_papers_v(tmp_path):
    root = make_refer(tmp_path / 'refer')
    (root / 'refcoco').rename(root / 'refcocog')
    (root / 'refcocog' / 'refs(unc).p').rename(root / 'refcocog' / 'refs(umd).p')
    out = tmp_path / 'run'
    assert cli.main(['eval', 'refer', '--root', str(root), '--dataset', 'refcocog', '--split',
                     'val', '--limit', '1', '--preset', 'tiny', '--device', 'cpu', '--out',
                     str(out)]) == 0
    settings = json.loads((out / 'run.json').read_text())
    assert settings['v'] == 0.85 and settings['split_by'] == 'umd'


def test_a_preset_that_sets_v_keeps_it_and_an_explicit_v_wins(tmp_path):
    root = make_refer(tmp_path / 'refer')
    common = ['eval', 'refer', '--root', str(root), '--dataset', 'refcoco', '--split', 'val',
              '--limit', '1', '--device', 'cpu']
    assert cli.main([*common, '--preset', 'toy', '--out', str(tmp_path / 'toy')]) == 0
    assert cli.main([*common, '--preset', 'tiny', '--v', '0.3', '--out',
                     str(tmp_path / 'given')]) == 0
    assert json.loads((tmp_path / 'toy' / 'run.json').read_text())['v'] == 0.5
    assert json.loads((tmp_path / 'given' / 'run.json').read_text())['v'] == 0.3


def test_split_membership_follows_refer():
    assert in_split('testA', 'testA') and in_split('testAB', 'testA')
    assert not in_split('testB', 'testA') and not in_split('val', 'test')
    assert in_split('testB', 'test') and in_split('val', 'val') and not in_split('train', 'val')


def test_test_a_split_and_the_short_image_layout(tmp_path):
    root = make_refer(tmp_path / 'refer', images='images/train2014')
    assert find_image_dir(root) == root / 'images/train2014'
    images = load_split(root, 'refcoco', 'testA', 'unc')
    assert [(i.image_id, [s.sent_id for s in i.sentences]) for i in images] == [
        (1, [102]), (2, [104])]
    target = images[1].target(22)
    # Column-major runs: 1000 pixels out, then 50 in (rows 40-47 of column 20, 0-41 of 21).
    assert target.sum() == 50 and target[40:, 20].all() and target[:42, 21].all()


def test_rle_and_polygon_targets(tmp_path):
    images = load_split(make_refer(tmp_path / 'refer'), 'refcoco', 'val', 'unc')
    box = np.zeros((HEIGHT, WIDTH), bool)
    box[10:20, 30:50] = True
    assert np.array_equal(images[1].target(21), box)
    triangle = images[0].target(11)
    assert triangle[10, 10] and not triangle[40, 5] and triangle.sum() == 630   # pycocotools


def test_missing_image_is_a_per_expression_error(tmp_path):
    root, out = make_refer(tmp_path / 'refer'), tmp_path / 'run'
    (root / 'images/mscoco/images/train2014/COCO_train2014_000000000002.jpg').unlink()
    assert eval_refer(root, out, '--split', 'val') == 0
    records = read_results(out)
    assert [r['status'] for r in records] == ['ok', 'ok', 'error']
    assert 'cannot read image' in records[2]['message']
    assert records[2]['iou'] == 0.0 and records[2]['union'] == 200


def test_missing_dataset_is_one_line_and_exit_2(tmp_path, capsys):
    assert eval_refer(tmp_path, tmp_path / 'run', '--split', 'val') == cli.EXIT_CONFIG
    [line] = capsys.readouterr().err.strip().splitlines()
    assert 'refs(unc).p' in line and 'REFER layout' in line


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    root = make_refer(tmp_path / 'refer')
    (root / 'refcoco' / 'refs(unc).p').write_bytes(pickle.dumps(Path('/'), protocol=2))
    with pytest.raises(InputError, match='refusing to load'):
        load_split(root, 'refcoco', 'val', 'unc')


def test_refer_bag_replays_to_the_same_scores(tmp_path):
    """The same images, sentences and masks through a bag give the same answers."""
    root = make_refer(tmp_path / 'refer')
    assert cli.main(['bag', 'from-refer', '--root', str(root), '--dataset', 'refcoco',
                     '--split', 'val', '--out', str(tmp_path / 'bag')]) == 0
    assert eval_refer(root, tmp_path / 'direct', '--split', 'val') == 0
    assert cli.main(['eval', 'bag', str(tmp_path / 'bag'), '--preset', 'tiny', '--device',
                     'cpu', '--out', str(tmp_path / 'replayed')]) == 0
    direct, replayed = read_results(tmp_path / 'direct'), read_results(tmp_path / 'replayed')
    assert [r['info']['sent_id'] for r in replayed] == [r['sent_id'] for r in direct]
    for a, b in zip(direct, replayed):
        assert (a['expression'], a['intersection'], a['union'], a['bbox']) == (
            b['expression'], b['intersection'], b['union'], b['bbox'])


@pytest.mark.parametrize('refs', [
    b'\x80\x02}(K\x01K\x02e.',                                  # APPENDS on a dict
    b'\x80\x02](K\x01K\x02u.',                                  # SETITEMS on a list
    b'\x80\x04\x8e' + (1 << 60).to_bytes(8, 'little') + b'ab.',  # bytes of length 2**60
    b'\x80\x02X\xf0\xff\xff\xffabc.',                          # a 4 GiB string, cut short
    b'\x80\x02h\x05.',                                          # memo entry never stored
])
def test_a_malformed_refs_pickle_is_one_line_and_exit_2(tmp_path, capsys, refs):
    root = make_refer(tmp_path / 'refer')
    (root / 'refcoco' / 'refs(unc).p').write_bytes(refs)
    assert eval_refer(root, tmp_path / 'run', '--split', 'val') == cli.EXIT_CONFIG
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"zsris: error: cannot read {root / 'refcoco' / 'refs(unc).p'}: ")


@pytest.mark.parametrize('refs', [
    [[1, 2]],
    [{**ref(1, 11, 1, 'val'), 'sentences': ['the cup']}],
    [{**ref(1, 11, 1, 'val'), 'split': 5}],
    {'refs': []},
])
def test_refs_of_the_wrong_shape_are_one_line_and_exit_2(tmp_path, capsys, refs):
    root = make_refer(tmp_path / 'refer')
    (root / 'refcoco' / 'refs(unc).p').write_bytes(pickle.dumps(refs, protocol=2))
    assert eval_refer(root, tmp_path / 'run', '--split', 'val') == cli.EXIT_CONFIG
    [line] = capsys.readouterr().err.strip().splitlines()
    assert 'does not follow the REFER schema' in line or 'has no refs in split' in line


@pytest.mark.parametrize('escape', ['absolute', 'climbing'])
def test_an_image_file_name_outside_the_dataset_is_refused(tmp_path, capsys, escape):
    root = make_refer(tmp_path / 'refer')
    outside = tmp_path / 'outside.jpg'
    cv2.imwrite(str(outside), frame_pixels(1))
    instances = json.loads((root / 'refcoco' / 'instances.json').read_text())
    image_dir = root / 'images/mscoco/images/train2014'
    name = str(outside) if escape == 'absolute' else str(Path('..') / '..' / '..' / '..' /
                                                         '..' / 'outside.jpg')
    assert (image_dir / name).resolve() == outside
    instances['images'][1]['file_name'] = name
    (root / 'refcoco' / 'instances.json').write_text(json.dumps(instances))
    assert eval_refer(root, tmp_path / 'run', '--split', 'val') == cli.EXIT_CONFIG
    [line] = capsys.readouterr().err.strip().splitlines()
    assert f'image 2 has file_name {name!r}, which is not a path inside' in line
    assert cli.main(['bag', 'from-refer', '--root', str(root), '--dataset', 'refcoco',
                     '--split', 'val', '--out', str(tmp_path / 'bag')]) == cli.EXIT_CONFIG
    assert not (tmp_path / 'bag').exists()

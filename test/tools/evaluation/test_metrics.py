"""The paper's metrics against values worked out by hand on fixed masks."""

import numpy as np
import pytest

from zsris_ros.tools.evaluation.metrics import latency, Overlap, overlap, summarize

# 4x4 target with 6 pixels; every expected count below was counted on these drawings.
TARGET = np.array([[0, 0, 0, 0],
                   [0, 1, 1, 1],
                   [0, 1, 1, 1],
                   [0, 0, 0, 0]], bool)
HALF = np.array([[0, 0, 0, 0],
                 [1, 1, 1, 0],
                 [1, 1, 1, 0],
                 [0, 0, 0, 0]], bool)   # 4 of the target's 6 pixels, 2 outside: I=4, U=8
EMPTY = np.zeros((4, 4), bool)


def record(status, counts, kind=None, total_ms=10.0):
    iou = None if counts is None else counts.iou
    return {'status': status, 'iou': iou,
            'intersection': None if counts is None else counts.intersection,
            'union': None if counts is None else counts.union,
            'timings_ms': {'total': total_ms}, 'info': {'type': kind} if kind else None}


def test_overlap_counts_on_fixed_masks():
    assert overlap(HALF, TARGET) == Overlap(4, 8)
    assert overlap(HALF, TARGET).iou == 0.5
    assert overlap(TARGET, TARGET) == Overlap(6, 6)


def test_empty_prediction_keeps_the_target_in_the_union():
    assert overlap(None, TARGET) == Overlap(0, 6)
    assert overlap(EMPTY, TARGET) == Overlap(0, 6)
    assert overlap(None, TARGET).iou == 0.0


def test_empty_union_is_a_correct_answer_with_nothing_to_sum():
    both_empty = overlap(None, EMPTY)
    assert both_empty == Overlap(0, 0)
    assert both_empty.iou == 1.0
    assert overlap(HALF, EMPTY).iou == 0.0   # a mask where there is nothing: IoU 0, U = 6


def test_summary_by_hand():
    records = [
        record('ok', overlap(HALF, TARGET), 'spatial', 10),     # I 4, U 8, IoU 0.5
        record('no_match', overlap(None, TARGET), 'spatial', 20),   # I 0, U 6, IoU 0
        record('ok', overlap(TARGET, TARGET), 'attribute', 30),   # I 6, U 6, IoU 1
        record('ok', overlap(None, EMPTY), 'attribute', 40),      # I 0, U 0, IoU 1
        record('no_proposals', overlap(None, TARGET), None, 50),  # I 0, U 6, IoU 0
        record('ok', None, None, 60),                             # no ground truth
    ]
    metrics = summarize(records)
    assert metrics['n'] == 6 and metrics['n_scored'] == 5
    assert metrics['oIoU'] == pytest.approx((4 + 0 + 6 + 0 + 0) / (8 + 6 + 6 + 0 + 6))
    assert metrics['mIoU'] == pytest.approx((0.5 + 0 + 1 + 1 + 0) / 5)
    # IoU > X, strictly: 0.5 is not above 0.5.
    assert metrics['pr@0.5'] == pytest.approx(2 / 5)
    assert metrics['pr@0.9'] == pytest.approx(2 / 5)
    assert metrics['no_match_rate'] == pytest.approx(1 / 6)
    assert metrics['status_counts'] == {'no_match': 1, 'no_proposals': 1, 'ok': 4}
    # The official script drops the image without proposals from both figures.
    assert metrics['official_skip_style'] == {
        'n_scored': 4, 'oIoU': pytest.approx(10 / 20), 'mIoU': pytest.approx(2.5 / 4)}
    assert metrics['by_type']['spatial']['oIoU'] == pytest.approx(4 / 14)
    assert metrics['by_type']['attribute']['mIoU'] == 1.0
    assert metrics['latency_ms']['total'] == {'p50': 35.0, 'p95': 57.5, 'max': 60.0}


def test_nothing_scored_gives_nulls_not_errors():
    metrics = summarize([record('no_image', None)])
    assert metrics['oIoU'] is None and metrics['mIoU'] is None and metrics['pr@0.7'] is None
    assert summarize([])['no_match_rate'] is None


def test_latency_skips_stages_a_record_did_not_run():
    stages = latency([{'timings_ms': {'total': 1.0, 'proposals': 4.0}}, {'timings_ms': {}},
                      {'timings_ms': {'total': 3.0}}])
    assert stages == {'total': {'p50': 2.0, 'p95': 2.9, 'max': 3.0},
                      'proposals': {'p50': 4.0, 'p95': 4.0, 'max': 4.0}}

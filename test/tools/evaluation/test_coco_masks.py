"""COCO mask decoding against outputs of pycocotools (the paper's target masks)."""

import numpy as np

from zsris_ros.tools.evaluation.coco_masks import decode_segmentation, rle_counts

# pycocotools.mask.encode of np.array([[0,0,0,1],[0,1,1,0],[0,1,1,0]]): counts '42111'.
SMALL = np.array([[0, 0, 0, 1], [0, 1, 1, 0], [0, 1, 1, 0]], bool)
# An L-shaped polygon and a triangle on 24x32; pycocotools.mask.merge(frPyObjects(...)).
POLYGONS = [[2.3, 3.1, 20.7, 2.2, 21.4, 9.6, 9.2, 10.1, 10.8, 19.7, 3.5, 20.4],
            [24.0, 12.5, 30.6, 14.1, 27.2, 22.8]]
POLYGONS_RLE = {'size': [24, 32],
                'counts': 'c12f0>B1O00000000FK15O1KO5:00000O10000000000c2IdM3M3M2OL3NT1'}
# pycocotools.mask.decode(frPyObjects([[1.0, 0.5, 3.6, 1.2, 2.0, 3.8]], 5, 5)).
TRIANGLE = np.array([[0, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0],
                     [0, 0, 0, 0, 0]], bool)


def test_compressed_rle():
    # Column by column: 0 0 0 | 0 1 1 | 0 1 1 | 1 0 0; from the third count on, deltas.
    assert rle_counts('42111') == [4, 2, 1, 3, 2]
    assert np.array_equal(decode_segmentation({'size': [3, 4], 'counts': '42111'}, 3, 4),
                          SMALL)
    assert np.array_equal(decode_segmentation({'size': [3, 4], 'counts': b'42111'}, 3, 4),
                          SMALL)


def test_uncompressed_rle_is_column_major():
    counts = {'size': [3, 4], 'counts': [4, 2, 1, 3, 2]}
    assert np.array_equal(decode_segmentation(counts, 3, 4), SMALL)


def test_polygons_match_pycocotools_pixel_for_pixel():
    assert np.array_equal(decode_segmentation([[1.0, 0.5, 3.6, 1.2, 2.0, 3.8]], 5, 5),
                          TRIANGLE)
    ours = decode_segmentation(POLYGONS, 24, 32)
    assert ours.sum() == 232
    assert np.array_equal(ours, decode_segmentation(POLYGONS_RLE, 24, 32))

"""
Where each mask proposal lies and how pairs of proposals lie relative to one another.

Everything is measured once per frame from the masks (not their boxes), then compared on
these summaries: pairwise relations never touch full-size masks, so a hundred proposals cost
milliseconds. Overlaps, the one thing boxes cannot tell, come from masks sampled on a coarse
grid.
"""

from dataclasses import dataclass
import math

import numpy as np

from ..geometry import DEPTH_EROSION_PX, mask_centroid, mask_depth

#: Overlaps are counted on a grid whose long side has about this many cells.
OVERLAP_GRID_CELLS = 96
#: Directions a proposal can be ahead of another in; each has its opposite.
AXES = ('left', 'top', 'nearest', 'biggest')
OPPOSITE = {'right': 'left', 'bottom': 'top', 'farthest': 'nearest', 'smallest': 'biggest'}


@dataclass(frozen=True)
class Layout:
    """
    Per-proposal geometry and pairwise comparisons of N proposals.

    `ahead[axis][a, b]` says how far proposal a is beyond b towards axis ('left': a lies
    left of b), in object sizes, so one softness fits every axis: centroid offsets over the
    pair's mean width or height; depth differences over `depth_unit` of the pair's mean depth
    (rows of the bottom edges, lower = nearer, when either depth is missing); log2 of the area
    ratio.
    """

    boxes: np.ndarray       # (N, 4) x0, y0, x1, y1; exclusive max corner
    centroids: np.ndarray   # (N, 2) u, v on the mask
    areas: np.ndarray       # (N,) pixels; 0 for an empty mask
    depths: np.ndarray      # (N,) metres; NaN where no depth is valid
    inside: np.ndarray      # (N, N) fraction of a's mask inside b's mask
    iou: np.ndarray         # (N, N) intersection over union of the masks
    ahead: dict[str, np.ndarray]
    image_size: tuple[int, int]  # width, height

    @property
    def count(self) -> int:
        return len(self.areas)

    def toward(self, direction: str) -> np.ndarray:
        """ahead[a, b] for any direction word, opposites included."""
        if direction in OPPOSITE:
            return -self.ahead[OPPOSITE[direction]]
        return self.ahead[direction]

    def sizes(self) -> np.ndarray:
        """Give a length per proposal (square root of its area), at least one pixel."""
        return np.sqrt(np.maximum(self.areas, 1.0))


def measure(masks: np.ndarray, depth_m: np.ndarray | None, depth_unit: float) -> Layout:
    """Summarise N boolean HxW masks (and an aligned depth image, or None)."""
    masks = np.asarray(masks, bool)
    count, height, width = masks.shape
    boxes = _boxes(masks)
    centroids = np.full((count, 2), np.nan)
    areas = np.zeros(count)
    depths = np.full(count, np.nan)
    margin = DEPTH_EROSION_PX + 1
    for i in np.flatnonzero(boxes[:, 2] > boxes[:, 0]):
        x0, y0 = max(int(boxes[i, 0]) - margin, 0), max(int(boxes[i, 1]) - margin, 0)
        x1, y1 = int(boxes[i, 2]) + margin, int(boxes[i, 3]) + margin
        crop = masks[i, y0:y1, x0:x1]
        u, v = mask_centroid(crop)
        centroids[i] = (u + x0, v + y0)
        areas[i] = np.count_nonzero(crop)
        if depth_m is not None:
            z = mask_depth(crop, depth_m[y0:y1, x0:x1])
            depths[i] = np.nan if z is None else z
    inside, iou = _overlaps(masks, boxes)
    ahead = _ahead(boxes, centroids, areas, depths, depth_unit)
    return Layout(boxes, centroids, areas, depths, inside, iou, ahead, (width, height))


def _boxes(masks: np.ndarray) -> np.ndarray:
    """Boxes of all masks in two passes; an empty mask gets an empty box at the origin."""
    rows, cols = masks.any(axis=2), masks.any(axis=1)
    filled = rows.any(axis=1)
    y0, x0 = rows.argmax(axis=1), cols.argmax(axis=1)
    y1 = rows.shape[1] - rows[:, ::-1].argmax(axis=1)
    x1 = cols.shape[1] - cols[:, ::-1].argmax(axis=1)
    return np.where(filled[:, None], np.stack([x0, y0, x1, y1], axis=1), 0).astype(float)


def _overlaps(masks: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """
    Containment and IoU from masks sampled on a coarse grid, counted as bits.

    Popcounts rather than a float matrix product: BLAS threads fight over shared cores. A mask
    too small to hit the grid falls back to its box, which is what it nearly is.
    """
    count, height, width = masks.shape
    step = max(1, math.ceil(max(height, width) / OVERLAP_GRID_CELLS))
    packed = np.packbits(masks[:, ::step, ::step].reshape(count, -1), axis=1)
    packed = np.pad(packed, ((0, 0), (0, -packed.shape[1] % 8))).view(np.uint64)
    common = np.stack([np.bitwise_count(row & packed).sum(axis=1) for row in packed])
    common = common.reshape(count, count).astype(float)
    cells = np.diag(common).copy()
    box_common = _box_intersections(boxes)
    box_areas = np.diag(box_common).copy()
    sampled = cells > 0
    pair = sampled[:, None] & sampled[None, :]
    common = np.where(pair, common, box_common)
    own = np.where(sampled, cells, box_areas)
    with np.errstate(divide='ignore', invalid='ignore'):
        inside = np.nan_to_num(common / own[:, None])
        iou = np.nan_to_num(common / (own[:, None] + own[None, :] - common))
    return np.clip(inside, 0.0, 1.0), np.clip(iou, 0.0, 1.0)


def _box_intersections(boxes: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = (boxes[:, k] for k in range(4))
    w = np.minimum(x1[:, None], x1[None, :]) - np.maximum(x0[:, None], x0[None, :])
    h = np.minimum(y1[:, None], y1[None, :]) - np.maximum(y0[:, None], y0[None, :])
    return np.maximum(w, 0.0) * np.maximum(h, 0.0)


def _ahead(boxes: np.ndarray, centroids: np.ndarray, areas: np.ndarray, depths: np.ndarray,
           depth_unit: float) -> dict[str, np.ndarray]:
    widths = np.maximum(boxes[:, 2] - boxes[:, 0], 1.0)
    heights = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    mean_w = (widths[:, None] + widths[None, :]) / 2
    mean_h = (heights[:, None] + heights[None, :]) / 2
    u, v = centroids[:, 0], centroids[:, 1]
    rows_nearer = (boxes[:, 3][:, None] - boxes[:, 3][None, :]) / mean_h
    mean_z = (depths[:, None] + depths[None, :]) / 2
    with np.errstate(invalid='ignore', divide='ignore'):
        depth_nearer = (depths[None, :] - depths[:, None]) / (depth_unit * mean_z)
        bigger = np.log2(np.maximum(areas, 1.0)[:, None] / np.maximum(areas, 1.0)[None, :])
    known = np.isfinite(depth_nearer)
    return {
        'left': np.nan_to_num((u[None, :] - u[:, None]) / mean_w),
        'top': np.nan_to_num((v[None, :] - v[:, None]) / mean_h),
        'nearest': np.where(known, depth_nearer, rows_nearer),
        'biggest': bigger,
    }


def box_gaps(boxes: np.ndarray) -> np.ndarray:
    """Shortest distance between the boxes of every pair, 0 where they touch or overlap."""
    x0, y0, x1, y1 = (boxes[:, k] for k in range(4))
    dx = np.maximum(0.0, np.maximum(x0[:, None] - x1[None, :], x0[None, :] - x1[:, None]))
    dy = np.maximum(0.0, np.maximum(y0[:, None] - y1[None, :], y0[None, :] - y1[:, None]))
    return np.hypot(dx, dy)


#: Relations that compare centroids, depths or sizes along one direction.
DIRECTIONAL = {'left_of': 'left', 'right_of': 'right', 'above': 'top', 'below': 'bottom',
               'in_front_of': 'nearest', 'behind': 'farthest', 'bigger_than': 'biggest',
               'smaller_than': 'smallest'}
#: How far above its support (in its own heights) an object's bottom edge may still be 'on' it:
#: perspective lifts the bottom edge of an object standing on a surface seen from the side.
ON_GAP = 0.5


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def relation(layout: Layout, kind: str, softness: float) -> np.ndarray:
    """
    R[i, j] in [0, 1]: how well proposal i stands in relation `kind` to proposal j.

    Distances are in object sizes and pass through one sigmoid of width `softness`, so 0.5
    means "on the edge of the relation" for every kind. 'next_to' measures the gap between
    boxes in the smaller object's sizes: a cup a cup's width from a table is next to it.
    """
    if kind in DIRECTIONAL:
        return sigmoid(layout.toward(DIRECTIONAL[kind]) / softness)
    if kind == 'next_to':
        sizes = layout.sizes()
        gaps = box_gaps(layout.boxes) / np.minimum(sizes[:, None], sizes[None, :])
        return sigmoid((1.0 - gaps) / softness)
    smaller = sigmoid(-layout.ahead['biggest'] / softness)
    if kind == 'in':
        return np.maximum(layout.inside, box_inside(layout.boxes)) * smaller
    if kind == 'on':
        return _support(layout.boxes, softness)
    raise ValueError(f'no pairwise relation {kind!r}')


def box_inside(boxes: np.ndarray) -> np.ndarray:
    """Fraction of each box inside each other box: a part lies in the box of its object."""
    common = _box_intersections(boxes)
    return common / np.maximum(np.diag(common), 1.0)[:, None]


def _support(boxes: np.ndarray, softness: float) -> np.ndarray:
    """
    'i on j': i overlaps j horizontally and i's bottom edge rests within j's vertical extent.

    A cup on a plate seen from above lies inside the plate's outline; seen from the side it
    stands on the plate's top edge: both put the cup's bottom edge between the plate's top
    (less a little perspective) and its bottom.
    """
    x0, y0, x1, y1 = (boxes[:, k] for k in range(4))
    width = np.maximum(x1 - x0, 1.0)[:, None]
    height = np.maximum(y1 - y0, 1.0)[:, None]
    overlap = np.minimum(x1[:, None], x1[None, :]) - np.maximum(x0[:, None], x0[None, :])
    covered = np.clip(overlap / width, 0.0, 1.0)
    floating = (y0[None, :] - y1[:, None]) / height
    sunk = (y1[:, None] - y1[None, :]) / height
    return covered * sigmoid((ON_GAP - floating) / softness) * sigmoid(-sunk / softness)


def centre_distances(layout: Layout) -> np.ndarray:
    """Pixel distance between the centroids of every pair."""
    delta = layout.centroids[:, None, :] - layout.centroids[None, :, :]
    return np.nan_to_num(np.hypot(delta[..., 0], delta[..., 1]), nan=np.inf)


def between(layout: Layout, first: np.ndarray, second: np.ndarray, softness: float,
            spread: float) -> np.ndarray:
    """
    B[i, a, b]: proposal i lies on the segment from proposal first[a] to second[b].

    Along the segment i must be past both ends' centroids inwards; across it, within its own
    size or `spread` of the segment's length, whichever is more: the farther apart the two
    anchors, the more room there is between them. All in i's sizes, like every relation.
    """
    c = np.nan_to_num(layout.centroids)
    start, end = c[first][None, :, None, :], c[second][None, None, :, :]
    point = c[:, None, None, :]
    axis = end - start
    length = np.maximum(np.linalg.norm(axis, axis=-1), 1e-9)
    along = ((point - start) * axis).sum(axis=-1) / length
    across = np.abs(axis[..., 0] * (point - start)[..., 1]
                    - axis[..., 1] * (point - start)[..., 0]) / length
    size = layout.sizes()[:, None, None]
    room = np.maximum(size, spread * length)
    return (sigmoid(along / size / softness) * sigmoid((length - along) / size / softness)
            * sigmoid((room - across) / size / softness))

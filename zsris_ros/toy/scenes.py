"""
Deterministic toy tabletop scenes: a textured table, coloured shapes, exact masks, expressions.

Every random choice of a scene comes from numpy Generators seeded with the scene's seed, so a
seed names the same scene on every machine and evaluation sets need no files: the image, its
objects and the first four expression types from `default_rng(seed)`, the camera and depth
from `default_rng([seed, 1])` and the later expression types from `default_rng([seed, 2])`, so
that adding those left every older image, mask and expression text unchanged. Objects are drawn
in order, later ones over earlier ones; masks are the visible pixels. Every expression is
checked against the scene to name exactly one object, with margins, so that a human would not
hesitate either; an 'ambiguous' expression is checked to fit exactly two objects equally.

How each type's ground truth is decided (`candidates` is the one rule, `identifies` its test):

- attribute: the fewest of colour and size words that leave one object of the shape.
- command: an attribute description wrapped in a request ("could you hand me ...").
- spatial: the leftmost / rightmost / topmost / lowest of the matching objects, by the centre of
  its visible pixels, ahead of the next one by POSITION_MARGIN pixels.
- relational: the only matching object beside, left of, right of, above or below a uniquely
  described anchor, by centres, POSITION_MARGIN clear of the anchor (beside: clearly nearest).
- ordinal: the k-th matching object counted from the left, right, nearest or farthest end (or
  the last from the left); every other match is a margin away from it along that axis, so the
  count is beyond doubt.
- size: the biggest / smallest (bigger / smaller when two match) by visible area, SIZE_RATIO
  times the area of every other match.
- depth: the nearest / farthest matching object, or the only one in front of / behind an
  anchor, by the median of the depth frame over its visible pixels, DEPTH_MARGIN metres clear;
  its image row must agree (nearer is lower), so a tall object's raised top cannot decide.
- between: the only matching object whose centre projects onto the middle of the segment
  joining two uniquely described anchors and lies close to it (BETWEEN_SPAN, BETWEEN_OFFSET);
  no other match is near that region.
- ambiguous: a plain description that fits exactly two objects of the same size class whose
  visible areas differ by less than SIZE_RATIO, so nothing said or seen tells them apart; the
  expected answer is the status 'ambiguous', not a mask.

Objects' depths come from the camera model in `camera.py`: a table seen from above-front, its
depth growing towards the top of the image, each object a slab a few centimetres tall.
"""

from dataclasses import dataclass, replace
from functools import cached_property
from itertools import combinations
import math

import cv2
import numpy as np

from .camera import CameraInfo, elevations, table_view
from .phrasing import (BETWEEN_TEMPLATES, DEPTH_RELATION_TEMPLATES, EXTREME_TEMPLATES,
                       LAST_TEMPLATES, OBJECT_NOUNS, ORDINAL_TEMPLATES, ORDINAL_WORDS)
from ..grounding.geometry import mask_bbox

WIDTH, HEIGHT = 320, 240
SHAPES = ('circle', 'square', 'triangle', 'star', 'cross', 'hexagon')
COLOURS = {
    'red': (210, 35, 35), 'green': (35, 165, 65), 'blue': (35, 80, 215),
    'yellow': (240, 210, 40), 'purple': (140, 55, 185), 'orange': (250, 135, 25),
}
#: Circumradius ranges in pixels: a large object has about four times a small one's area.
SIZES = {'small': (11.0, 14.0), 'large': (23.0, 28.0)}
SIZE_WORDS = {'small': ('small', 'little'), 'large': ('large', 'big')}
EXPRESSION_TYPES = ('attribute', 'spatial', 'relational', 'command', 'ordinal', 'size', 'depth',
                    'between', 'ambiguous')

MIN_OBJECTS, MAX_OBJECTS = 2, 6
#: An object stays in a scene only while this fraction of it is still visible.
MIN_VISIBLE = 0.4
PLACEMENT_TRIES = 20
#: Chance that a new object copies an earlier one's attributes but one (look-alike distractor).
LOOKALIKE_CHANCE = 0.5
#: Objects of one colour keep this gap (pixels), or they would read as a single blob.
SAME_COLOUR_GAP = 4
ROTATION_JITTER = math.radians(12.0)
TABLE_TONES = ((176, 134, 92), (150, 105, 70), (196, 160, 120), (122, 88, 62), (168, 150, 128))
NOISE_STD = 4.0

#: Centroid differences (pixels) below this are too close to call left/right/above/below.
POSITION_MARGIN = 15.0
#: "next to": the nearest candidate must be this close, and the others this much farther.
NEAR_MAX = 110.0
NEAR_RATIO = 0.6
WHERE = ('left', 'right', 'top', 'bottom')
RELATIONS = ('next to', 'left of', 'right of', 'above', 'below')
#: Depths (m, medians over visible pixels) closer than this are too close to call nearer/farther.
DEPTH_MARGIN = 0.05
#: "the biggest": its visible area must be this many times every other match's.
SIZE_RATIO = 1.5
#: "between A and B": the centre projects onto this span of the segment A-B (0 at A, 1 at B)
#: at most BETWEEN_OFFSET of its length away; anything within the looser bounds is doubtful.
BETWEEN_SPAN, LOOSE_SPAN = (0.2, 0.8), (0.0, 1.0)
BETWEEN_OFFSET, LOOSE_OFFSET = 0.3, 0.6
#: Anchors closer than this (pixels) leave no room between them.
BETWEEN_MIN_GAP = 60.0
DEPTH_WORDS = ('nearest', 'farthest')
SIZE_EXTREMES = ('biggest', 'smallest')
COMPARATIVES = {'bigger': 'biggest', 'smaller': 'smallest'}
ORDINAL_AXES = ('left', 'right', 'nearest', 'farthest')
DEPTH_RELATIONS = {'in front of': 'nearest', 'behind': 'farthest'}
#: The ordering word each relation compares along: "left of A" is "more left than A".
RELATION_AXES = {'left of': 'left', 'right of': 'right', 'above': 'top', 'below': 'bottom',
                 **DEPTH_RELATIONS}

WHERE_TEMPLATES = {
    'left': ('the {np} on the left', 'the leftmost {np}', 'the left {np}'),
    'right': ('the {np} on the right', 'the rightmost {np}', 'the right {np}'),
    'top': ('the top {np}', 'the {np} at the top', 'the topmost {np}'),
    'bottom': ('the bottom {np}', 'the {np} at the bottom', 'the lowest {np}'),
}
RELATION_TEMPLATES = {
    'next to': ('the {np} next to {anchor}', 'the {np} beside {anchor}',
                'the {np} near {anchor}', 'the {np} closest to {anchor}'),
    'left of': ('the {np} left of {anchor}', 'the {np} to the left of {anchor}'),
    'right of': ('the {np} right of {anchor}', 'the {np} to the right of {anchor}'),
    'above': ('the {np} above {anchor}', 'the {np} behind {anchor}'),
    'below': ('the {np} below {anchor}', 'the {np} under {anchor}',
              'the {np} in front of {anchor}'),
}
COMMAND_TEMPLATES = (
    'pick up {d}', 'could you hand me {d}', 'grab {d} please', 'bring me {d}',
    'please pass me {d}', 'can you get {d}', 'fetch {d}', 'take {d}', 'give me {d}',
    'hand me {d}', 'I need {d}', 'I want {d}', 'robot, pick up {d}', 'go get {d}',
    'would you grab {d} for me', 'select {d}', 'point at {d}', 'find {d}', 'lift {d}',
    'show me {d}', 'get me {d}, thanks', 'can you please fetch {d}', 'put {d} in the box',
    'move {d} to the corner', 'hey robot, grab {d}', 'I would like {d}', 'please pick up {d}',
)
_WHERE_TEMPLATES = {**WHERE_TEMPLATES, **EXTREME_TEMPLATES}
_RELATION_TEMPLATES = {**RELATION_TEMPLATES, **DEPTH_RELATION_TEMPLATES}
#: Pixel row and column coordinates, broadcastable to HEIGHT x WIDTH.
_ROWS = np.arange(HEIGHT, dtype=np.float32)[:, None]
_COLUMNS = np.arange(WIDTH, dtype=np.float32)[None, :]


def _ring(radius: float, count: int, start: float = -math.pi / 2) -> np.ndarray:
    angles = start + 2 * math.pi * np.arange(count) / count
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _star() -> np.ndarray:
    points = _ring(1.1, 10)
    points[1::2] *= 0.5 / 1.1
    return points


def _cross(arm: float = 0.33) -> np.ndarray:
    a = arm
    return np.array([(-a, -1), (a, -1), (a, -a), (1, -a), (1, a), (a, a), (a, 1), (-a, 1),
                     (-a, a), (-1, a), (-1, -a), (-a, -a)], dtype=float)


#: Outlines for a circumradius of 1, scaled so that the shapes have comparable areas.
OUTLINES = {
    'circle': _ring(0.85, 48), 'square': _ring(1.0, 4, math.pi / 4),
    'triangle': _ring(1.1, 3), 'star': _star(), 'cross': _cross(), 'hexagon': _ring(0.95, 6),
}


@dataclass
class ToyObject:
    """
    One shape on the table; `mask` holds its visible pixels, `bbox` is [x0, y0, x1, y1).

    `depth` is the median of the scene's depth frame over the mask (metres), None for an object
    placed without one.
    """

    shape: str
    colour: str
    size: str
    mask: np.ndarray
    bbox: list[int]
    depth: float | None = None

    @cached_property
    def centre(self) -> tuple[float, float]:
        """Centre (x, y) of the visible pixels: where a viewer sees the object."""
        ys, xs = np.nonzero(self.mask)
        return float(xs.mean()), float(ys.mean())

    @cached_property
    def area(self) -> int:
        """Visible pixels: how big the object looks."""
        return int(self.mask.sum())


@dataclass(frozen=True)
class Description:
    """
    What an expression says about its target, resolvable against a scene by `candidates`.

    No shape means any ("the red object"). `where` is an ordering word (left ... bottom,
    nearest, farthest, biggest, smallest, bigger, smaller); with `ordinal` k it names the k-th
    from that end, -1 the last. `relation` 'between' takes `anchor` and `second_anchor`.
    """

    shape: str | None
    colour: str | None = None
    size: str | None = None
    where: str | None = None
    relation: str | None = None
    anchor: 'Description | None' = None
    ordinal: int | None = None
    second_anchor: 'Description | None' = None

    @property
    def attribute_count(self) -> int:
        """How many attributes besides the shape: fewer is what people say."""
        return (self.colour is not None) + (self.size is not None)


@dataclass
class Expression:
    """
    A referring expression or command naming objects[target] and no other object.

    `description` is what the text was rendered from, kept so the claim can be re-checked.
    `targets` lists every object the text fits: (target,) when it names one, both objects of
    an 'ambiguous' expression, whose target is None and whose expected status is 'ambiguous'
    (what grounding should answer instead of a mask).
    """

    text: str
    type: str  # noqa: A003 (the name the evaluation tools report)
    target: int | None
    description: Description | None = None
    targets: tuple[int, ...] = ()
    expected_status: str = 'ok'

    def __post_init__(self) -> None:
        if not self.targets and self.target is not None:
            self.targets = (self.target,)


@dataclass
class Scene:
    """
    One generated frame: HxWx3 uint8 RGB image, its objects and their expressions.

    `depth` is the aligned depth frame (HxW float32 metres along the optical axis) of `camera`;
    `table_plane` (a, b, c, d) gives a camera-frame point's height above the table as
    a x + b y + c z + d, so the table is where it is zero.
    """

    seed: int
    image: np.ndarray
    objects: list[ToyObject]
    expressions: list[Expression]
    depth: np.ndarray
    camera: CameraInfo
    table_plane: tuple[float, float, float, float]


def generate_scene(seed: int) -> Scene:
    """Build scene `seed`; the same seed gives identical pixels, masks and expressions."""
    rng = np.random.default_rng(seed)
    canvas = _table(rng)
    labels = np.full((HEIGHT, WIDTH), -1, dtype=np.int8)
    attributes: list[tuple[str, str, str]] = []
    full_areas: list[int] = []
    for _ in range(rng.integers(MIN_OBJECTS, MAX_OBJECTS + 1)):
        shape, colour, size = _sample_attributes(rng, attributes)
        full = _place(rng, shape, colour, size, labels, attributes, full_areas)
        if full is None:
            continue
        canvas[full] = _jittered_colour(rng, colour)
        labels[full] = len(attributes)
        attributes.append((shape, colour, size))
        full_areas.append(int(full.sum()))
    image = _finish(rng, canvas)
    camera_rng = np.random.default_rng([seed, 1])
    view = table_view(camera_rng, WIDTH, HEIGHT)
    depth = view.render(labels, elevations(camera_rng, [size for *_, size in attributes]))
    objects = [_object(labels == index, *attrs, depth) for index, attrs in enumerate(attributes)]
    expressions = [*_expressions(rng, objects),
                   *_located_expressions(np.random.default_rng([seed, 2]), objects)]
    return Scene(seed, image, objects, expressions, depth, view.camera, view.table_plane)


def caption(obj: ToyObject) -> str:
    """Full description of one object, e.g. 'a small red circle' (training text)."""
    return f'a {obj.size} {obj.colour} {obj.shape}'


def candidates(desc: Description, objects: list[ToyObject]) -> tuple[list[int], list[int]]:
    """Return the objects the description surely names, and those it might (too close)."""
    matches = [i for i, obj in enumerate(objects) if _has_attributes(obj, desc)]
    if desc.ordinal is not None:
        return _ranked(matches, objects, desc.where, desc.ordinal)
    if desc.where is not None:
        return _extreme(matches, objects, desc.where)
    if desc.relation == 'between':
        return _between(matches, objects, desc)
    if desc.relation is not None:
        return _related(matches, objects, desc)
    return matches, []


def identifies(desc: Description, objects: list[ToyObject], target: int) -> bool:
    """Whether the description names objects[target] and, beyond doubt, nothing else."""
    sure, unsure = candidates(desc, objects)
    return sure == [target] and not unsure


def fits_two(desc: Description, objects: list[ToyObject], targets: tuple[int, ...]) -> bool:
    """Whether the description fits exactly these two objects and nothing tells them apart."""
    sure, unsure = candidates(desc, objects)
    return (len(targets) == 2 and sure == sorted(targets) and not unsure
            and _look_alike(*(objects[i] for i in targets)))


def render(desc: Description, rng: np.random.Generator) -> str:
    """Words for a description, with the template and size synonym drawn from rng."""
    words = _noun_words(desc, rng)
    if desc.ordinal is not None:
        return _render_ordinal(desc, words, rng)
    if desc.where is not None:
        return _pick(rng, _WHERE_TEMPLATES[desc.where]).format(np=words)
    if desc.relation == 'between':
        first, second = (f'the {_noun_words(a, rng)}' for a in (desc.anchor, desc.second_anchor))
        return _pick(rng, BETWEEN_TEMPLATES).format(np=words, a=first, b=second)
    if desc.relation is not None:
        anchor = f'the {_noun_words(desc.anchor, rng)}'
        return _pick(rng, _RELATION_TEMPLATES[desc.relation]).format(np=words, anchor=anchor)
    return f'the {words}'


def _render_ordinal(desc: Description, words: str, rng: np.random.Generator) -> str:
    if desc.ordinal == -1:
        return _pick(rng, LAST_TEMPLATES).format(np=words)
    nth = _pick(rng, ORDINAL_WORDS[desc.ordinal])
    return _pick(rng, ORDINAL_TEMPLATES[desc.where]).format(nth=nth, np=words)


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[rng.integers(len(options))]


def _noun_words(desc: Description, rng: np.random.Generator) -> str:
    size = _pick(rng, SIZE_WORDS[desc.size]) if desc.size else None
    noun = desc.shape or _pick(rng, OBJECT_NOUNS)
    return ' '.join(w for w in (size, desc.colour, noun) if w)


def _table(rng: np.random.Generator) -> np.ndarray:
    """Wood-like planks: a base tone, wavy grain along x, low-frequency blotches."""
    tone = np.array(TABLE_TONES[rng.integers(len(TABLE_TONES))], dtype=np.float32)
    tone *= rng.uniform(0.9, 1.1)
    warp = _smooth_noise(rng, (6, 8))
    period = rng.uniform(9.0, 16.0)
    slope = rng.uniform(400, 900)
    grain = np.sin(2 * np.pi * (_ROWS / period + 0.6 * warp + _COLUMNS / slope))
    planks = np.floor(_ROWS / rng.uniform(50, 80)) % 2
    shade = 1.0 + 0.05 * grain + 0.06 * _smooth_noise(rng, (4, 5)) - 0.04 * planks
    return (tone[None, None, :] * shade[..., None]).astype(np.float32)


def _smooth_noise(rng: np.random.Generator, grid: tuple[int, int]) -> np.ndarray:
    coarse = rng.standard_normal(grid).astype(np.float32)
    return cv2.resize(coarse, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)


def _finish(rng: np.random.Generator, canvas: np.ndarray) -> np.ndarray:
    """Gradient lighting over table and objects alike, then sensor noise (uniform: fast)."""
    gx, gy = rng.uniform(-0.25, 0.25, size=2)
    light = 1.0 + gx * (_COLUMNS / WIDTH - 0.5) + gy * (_ROWS / HEIGHT - 0.5)
    canvas *= light[..., None]
    canvas += NOISE_STD * math.sqrt(12.0) * (rng.random(canvas.shape, dtype=np.float32) - 0.5)
    return np.clip(canvas, 0, 255, out=canvas).astype(np.uint8)


def _sample_attributes(rng: np.random.Generator,
                       previous: list[tuple[str, str, str]]) -> tuple[str, str, str]:
    """Uniform attributes, or an earlier object with one attribute changed (or none)."""
    options = (SHAPES, tuple(COLOURS), tuple(SIZES))
    if not previous or rng.random() >= LOOKALIKE_CHANCE:
        return _pick(rng, options[0]), _pick(rng, options[1]), _pick(rng, options[2])
    base = list(previous[rng.integers(len(previous))])
    changed = int(rng.choice(4, p=(0.3, 0.3, 0.3, 0.1)))
    if changed < 3:
        base[changed] = _other(rng, options[changed], base[changed])
    return base[0], base[1], base[2]


def _other(rng: np.random.Generator, options: tuple[str, ...], current: str) -> str:
    return _pick(rng, tuple(o for o in options if o != current))


def _place(rng: np.random.Generator, shape: str, colour: str, size: str, labels: np.ndarray,
           attributes: list[tuple[str, str, str]], full_areas: list[int]) -> np.ndarray | None:
    """Find a position that leaves every earlier object visible enough, or give up."""
    same_colour = [i for i, attrs in enumerate(attributes) if attrs[1] == colour]
    for _ in range(PLACEMENT_TRIES):
        full = _draw(rng, shape, size)
        if _keeps_visible(full, labels, full_areas) and not _touches(full, labels, same_colour):
            return full
    return None


def _draw(rng: np.random.Generator, shape: str, size: str) -> np.ndarray:
    radius = rng.uniform(*SIZES[size])
    angle = rng.uniform(-ROTATION_JITTER, ROTATION_JITTER)
    cx = rng.uniform(radius + 2, WIDTH - radius - 2)
    cy = rng.uniform(radius + 2, HEIGHT - radius - 2)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    points = OUTLINES[shape] @ rotation.T * radius + (cx, cy)
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(points * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
    return mask.astype(bool)


def _keeps_visible(full: np.ndarray, labels: np.ndarray, full_areas: list[int]) -> bool:
    if not full_areas:
        return True
    remaining = np.bincount(labels[~full].astype(np.int64) + 1, minlength=len(full_areas) + 1)
    return all(remaining[i + 1] >= MIN_VISIBLE * area for i, area in enumerate(full_areas))


def _touches(full: np.ndarray, labels: np.ndarray, indices: list[int]) -> bool:
    if not indices:
        return False
    kernel = np.ones((2 * SAME_COLOUR_GAP + 1,) * 2, np.uint8)
    grown = cv2.dilate(full.astype(np.uint8), kernel).astype(bool)
    return bool(np.isin(labels[grown], indices).any())


def _jittered_colour(rng: np.random.Generator, colour: str) -> np.ndarray:
    """Slight hue, saturation and brightness changes, so colours are categories, not values."""
    hsv = cv2.cvtColor(np.array([[COLOURS[colour]]], dtype=np.uint8), cv2.COLOR_RGB2HSV)
    h, s, v = hsv[0, 0].astype(float)
    h = (h + rng.uniform(-4, 4)) % 180
    s = min(s * rng.uniform(0.85, 1.05), 255)
    v = min(v * rng.uniform(0.85, 1.08), 255)
    pixel = np.array([[[h, s, v]]], dtype=np.uint8)
    return cv2.cvtColor(pixel, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _object(mask: np.ndarray, shape: str, colour: str, size: str,
            depth: np.ndarray) -> ToyObject:
    return ToyObject(shape, colour, size, mask, mask_bbox(mask), float(np.median(depth[mask])))


def _has_attributes(obj: ToyObject, desc: Description) -> bool:
    return (desc.shape in (None, obj.shape) and desc.colour in (None, obj.colour)
            and desc.size in (None, obj.size))


def _key(obj: ToyObject, where: str) -> float:
    """Where an object comes along an ordering word: the smallest key comes first."""
    if where in DEPTH_WORDS:
        return obj.depth if where == 'nearest' else -obj.depth
    if where in SIZE_EXTREMES:
        return -math.log(obj.area) if where == 'biggest' else math.log(obj.area)
    axis, sign = {'left': (0, 1), 'right': (0, -1), 'top': (1, 1), 'bottom': (1, -1)}[where]
    return sign * obj.centre[axis]


def _margin(where: str) -> float:
    """How far apart two keys must be for the order to be beyond doubt."""
    if where in DEPTH_WORDS:
        return DEPTH_MARGIN
    return math.log(SIZE_RATIO) if where in SIZE_EXTREMES else POSITION_MARGIN


def _rows_disagree(a: ToyObject, b: ToyObject, where: str) -> bool:
    """For depth words: whether the nearer by depth is not also the lower in the image."""
    if where not in DEPTH_WORDS:
        return False
    nearer, farther = (a, b) if a.depth < b.depth else (b, a)
    return nearer.centre[1] <= farther.centre[1]


def _extreme(matches: list[int], objects: list[ToyObject],
             where: str) -> tuple[list[int], list[int]]:
    """Return the leftmost (...) match, and the matches too close to it to tell apart."""
    if where in COMPARATIVES:
        if len(matches) != 2:
            return [], matches
        where = COMPARATIVES[where]
    if not matches:
        return [], []
    key = {i: _key(objects[i], where) for i in matches}
    first = min(matches, key=key.get)
    margin = _margin(where)
    close = [i for i in matches if i != first and (
        key[i] < key[first] + margin or _rows_disagree(objects[first], objects[i], where))]
    return [first], close


def _ranked(matches: list[int], objects: list[ToyObject], where: str,
            rank: int) -> tuple[list[int], list[int]]:
    """Return the rank-th match from the `where` end, and the matches too close to it."""
    if not matches or rank > len(matches):
        return [], matches
    key = {i: _key(objects[i], where) for i in matches}
    target = sorted(matches, key=key.get)[rank - 1 if rank > 0 else rank]
    margin = _margin(where)
    close = [i for i in matches if i != target and (
        abs(key[i] - key[target]) < margin or _rows_disagree(objects[target], objects[i], where))]
    return [target], close


def _related(matches: list[int], objects: list[ToyObject],
             desc: Description) -> tuple[list[int], list[int]]:
    """Return the matches in the stated relation to a uniquely named anchor object."""
    anchor, unsure = candidates(desc.anchor, objects)
    if len(anchor) != 1 or unsure:
        return [], matches
    others = [i for i in matches if i != anchor[0]]
    centre = objects[anchor[0]].centre
    if desc.relation == 'next to':
        return _nearest(others, objects, centre)
    where = RELATION_AXES[desc.relation]
    reference, margin = objects[anchor[0]], _margin(where)
    offset = {i: _key(reference, where) - _key(objects[i], where) for i in others}
    doubt = {i: _rows_disagree(reference, objects[i], where) for i in others}
    sure = [i for i in others if offset[i] >= margin and not doubt[i]]
    return sure, [i for i in others if abs(offset[i]) < margin or doubt[i]]


def _between(matches: list[int], objects: list[ToyObject],
             desc: Description) -> tuple[list[int], list[int]]:
    """Return the matches lying between two uniquely named, well separated anchors."""
    ends = [candidates(anchor, objects) for anchor in (desc.anchor, desc.second_anchor)]
    if any(len(sure) != 1 or unsure for sure, unsure in ends) or ends[0] == ends[1]:
        return [], matches
    (a,), (b,) = ends[0][0], ends[1][0]
    start, end = np.array(objects[a].centre), np.array(objects[b].centre)
    length = float(np.linalg.norm(end - start))
    others = [i for i in matches if i not in (a, b)]
    if length < BETWEEN_MIN_GAP:
        return [], others
    place = {i: _along(np.array(objects[i].centre) - start, end - start, length) for i in others}
    sure = [i for i in others if _within(place[i], BETWEEN_SPAN, BETWEEN_OFFSET)]
    loose = [i for i in others if _within(place[i], LOOSE_SPAN, LOOSE_OFFSET)]
    return sure, [i for i in loose if i not in sure]


def _along(point: np.ndarray, segment: np.ndarray, length: float) -> tuple[float, float]:
    """(fraction along the segment, distance from its line over its length) of a point."""
    cross = segment[0] * point[1] - segment[1] * point[0]
    return float(point @ segment) / length ** 2, abs(float(cross)) / length ** 2


def _within(place: tuple[float, float], span: tuple[float, float], offset: float) -> bool:
    return span[0] <= place[0] <= span[1] and place[1] <= offset


def _nearest(others: list[int], objects: list[ToyObject],
             centre: tuple[float, float]) -> tuple[list[int], list[int]]:
    if not others:
        return [], []
    distance = {i: math.dist(objects[i].centre, centre) for i in others}
    nearest = min(others, key=distance.get)
    close = [i for i in others
             if i != nearest and distance[i] * NEAR_RATIO < distance[nearest]]
    if distance[nearest] >= NEAR_MAX:
        return [], [nearest, *close]
    return [nearest], close


def _expressions(rng: np.random.Generator, objects: list[ToyObject]) -> list[Expression]:
    """Up to one expression of each type per object, each verified to name only it."""
    out = []
    for target in range(len(objects)):
        attribute = _attribute_description(rng, objects, target)
        if attribute is not None:
            out.append(Expression(render(attribute, rng), 'attribute', target, attribute))
            command = _pick(rng, COMMAND_TEMPLATES).format(d=render(attribute, rng))
            out.append(Expression(command, 'command', target, attribute))
        _add_one(rng, out, 'spatial', _spatial_options(objects, target), objects, target)
        _add_one(rng, out, 'relational', _relational_options(rng, objects, target), objects,
                 target)
    return out


def _add_one(rng: np.random.Generator, out: list[Expression], kind: str,
             options: list[Description], objects: list[ToyObject], target: int) -> None:
    """Append one of the options that single the target out, if any does."""
    valid = [d for d in options if identifies(d, objects, target)]
    if valid:
        chosen = valid[rng.integers(len(valid))]
        out.append(Expression(render(chosen, rng), kind, target, chosen))


def _bases(obj: ToyObject) -> list[Description]:
    return [Description(obj.shape), Description(obj.shape, colour=obj.colour)]


def _attribute_description(rng: np.random.Generator, objects: list[ToyObject],
                           target: int) -> Description | None:
    """Pick the fewest attributes that single the target out (ties broken by rng)."""
    obj = objects[target]
    options = [*_bases(obj), Description(obj.shape, size=obj.size),
               Description(obj.shape, obj.colour, obj.size)]
    unique = [d for d in options if identifies(d, objects, target)]
    if not unique:
        return None
    fewest = min(d.attribute_count for d in unique)
    minimal = [d for d in unique if d.attribute_count == fewest]
    return minimal[rng.integers(len(minimal))]


def _ambiguous_bases(objects: list[ToyObject], target: int) -> list[Description]:
    """Shape (+ colour) phrases that fit several objects, so position must decide."""
    return [b for b in _bases(objects[target]) if sum(map(len, candidates(b, objects))) >= 2]


def _spatial_options(objects: list[ToyObject], target: int) -> list[Description]:
    return [replace(b, where=w) for b in _ambiguous_bases(objects, target) for w in WHERE]


def _relational_options(rng: np.random.Generator, objects: list[ToyObject],
                        target: int) -> list[Description]:
    anchors = [_attribute_description(rng, objects, j) for j in range(len(objects))
               if j != target]
    return [replace(b, relation=rel, anchor=a) for b in _ambiguous_bases(objects, target)
            for a in anchors if a is not None for rel in RELATIONS]


def _located_expressions(rng: np.random.Generator,
                         objects: list[ToyObject]) -> list[Expression]:
    """Up to one ordinal, size, depth and between expression per object, then the ambiguous."""
    anchors = [_attribute_description(rng, objects, j) for j in range(len(objects))]
    out: list[Expression] = []
    for target in range(len(objects)):
        bases = _shared_bases(objects, target)
        _add_one(rng, out, 'ordinal', _ordinal_options(objects, target, bases), objects, target)
        _add_one(rng, out, 'size', _size_options(objects, bases), objects, target)
        others = [a for j, a in enumerate(anchors) if j != target and a is not None]
        _add_one(rng, out, 'depth', _depth_options(bases, others), objects, target)
        _add_one(rng, out, 'between', _between_options(bases, others), objects, target)
    return out + _ambiguous_expressions(rng, objects)


def _shared_bases(objects: list[ToyObject], target: int) -> list[Description]:
    """Nouns the target shares with another object ("the red object"), so a location decides."""
    obj = objects[target]
    bases = [Description(None), Description(None, colour=obj.colour), *_bases(obj)]
    return [b for b in bases if len(candidates(b, objects)[0]) >= 2]


def _ordinal_options(objects: list[ToyObject], target: int,
                     bases: list[Description]) -> list[Description]:
    """Count the target's place among each base's matches from every end (if not first)."""
    options = []
    for base in bases:
        matches = candidates(base, objects)[0]
        options.append(replace(base, where='left', ordinal=-1))
        for axis in ORDINAL_AXES:
            key = _key(objects[target], axis)
            rank = 1 + sum(_key(objects[i], axis) < key for i in matches)
            if rank >= 2:
                options.append(replace(base, where=axis, ordinal=rank))
    return options


def _size_options(objects: list[ToyObject], bases: list[Description]) -> list[Description]:
    options = []
    for base in bases:
        words = [*SIZE_EXTREMES, *(COMPARATIVES if len(candidates(base, objects)[0]) == 2 else ())]
        options += [replace(base, where=word) for word in words]
    return options


def _depth_options(bases: list[Description], anchors: list[Description]) -> list[Description]:
    extremes = [replace(b, where=w) for b in bases for w in DEPTH_WORDS]
    return extremes + [replace(b, relation=r, anchor=a) for b in bases for a in anchors
                       for r in DEPTH_RELATIONS]


def _between_options(bases: list[Description], anchors: list[Description]) -> list[Description]:
    return [replace(b, relation='between', anchor=first, second_anchor=second) for b in bases
            for first, second in combinations(anchors, 2)]


def _ambiguous_expressions(rng: np.random.Generator,
                           objects: list[ToyObject]) -> list[Expression]:
    """One plain description for each pair of look-alikes that it alone fits, if one does."""
    out = []
    for pair in combinations(range(len(objects)), 2):
        obj = objects[pair[0]]
        options = [Description(None), Description(None, colour=obj.colour), *_bases(obj),
                   Description(obj.shape, size=obj.size),
                   Description(obj.shape, obj.colour, obj.size)]
        valid = [d for d in options if fits_two(d, objects, pair)]
        if valid:
            desc = valid[rng.integers(len(valid))]
            text = render(desc, rng)
            if rng.random() < 0.5:
                text = _pick(rng, COMMAND_TEMPLATES).format(d=text)
            out.append(Expression(text, 'ambiguous', None, desc, pair, 'ambiguous'))
    return out


def _look_alike(a: ToyObject, b: ToyObject) -> bool:
    """Tell whether neither stands out: same size class, areas less than SIZE_RATIO apart."""
    return a.size == b.size and max(a.area, b.area) < SIZE_RATIO * min(a.area, b.area)

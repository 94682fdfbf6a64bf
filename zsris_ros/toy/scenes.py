"""
Deterministic toy tabletop scenes: a textured table, coloured shapes, exact masks, expressions.

Every random choice of a scene comes from one numpy Generator seeded with the scene's seed, so
a seed names the same scene on every machine and evaluation sets need no files. Objects are
drawn in order, later ones over earlier ones; masks are the visible pixels. Every expression is
checked against the scene to name exactly one object, with margins, so that a human would not
hesitate either.
"""

from dataclasses import dataclass, replace
from functools import cached_property
import math

import cv2
import numpy as np

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
EXPRESSION_TYPES = ('attribute', 'spatial', 'relational', 'command')

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
    """One shape on the table; `mask` holds its visible pixels, `bbox` is [x0, y0, x1, y1)."""

    shape: str
    colour: str
    size: str
    mask: np.ndarray
    bbox: list[int]

    @cached_property
    def centre(self) -> tuple[float, float]:
        """Centre (x, y) of the visible pixels: where a viewer sees the object."""
        ys, xs = np.nonzero(self.mask)
        return float(xs.mean()), float(ys.mean())


@dataclass(frozen=True)
class Description:
    """What an expression says about its target, resolvable against a scene by `candidates`."""

    shape: str
    colour: str | None = None
    size: str | None = None
    where: str | None = None
    relation: str | None = None
    anchor: 'Description | None' = None

    @property
    def attribute_count(self) -> int:
        """How many attributes besides the shape: fewer is what people say."""
        return (self.colour is not None) + (self.size is not None)


@dataclass
class Expression:
    """
    A referring expression or command naming objects[target] and no other object.

    `description` is what the text was rendered from, kept so the claim can be re-checked.
    """

    text: str
    type: str  # noqa: A003 (the name the evaluation tools report)
    target: int
    description: Description | None = None


@dataclass
class Scene:
    """One generated frame: HxWx3 uint8 RGB image, its objects and their expressions."""

    seed: int
    image: np.ndarray
    objects: list[ToyObject]
    expressions: list[Expression]


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
    objects = [_object(labels == index, *attrs) for index, attrs in enumerate(attributes)]
    return Scene(seed, image, objects, _expressions(rng, objects))


def caption(obj: ToyObject) -> str:
    """Full description of one object, e.g. 'a small red circle' (training text)."""
    return f'a {obj.size} {obj.colour} {obj.shape}'


def candidates(desc: Description, objects: list[ToyObject]) -> tuple[list[int], list[int]]:
    """Return the objects the description surely names, and those it might (too close)."""
    matches = [i for i, obj in enumerate(objects) if _has_attributes(obj, desc)]
    if desc.where is not None:
        return _extreme(matches, objects, desc.where)
    if desc.relation is not None:
        return _related(matches, objects, desc)
    return matches, []


def identifies(desc: Description, objects: list[ToyObject], target: int) -> bool:
    """Whether the description names objects[target] and, beyond doubt, nothing else."""
    sure, unsure = candidates(desc, objects)
    return sure == [target] and not unsure


def render(desc: Description, rng: np.random.Generator) -> str:
    """Words for a description, with the template and size synonym drawn from rng."""
    words = _noun_words(desc, rng)
    if desc.where is not None:
        return _pick(rng, WHERE_TEMPLATES[desc.where]).format(np=words)
    if desc.relation is not None:
        anchor = f'the {_noun_words(desc.anchor, rng)}'
        return _pick(rng, RELATION_TEMPLATES[desc.relation]).format(np=words, anchor=anchor)
    return f'the {words}'


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[rng.integers(len(options))]


def _noun_words(desc: Description, rng: np.random.Generator) -> str:
    size = _pick(rng, SIZE_WORDS[desc.size]) if desc.size else None
    return ' '.join(w for w in (size, desc.colour, desc.shape) if w)


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


def _object(mask: np.ndarray, shape: str, colour: str, size: str) -> ToyObject:
    return ToyObject(shape, colour, size, mask, mask_bbox(mask))


def _has_attributes(obj: ToyObject, desc: Description) -> bool:
    return (obj.shape == desc.shape and desc.colour in (None, obj.colour)
            and desc.size in (None, obj.size))


def _extreme(matches: list[int], objects: list[ToyObject],
             where: str) -> tuple[list[int], list[int]]:
    """Return the leftmost (...) match, and the matches too close to it to tell apart."""
    if not matches:
        return [], []
    axis, sign = {'left': (0, 1), 'right': (0, -1), 'top': (1, 1), 'bottom': (1, -1)}[where]
    key = {i: sign * objects[i].centre[axis] for i in matches}
    first = min(matches, key=key.get)
    close = [i for i in matches if i != first and key[i] < key[first] + POSITION_MARGIN]
    return [first], close


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
    axis, sign = {'left of': (0, -1), 'right of': (0, 1), 'above': (1, -1),
                  'below': (1, 1)}[desc.relation]
    offset = {i: sign * (objects[i].centre[axis] - centre[axis]) for i in others}
    sure = [i for i in others if offset[i] >= POSITION_MARGIN]
    return sure, [i for i in others if abs(offset[i]) < POSITION_MARGIN]


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

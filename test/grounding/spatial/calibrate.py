"""
How the defaults of SpatialSettings were measured: a sweep over random synthetic scenes.

Each case is a scene of cups, plates and boxes (with duplicate masks and part masks, as SAM
makes them), CLIP-like cosines and one expression with a known answer: an index, or
'ambiguous', or 'no_match'. Cosines follow what masked-crop CLIP gives: about 0.28 for the
named class, 0.21 for other objects, 0.012 spread between objects of a class (0.003
between two alike-looking ones, measured again for each mask), a duplicate slightly below
its object, a part 0.03 below. Each setting is swept with the others at their defaults and the
best value (ties: the one nearer the middle of the sweep) is the default. Run:

    .venv/bin/python test/grounding/spatial/calibrate.py 300

Result (296 cases, seed 0; accuracy per value):

    target x candidate  best 0.966 at (0.05, 0.4) and (0.07, 0.5); 0.963 at (0.05, 0.5);
                        0.939 at (0.03, 0.3); 0.909 at (0.02, 0.1); 0.814 at (0.01, 0.05)
    anchor_temperature  0.005-0.02: 0.963  0.05: 0.949  0.1: 0.899
    relation_weight     0.25-2: 0.963  4: 0.949
    position_weight     0.25: 0.953  0.5: 0.959  1: 0.963  2: 0.855  4: 0.811
    softness            0.1: 0.956  0.25: 0.963  0.5: 0.956  1: 0.953
    ambiguity_ratio     0.5: 0.882  0.65: 0.949  0.8: 0.963  0.9: 0.912  0.95: 0.841
    min_support, duplicate_iou: flat (these scenes do not separate them)

Temperature and candidate ratio act together: a proposal is a candidate when its cosine is
within T * ln(1 / ratio) of the best, which must fall between the spread inside a class and
the gap to other classes (0.035 here for 0.05 and 0.5). With real CLIP scores, rerun with
MATCH, OTHER and SPREAD measured on them.
"""

from dataclasses import dataclass, replace
import sys

import numpy as np

from zsris_ros.grounding.spatial.reading import Ordinal, Reading, Relation
from zsris_ros.grounding.spatial.selection import select, SpatialSettings

SHAPE = (120, 160)
MATCH, OTHER, SPREAD, SAME = 0.28, 0.21, 0.012, 0.003
SWEEPS = {
    'target_temperature': [0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1],
    'anchor_temperature': [0.005, 0.01, 0.02, 0.05, 0.1],
    'relation_weight': [0.25, 0.5, 1.0, 2.0, 4.0],
    'position_weight': [0.25, 0.5, 1.0, 2.0, 4.0],
    'softness': [0.1, 0.25, 0.5, 1.0],
    'candidate_ratio': [0.1, 0.3, 0.4, 0.5, 0.6, 0.7],
    'ambiguity_ratio': [0.5, 0.65, 0.8, 0.9, 0.95],
    'min_support': [0.05, 0.1, 0.3, 0.5, 0.7],
    'duplicate_iou': [0.5, 0.65, 0.8, 0.9],
}


@dataclass
class Case:
    reading: Reading
    masks: np.ndarray
    scores: dict[str, np.ndarray]
    depth: np.ndarray | None
    answer: int | str


@dataclass
class Thing:
    name: str
    box: tuple[int, int, int, int]
    depth: float
    look: float | None = None  # how far CLIP rates it off its class mean; None: random


def _mask(box: tuple[int, int, int, int]) -> np.ndarray:
    mask = np.zeros(SHAPE, bool)
    x0, y0, x1, y1 = box
    mask[max(y0, 0):y1, max(x0, 0):x1] = True
    return mask


def _render(rng: np.random.Generator, things: list[Thing], phrases: list[str],
            with_depth: bool) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None]:
    """Masks (each thing, some duplicates, some parts, some clutter) and their cosines."""
    masks, owners, kinds = [], [], []
    for k, thing in enumerate(things):
        masks.append(_mask(thing.box))
        owners.append(k)
        kinds.append('whole')
        x0, y0, x1, y1 = thing.box
        if rng.random() < 0.5:
            masks.append(_mask((x0 - 1, y0 - 1, x1 + 1, y1 + 1)))
            owners.append(k)
            kinds.append('copy')
        if rng.random() < 0.3:
            masks.append(_mask((x0, y0, (x0 + x1) // 2, (y0 + y1) // 2)))
            owners.append(k)
            kinds.append('part')
    for _ in range(rng.integers(2, 6)):
        x, y = rng.integers(0, SHAPE[1] - 20), rng.integers(0, SHAPE[0] - 20)
        masks.append(_mask((x, y, x + rng.integers(5, 20), y + rng.integers(5, 20))))
        owners.append(-1)
        kinds.append('clutter')
    scores = {}
    for phrase in phrases:
        base = {k: (MATCH if t.name == phrase else OTHER) + rng.normal(0, SAME)
                + (rng.normal(0, SPREAD) if t.look is None else t.look)
                for k, t in enumerate(things)}
        offset = {'whole': 0.0, 'copy': -0.005, 'part': -0.03, 'clutter': 0.0}
        scores[phrase] = np.array([
            (base[o] if o >= 0 else OTHER + rng.normal(0, SPREAD)) + offset[kind]
            for o, kind in zip(owners, kinds)])
    depth = None
    if with_depth:
        depth = np.full(SHAPE, 3.0)
        for thing in sorted(things, key=lambda t: -t.depth):
            x0, y0, x1, y1 = thing.box
            depth[max(y0, 0):y1, max(x0, 0):x1] = thing.depth
    return np.stack(masks), scores, depth


def _index_of(masks: np.ndarray, things: list[Thing], k: int) -> int:
    return int(np.flatnonzero((masks == _mask(things[k].box)).all(axis=(1, 2)))[0])


def _cups(rng: np.random.Generator, count: int, y: int = 60) -> list[Thing]:
    """Cups spread over the canvas in random order, clearly apart, different sizes/depths."""
    slots, depths = rng.permutation(count), rng.permutation(count)
    return [Thing('cup', (10 + 36 * s, y - 8 + int(rng.integers(-6, 7)),
                          10 + 36 * s + int(rng.integers(12, 20)), y + 12 + int(s % 2) * 4),
                  1.0 + 0.2 * float(d)) for s, d in zip(slots, depths)]


def position_case(rng: np.random.Generator) -> Case:
    things = _cups(rng, int(rng.integers(2, 5)))
    things.append(Thing('plate', (5, 90, 60, 115), 1.2))
    pos = str(rng.choice(['left', 'right', 'nearest', 'farthest', 'biggest', 'smallest']))
    key = {'left': lambda t: t.box[0] + t.box[2], 'right': lambda t: -(t.box[0] + t.box[2]),
           'nearest': lambda t: t.depth, 'farthest': lambda t: -t.depth,
           'biggest': lambda t: -_area(t), 'smallest': lambda t: _area(t)}[pos]
    cups = [k for k, t in enumerate(things) if t.name == 'cup']
    values = sorted(key(things[k]) for k in cups)
    if pos in ('biggest', 'smallest') and values[1] - values[0] < 0.3 * abs(values[0]):
        return position_case(rng)
    best = min(cups, key=lambda k: key(things[k]))
    masks, scores, depth = _render(rng, things, ['cup'], pos in ('nearest', 'farthest'))
    reading = Reading(f'the {pos} cup', 'cup', positions=[pos])
    return Case(reading, masks, scores, depth, _index_of(masks, things, best))


def _area(thing: Thing) -> int:
    x0, y0, x1, y1 = thing.box
    return (x1 - x0) * (y1 - y0)


def ordinal_case(rng: np.random.Generator) -> Case:
    things = _cups(rng, int(rng.integers(3, 5)))
    axis = str(rng.choice(['left', 'right']))
    order = sorted(range(len(things)), key=lambda k: things[k].box[0])
    if axis == 'right':
        order.reverse()
    masks, scores, _ = _render(rng, things, ['cup'], False)
    reading = Reading('the second cup', 'cup', ordinal=Ordinal(2, axis))
    return Case(reading, masks, scores, None, _index_of(masks, things, order[1]))


def relation_case(rng: np.random.Generator) -> Case:
    """One plate; one cup left of / right of / next to / on it, the others far on the far side."""
    kind = str(rng.choice(['left_of', 'right_of', 'next_to', 'on']))
    plate = Thing('plate', (60, 50, 100, 80), 1.0)
    near = {'left_of': (30, 55, 45, 75), 'right_of': (115, 55, 130, 75),
            'next_to': (102, 55, 116, 75), 'on': (72, 52, 86, 70)}[kind]
    things = [plate, Thing('cup', near, 1.0)]
    side = 135 if kind != 'right_of' else 2
    for k in range(int(rng.integers(1, 3))):
        y = 10 + 50 * k
        things.append(Thing('cup', (side, y, side + 15, y + 20), 1.0))
    solvable = rng.random() < 0.8
    if not solvable:
        things.pop(1)
    masks, scores, _ = _render(rng, things, ['cup', 'plate'], False)
    reading = Reading(f'the cup {kind} the plate', 'cup',
                      relations=[Relation(kind, [Reading('the plate', 'plate')])])
    answer = _index_of(masks, things, 1) if solvable else 'no_match'
    if not solvable and kind in ('next_to',):
        answer = 'skip'
    return Case(reading, masks, scores, None, answer)


def ambiguous_case(rng: np.random.Generator) -> Case:
    """Two alike cups and a bare 'the cup' (or 'the left cup' over a vertical pair)."""
    vertical = rng.random() < 0.5
    if vertical:
        things = [Thing('cup', (70, 10, 90, 40), 1.0, 0.0),
                  Thing('cup', (70, 70, 90, 100), 1.0, 0.0)]
    else:
        things = [Thing('cup', (30, 50, 50, 80), 1.0, 0.0),
                  Thing('cup', (100, 50, 120, 80), 1.0, 0.0)]
    things.append(Thing('plate', (5, 100, 40, 118), 1.0))
    masks, scores, _ = _render(rng, things, ['cup'], False)
    positions = ['left'] if vertical else []
    return Case(Reading('the cup', 'cup', positions=positions), masks, scores, None, 'ambiguous')


MAKERS = (position_case, ordinal_case, relation_case, ambiguous_case)


def cases(count: int, seed: int = 0) -> list[Case]:
    rng = np.random.default_rng(seed)
    made = [MAKERS[k % len(MAKERS)](rng) for k in range(count)]
    return [c for c in made if c.answer != 'skip']


def accuracy(settings: SpatialSettings, suite: list[Case]) -> float:
    """Fraction of cases answered exactly: right index with 'ok', or the right status."""
    right = 0
    for case in suite:
        chosen = select(case.reading, case.masks, case.scores, case.depth, settings)
        got = chosen.status if chosen.status != 'ok' else chosen.index
        right += got == case.answer
    return right / len(suite)


def sweep(suite: list[Case]) -> dict[str, list[tuple[float, float]]]:
    base = SpatialSettings()
    return {name: [(value, accuracy(replace(base, **{name: value}), suite))
                   for value in values] for name, values in SWEEPS.items()}


def joint(suite: list[Case]) -> dict[tuple[float, float], float]:
    """Temperature and candidate ratio together: only their product with ln decides a rank."""
    base = SpatialSettings()
    return {(t, r): accuracy(replace(base, target_temperature=t, candidate_ratio=r), suite)
            for t in SWEEPS['target_temperature'] for r in SWEEPS['candidate_ratio']}


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    suite = cases(count)
    print(f'{len(suite)} cases; defaults: {accuracy(SpatialSettings(), suite):.3f}')
    for (t, r), result in joint(suite).items():
        print(f'target_temperature {t:g} candidate_ratio {r:g}: {result:.3f}')
    for name, results in sweep(suite).items():
        print(f'{name:22s}' + '  '.join(f'{v:g}:{a:.3f}' for v, a in results))


if __name__ == '__main__':
    main()

"""Ordinal, size, depth, between and ambiguous expressions: their rules and their scenes."""

import cv2
import numpy as np
import pytest

from zsris_ros.grounding.geometry import mask_bbox
from zsris_ros.toy.scenes import (candidates, Description, fits_two, generate_scene, HEIGHT,
                                  identifies, Scene, ToyObject, WIDTH)

SEEDS = range(40)
ORDER_KEYS = {
    'left': lambda obj: obj.centre[0], 'right': lambda obj: -obj.centre[0],
    'nearest': lambda obj: obj.depth, 'farthest': lambda obj: -obj.depth,
    'biggest': lambda obj: -obj.area, 'smallest': lambda obj: obj.area,
    'bigger': lambda obj: -obj.area, 'smaller': lambda obj: obj.area,
}


@pytest.fixture(scope='module')
def scenes() -> list[Scene]:
    return [generate_scene(seed) for seed in SEEDS]


def disc(x: float, y: float, radius: int, shape: str, colour: str, size: str,
         depth: float = 1.0) -> ToyObject:
    """Place an object by hand: a filled disc at (x, y) at the given depth."""
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.circle(mask, (int(x), int(y)), radius, 1, -1)
    mask = mask.astype(bool)
    return ToyObject(shape, colour, size, mask, mask_bbox(mask), depth)


def on_table(x: float, y: float, radius: int, shape: str, colour: str,
             size: str = 'large') -> ToyObject:
    """Place a disc whose depth follows its row, as on the tilted table: lower is nearer."""
    return disc(x, y, radius, shape, colour, size, depth=2.0 - y / 200)


@pytest.fixture
def row() -> list[ToyObject]:
    """Four circles left to right (the third red and nearest), and a blue square at the back."""
    return [on_table(40, 100, 10, 'circle', 'red'), on_table(100, 120, 10, 'circle', 'blue'),
            on_table(160, 200, 10, 'circle', 'red'), on_table(220, 140, 10, 'circle', 'green'),
            on_table(280, 30, 10, 'square', 'blue')]


def test_ordinals_count_from_either_end(row):
    circle = Description('circle')
    assert identifies(Description('circle', where='left', ordinal=2), row, 1)
    assert identifies(Description('circle', where='right', ordinal=2), row, 2)
    assert identifies(Description('circle', where='left', ordinal=-1), row, 3)
    assert identifies(Description('circle', 'red', where='left', ordinal=2), row, 2)
    assert identifies(Description(None, where='right', ordinal=3), row, 2)
    assert identifies(Description('circle', where='nearest', ordinal=2), row, 3)
    assert not candidates(Description('circle', where='left', ordinal=5), row)[0]
    assert candidates(circle, row)[0] == [0, 1, 2, 3]


def test_an_ordinal_needs_clear_gaps_on_both_sides(row):
    crowded = [*row, on_table(108, 160, 10, 'circle', 'yellow')]
    assert not identifies(Description('circle', where='left', ordinal=2), crowded, 1)
    assert identifies(Description('circle', where='left', ordinal=4), crowded, 2)


def test_size_needs_a_clear_ratio():
    objects = [disc(50, 100, 20, 'circle', 'red', 'large'),
               disc(150, 100, 10, 'circle', 'red', 'small'),
               disc(250, 100, 12, 'circle', 'blue', 'small')]
    assert identifies(Description('circle', where='biggest'), objects, 0)
    assert not identifies(Description('circle', where='smallest'), objects, 1)
    assert identifies(Description('circle', 'red', where='smaller'), objects, 1)
    assert not identifies(Description('circle', where='bigger'), objects, 0), 'three circles'


def test_depth_needs_a_margin_and_agreeing_rows():
    objects = [on_table(50, 200, 10, 'star', 'red'), on_table(150, 120, 10, 'star', 'red'),
               on_table(250, 60, 10, 'cross', 'blue')]
    assert identifies(Description('star', where='nearest'), objects, 0)
    assert identifies(Description('star', where='farthest'), objects, 1)
    cross = Description('cross')
    assert candidates(Description('star', relation='in front of', anchor=cross), objects) == (
        [0, 1], [])
    assert identifies(Description('star', relation='behind',
                                  anchor=Description('star', where='nearest')), objects, 1)
    raised = [objects[0], disc(150, 120, 10, 'star', 'red', 'large', depth=0.9)]
    nearest = Description('star', where='nearest')
    assert candidates(nearest, raised) == ([1], [0]), 'nearer by depth, but higher in the image'
    close = [objects[0], disc(150, 190, 10, 'star', 'red', 'large', depth=1.03)]
    assert not identifies(Description('star', where='nearest'), close, 0), 'within the margin'


def test_between_needs_the_middle_of_two_unique_anchors():
    objects = [disc(40, 100, 10, 'square', 'red', 'large'),
               disc(240, 100, 10, 'star', 'blue', 'large'),
               disc(140, 110, 10, 'circle', 'green', 'large'),
               disc(140, 230, 10, 'circle', 'green', 'large')]
    between = Description('circle', relation='between', anchor=Description('square'),
                          second_anchor=Description('star'))
    assert identifies(between, objects, 2)
    doubtful = [*objects[:3], disc(200, 150, 10, 'circle', 'green', 'large')]
    assert not identifies(between, doubtful, 2)
    beside = [*objects, disc(40, 130, 10, 'square', 'red', 'large')]
    assert not identifies(between, beside, 2), 'two squares: no unique anchor'


def test_ambiguous_needs_two_look_alikes():
    pair = [disc(50, 100, 20, 'circle', 'red', 'large'),
            disc(150, 100, 21, 'circle', 'red', 'large'),
            disc(250, 100, 10, 'circle', 'red', 'small')]
    assert fits_two(Description('circle', 'red', 'large'), pair, (0, 1))
    assert not fits_two(Description('circle', 'red'), pair, (0, 1)), 'three fit'
    uneven = [pair[0], disc(150, 100, 12, 'circle', 'red', 'large')]
    assert not fits_two(Description('circle'), uneven, (0, 1)), 'one is clearly bigger'


def test_located_expressions_name_the_object_their_words_pick(scenes):
    """The target is the extreme or k-th of its matches, by the quantity the words name."""
    checked = 0
    for scene in scenes:
        for expression in scene.expressions:
            desc = expression.description
            if expression.type not in ('ordinal', 'size', 'depth') or desc.where is None:
                continue
            base = Description(desc.shape, desc.colour, desc.size)
            matches = [scene.objects[i] for i in candidates(base, scene.objects)[0]]
            ranked = sorted(matches, key=ORDER_KEYS[desc.where])
            position = (desc.ordinal or 1) - 1 if desc.ordinal != -1 else -1
            assert ranked[position] is scene.objects[expression.target], expression
            checked += 1
    assert checked > 100


def test_between_targets_lie_between_their_anchors(scenes):
    for scene in scenes:
        for expression in scene.expressions:
            if expression.type != 'between':
                continue
            desc = expression.description
            ends = [np.array(scene.objects[candidates(a, scene.objects)[0][0]].centre)
                    for a in (desc.anchor, desc.second_anchor)]
            centre = np.array(scene.objects[expression.target].centre)
            assert np.linalg.norm(centre - ends[0]) < np.linalg.norm(ends[1] - ends[0])
            assert np.linalg.norm(centre - ends[1]) < np.linalg.norm(ends[1] - ends[0])


def test_ambiguous_expressions_fit_exactly_two_objects(scenes):
    found = 0
    for scene in scenes:
        for expression in scene.expressions:
            if expression.type != 'ambiguous':
                continue
            found += 1
            assert expression.target is None and expression.expected_status == 'ambiguous'
            assert fits_two(expression.description, scene.objects, expression.targets)
            first, second = (scene.objects[i] for i in expression.targets)
            assert (first.size, first.shape in expression.text) == (
                second.size, second.shape in expression.text)
    assert found > 10


def test_new_expression_texts_vary():
    texts = [e.text for seed in range(50) for e in generate_scene(seed).expressions]
    for words in ('second', 'from the right', 'last', 'nearest', 'closest to the camera',
                  'in front', 'farthest', 'behind', 'biggest', 'smaller', 'between', 'object'):
        assert any(words in text for text in texts), words

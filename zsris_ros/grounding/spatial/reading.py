"""How a referring expression was read for the spatial stage: plain data, no logic."""

from dataclasses import dataclass, field
from typing import Literal

#: Position and superlative words, normalised ("leftmost", "on the left side" -> left; "closest"
#: -> nearest; "largest" -> biggest). Left and right are the image's (the camera's).
Position = Literal['left', 'right', 'top', 'bottom', 'middle', 'nearest', 'farthest',
                   'biggest', 'smallest']
#: The words of each position.
SIDES: dict[str, Position] = {
    'left': 'left', 'leftmost': 'left', 'lefthand': 'left',
    'right': 'right', 'rightmost': 'right', 'righthand': 'right',
    'top': 'top', 'topmost': 'top', 'upper': 'top', 'uppermost': 'top', 'highest': 'top',
    'bottom': 'bottom', 'bottommost': 'bottom', 'lower': 'bottom', 'lowest': 'bottom',
    'lowermost': 'bottom',
    'middle': 'middle', 'center': 'middle', 'centre': 'middle', 'central': 'middle',
    'centermost': 'middle', 'middlemost': 'middle',
    'nearest': 'nearest', 'closest': 'nearest', 'nearer': 'nearest', 'closer': 'nearest',
    'near': 'nearest', 'front': 'nearest', 'frontmost': 'nearest', 'foreground': 'nearest',
    'farthest': 'farthest', 'furthest': 'farthest', 'farther': 'farthest',
    'further': 'farthest', 'far': 'farthest', 'back': 'farthest', 'rear': 'farthest',
    'backmost': 'farthest', 'rearmost': 'farthest', 'background': 'farthest',
    'distant': 'farthest',
    'biggest': 'biggest', 'largest': 'biggest', 'bigger': 'biggest', 'larger': 'biggest',
    'smallest': 'smallest', 'tiniest': 'smallest', 'smaller': 'smallest',
    'littlest': 'smallest', 'tinier': 'smallest',
    # Height has no axis of its own: the tallest object is, near enough, the biggest one.
    'tallest': 'biggest', 'taller': 'biggest', 'longest': 'biggest', 'shortest': 'smallest',
    'shorter': 'smallest',
}
#: Ordinal words and the rank each counts to; negative ranks count back from the last.
ORDINALS = {
    'first': 1, 'second': 2, 'third': 3, 'fourth': 4, 'fifth': 5, 'sixth': 6, 'seventh': 7,
    'eighth': 8, 'ninth': 9, 'tenth': 10, 'last': -1, 'final': -1, 'penultimate': -2,
}

#: After "in", these describe the target ("guy in white shirt", "woman in red") instead of
#: naming an anchor.
COLOURS = frozenset({
    'red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'brown', 'black', 'white',
    'gray', 'grey', 'silver', 'gold', 'dark', 'light', 'beige', 'tan', 'navy', 'maroon',
    'striped', 'plaid',
})
#: A size adjective of the target ("the big cup"): among things that fit, one no other is
#: clearly bigger (smaller) than. Unlike "biggest" it lets objects of one size stay alike.
Size = Literal['big', 'small']
SIZE_ADJECTIVES: dict[str, Size] = {
    'big': 'big', 'large': 'big', 'huge': 'big', 'giant': 'big', 'tall': 'big',
    'small': 'small', 'little': 'small', 'tiny': 'small', 'short': 'small',
}
#: Relations to anchor objects; `between` takes two anchors, every other kind one.
RelationKind = Literal['left_of', 'right_of', 'above', 'below', 'on', 'in', 'in_front_of',
                       'behind', 'next_to', 'closest_to', 'farthest_from', 'between',
                       'bigger_than', 'smaller_than']
#: The target of an expression that names no kind of object ("second from left").
GENERIC_TARGET = 'the one'
#: Head nouns that name no kind of object: "the red thing" is any red object.
GENERIC_NOUNS = frozenset({'thing', 'things', 'object', 'objects', 'item', 'items', 'one',
                           'ones', 'stuff', 'something'})
#: The direction an ordinal counts from ("second from the right" -> right; plain "second" ->
#: left, as people read a row; "second largest" -> biggest).
OrdinalAxis = Literal['left', 'right', 'top', 'bottom', 'nearest', 'farthest', 'biggest',
                      'smallest']


@dataclass
class Ordinal:
    """'the second cup from the right': rank 2 counted from the right; rank -1 is 'last'."""

    rank: int
    axis: OrdinalAxis = 'left'


@dataclass
class Relation:
    """A relation of the target (or of an anchor) to one or two anchor objects."""

    kind: RelationKind
    anchors: list['Reading']


@dataclass
class Reading:
    """
    An expression split into what the object looks like and where it is.

    `target` is the description CLIP scores (location words removed: "the red mug" of "the
    red mug on the left"); an anchor is a Reading of its own, so chains nest.
    """

    text: str
    target: str
    positions: list[Position] = field(default_factory=list)
    ordinal: Ordinal | None = None
    relations: list[Relation] = field(default_factory=list)
    size: Size | None = None
    #: What the object is said not to be ("the cup that is not red" -> "red cup"): CLIP reads
    #: "not" poorly, so each such phrase is scored on its own and counts against.
    negations: list[str] = field(default_factory=list)

    @property
    def is_spatial(self) -> bool:
        """Whether any location, size or negated word was read; if not, the paper's method runs."""
        return bool(self.positions or self.ordinal or self.relations or self.size
                    or self.negations)

    @property
    def names_no_kind(self) -> bool:
        """Whether the target's head noun is generic ('the thing'), so any object may fit."""
        words = self.target.lower().split()
        return not words or words[-1] in GENERIC_NOUNS

    def anchor_phrases(self) -> list[str]:
        """Every anchor's target description and negated phrase, depth first, no repeats."""
        phrases: list[str] = list(dict.fromkeys(self.negations))
        for relation in self.relations:
            for anchor in relation.anchors:
                for phrase in [anchor.target, *anchor.anchor_phrases()]:
                    if phrase not in phrases:
                        phrases.append(phrase)
        return phrases

"""
Read where a referring expression puts its object: positions, an ordinal, relations to anchors.

CLIP scores what an object looks like, not where it is, so "the red mug on the left" is split
into a target ("the red mug") for CLIP and location cues for the selection stage. The text is
tokenised and parsed by spaCy; word lists say which token sequences are cues, and the parse
settles the readings word lists cannot ("the near cup" against "near the cup", "in the top
drawer" against "in the top", "the cup I left here").

Reading rules, chosen once and applied everywhere:

- Scanning left to right, the first relation ends the target's own words: the rest of the
  expression is the anchor, read the same way. Later cues therefore describe the nearest
  anchor ("the cup left of the bowl next to the plate": the bowl is next to the plate; "the
  cup next to the bowl on the left": the bowl is on the left). Anchors nest at most
  MAX_DEPTH deep; the deepest keeps the rest of the text, unread.
- "on the left" is a position and "on the table" an `on` relation. A position word followed
  by "of" names a region of an anchor: "on the left side of the table", "in the middle of
  the table" and "at the back of the shelf" give the position plus `on` the anchor, while a
  lone left/right ("to the left of the bowl") gives left_of / right_of.
- "closest to", "next to" and "in front of" the camera, the robot, me or you give the
  position nearest; "farthest from" them gives farthest.
- An ordinal counts from the side "from ..." names, else from the first side word of its
  phrase, which it then takes over ("the second cup on the left": 2 from the left, no
  position). "last" counts from the side opposite its side word, so "the last cup on the
  right" is rank -1 from the left: the rightmost. A size superlative takes the rank before
  a side does ("the second largest cup on the left": second by size among those on the
  left). Without a side or a size an ordinal counts from the left, or from the top for
  shelves and drawers ("the second shelf", "the last drawer").
- "between A and B" splits its anchor at the first "and"; "between the plates" names both
  anchors with the same phrase: two objects that fit it.
- "in" before clothing or a bare colour ("guy in white shirt", "woman in red") describes the
  target and is kept in it.
- The target is the expression without its cues, wh-words and copulas ("which cup is" ->
  "cup"). If nothing that names an object is left ("second from left", "top left corner"),
  the target is the expression itself, as the paper would score it. Without any cue the
  reading is not spatial and the target is the text, unchanged.
"""

from dataclasses import dataclass, replace
import re
from typing import Iterable, Optional

from spacy.language import Language
from spacy.tokens import Doc, Token

from .reading import (COLOURS, GENERIC_NOUNS, GENERIC_TARGET, Ordinal, OrdinalAxis, ORDINALS,
                      Position, Reading, Relation, RelationKind, SIDES, Size, SIZE_ADJECTIVES)
from ..commands import BACK_REFERENCES, NAMING_POS, noun_reading, PLURAL_TAGS
from ..phrase import DEFAULT_MODEL, load_pipeline
from ..tidy import clean_for_parser, parse_text

#: How deep anchors nest; the deepest is left unread, which bounds work on chained input.
MAX_DEPTH = 8
#: Describing words tried one by one when two candidates fit alike (one text encoding each).
MAX_VARIANTS = 4

AXES: dict[str, OrdinalAxis] = {
    'left': 'left', 'right': 'right', 'top': 'top', 'bottom': 'bottom', 'front': 'nearest',
    'back': 'farthest', 'rear': 'farthest', 'camera': 'nearest',
}
OPPOSITE: dict[str, OrdinalAxis] = {
    'left': 'right', 'right': 'left', 'top': 'bottom', 'bottom': 'top', 'nearest': 'farthest',
    'farthest': 'nearest', 'biggest': 'smallest', 'smallest': 'biggest',
}
SIZES = ('biggest', 'smallest')
#: Shelves and drawers are counted from the top by an ordinal that names no side ("the
#: second shelf", "the last drawer"); floors, steps and rungs are not (from the bottom).
STACKED_NOUNS = frozenset({'shelf', 'shelves', 'drawer', 'drawers'})
#: Verbs after which a side word is a direction the object faces, not its place.
ORIENTING_VERBS = frozenset({'facing', 'faces', 'face', 'faced', 'looking', 'looks', 'pointing',
                             'points', 'pointed', 'turned', 'turning', 'heading', 'headed',
                             'leaning', 'leans', 'tilted', 'tilting', 'gazing', 'staring'})
#: Words that say what the object is not ("the cup that is not red", "the mug without a lid").
NEGATIONS = frozenset({'not', "n't", 'without', 'never'})
#: After "not", these hedge a degree ("not so big", "not very red") rather than negate.
DEGREE_WORDS = frozenset({'so', 'very', 'too', 'quite', 'really', 'that', 'particularly',
                          'overly', 'all', 'as'})
#: Tags of a size adjective that is neither comparative nor superlative.
PLAIN_TAGS = frozenset({'JJ', 'NN', 'NNP'})
# Words that name a region rather than an object ("the left side", "the top left corner").
REGIONS = frozenset({'side', 'part', 'half', 'corner', 'end', 'edge', 'area', 'portion'})
# Words that push a side to its extreme ("far left", "most to the left", "left-most").
EXTREMES = frozenset({'far', 'farthest', 'furthest', 'most', 'very', 'extreme', 'extremely'})
# Degree words before a cue that describe nothing ("right next to", "directly above").
INTENSIFIERS = frozenset({'right', 'just', 'directly', 'immediately', 'slightly', 'exactly'})
# Words that may open a position phrase before its preposition ("most to the left").
LEADS = (INTENSIFIERS - {'right'}) | EXTREMES
POSITION_PREPOSITIONS = frozenset({'on', 'to', 'at', 'in', 'toward', 'towards', 'along'})
ARTICLES = frozenset({'the', 'a', 'an'})
#: Where a thing "left" (behind) is: "the mug left on the table" is no side ("left of" is).
LEFT_BEHIND_PLACES = frozenset({'in', 'on', 'at', 'inside', 'behind', 'under', 'by', 'near',
                                'outside', 'there', 'here', 'over'})
#: Pointing words, and what may lead them ("over there", "right here").
POINTING_WORDS = frozenset({'there', 'here'})
POINTING_LEADS = frozenset({'over', 'right', 'up', 'down', 'back', 'out', 'in'})
#: Side words that are also prepositions ("the near cup", "the cup near the corner").
NEAR_WORDS = frozenset({'near', 'nearer', 'nearest'})
HYPHENS = frozenset({'-', '\u2010', '\u2013'})
# What a hyphen may join a side word to ("top-left", "left-most", "left-hand").
SIDE_JOINERS = frozenset(SIDES) | {'most', 'hand'}

NUMERIC_ORDINAL = re.compile(r'([1-9][0-9]?)(st|nd|rd|th)')

# Comparatives that relate the target to an anchor named after "than" ("closer than the cup").
COMPARATIVES: dict[str, RelationKind] = {
    'closer': 'in_front_of', 'nearer': 'in_front_of', 'farther': 'behind', 'further': 'behind',
    'bigger': 'bigger_than', 'larger': 'bigger_than', 'smaller': 'smaller_than',
    'tinier': 'smaller_than', 'higher': 'above', 'lower': 'below',
}
# Words between a comparative and "than" that add nothing ("further back than", "farther away").
COMPARATIVE_FILLERS = frozenset({'away', 'back', 'off', 'up', 'down', 'out'})
# Words an ordinal may lead with ("the very last").
ORDINAL_LEADS = frozenset({'very'})

# Relation markers, longest first where one is a prefix of another.
RELATIONS: list[tuple[tuple[str, ...], RelationKind]] = [
    (('in', 'between'), 'between'), (('between',), 'between'),
    (('on', 'top', 'of'), 'on'), (('on',), 'on'), (('onto',), 'on'), (('atop',), 'on'),
    (('upon',), 'on'),
    (('in', 'front', 'of'), 'in_front_of'), (('infront', 'of'), 'in_front_of'),
    (('in', 'back', 'of'), 'behind'), (('behind',), 'behind'),
    (('inside', 'of'), 'in'), (('inside',), 'in'), (('in',), 'in'), (('within',), 'in'),
    (('into',), 'in'),
    (('above',), 'above'), (('over',), 'above'),
    (('below',), 'below'), (('under',), 'below'), (('underneath',), 'below'),
    (('beneath',), 'below'),
    (('next', 'to'), 'next_to'), (('beside',), 'next_to'), (('by',), 'next_to'),
    (('near', 'to'), 'next_to'), (('near',), 'next_to'), (('close', 'to'), 'next_to'),
    (('adjacent', 'to'), 'next_to'), (('alongside',), 'next_to'), (('against',), 'next_to'),
    (('closest', 'to'), 'closest_to'), (('nearest', 'to'), 'closest_to'),
    (('closer', 'to'), 'closest_to'), (('nearer', 'to'), 'closest_to'),
    (('closest',), 'closest_to'), (('nearest',), 'closest_to'),
    (('farthest', 'away', 'from'), 'farthest_from'),
    (('furthest', 'away', 'from'), 'farthest_from'), (('far', 'away', 'from'), 'farthest_from'),
    (('farthest', 'from'), 'farthest_from'), (('furthest', 'from'), 'farthest_from'),
    (('farther', 'from'), 'farthest_from'), (('further', 'from'), 'farthest_from'),
    (('far', 'from'), 'farthest_from'), (('away', 'from'), 'farthest_from'),
    # Where an object is taken from is where it is ("the cup from the left shelf").
    (('from',), 'in'), (('out', 'of'), 'in'),
]
# "the closest chair to the door": a superlative's anchor after the noun, by its preposition.
SPLIT_SUPERLATIVES: dict[str, tuple[Position, RelationKind]] = {
    'to': ('nearest', 'closest_to'), 'from': ('farthest', 'farthest_from'),
}
# The viewer: relations to it are positions ("closest to the robot" -> nearest).
VIEWERS = frozenset({'me', 'us', 'you', 'camera', 'robot', 'viewer', 'photographer', 'lens',
                     'observer'})
VIEWER_POSITIONS: dict[str, Position] = {
    'closest_to': 'nearest', 'next_to': 'nearest', 'in_front_of': 'nearest',
    'farthest_from': 'farthest',
}
WORN = frozenset({
    'shirt', 'shirts', 'tshirt', 'jacket', 'coat', 'dress', 'hat', 'cap', 'sweater', 'hoodie',
    'jersey', 'uniform', 'suit', 'pants', 'jeans', 'shorts', 'skirt', 'vest', 'scarf',
    'helmet', 'glasses', 'sunglasses', 'shoes', 'boots', 'costume', 'outfit', 'clothes',
    'clothing', 'tie', 'apron', 'stripes', 'blouse', 'sweatshirt', 'gloves', 'mask', 'robe',
    'gown',
})
# The image itself: "in the picture" and "left edge of pic" name no anchor.
PICTURES = frozenset({'picture', 'image', 'photo', 'pic', 'frame', 'photograph', 'scene',
                      'shot', 'screen', 'view'})
# What the objects form together: "in the row" names no anchor either.
ARRANGEMENTS = frozenset({'row', 'line', 'column', 'lineup', 'series', 'sequence', 'group'})
# Words of a relative clause or question left around the target ("the one that is placed",
# "which cup is").
WRAPPER_TAGS = frozenset({'WDT', 'WP', 'WP$', 'WRB'})
PLACING_WORDS = frozenset({'located', 'situated', 'positioned', 'placed', 'sitting',
                           'standing', 'lying', 'resting', 'kept', 'found', 'seen', 'hanging',
                           'leaning', 'stacked', 'stored', 'parked', 'perched', 'mounted',
                           'attached'})
# "s" is what is left of "thats" and "whats" once the parser splits them.
COPULAS = frozenset({'is', 'are', 'was', 'were', "'s", 's', "'re", 'be', 'been', 'being'})
EDGE_POS = frozenset({'DET', 'ADP', 'CCONJ', 'SCONJ', 'PUNCT', 'PART', 'SYM'})


@dataclass(frozen=True)
class Cue:
    """A run of tokens that says where, not what: the token it ends before, and what it says."""

    end: int
    positions: tuple[Position, ...] = ()
    rank: Optional[int] = None
    axis: Optional[OrdinalAxis] = None
    relation: Optional[RelationKind] = None
    # Whether the phrase names a region whose "of X" is an anchor ("the left side of").
    region: bool = False
    # Whether "of X" names the set chosen from ("the smaller of the two boxes"): X is the
    # target, not an anchor.
    partitive: bool = False


class SpatialParser:
    """Loads the spaCy pipeline once; read() is cheap and never raises for a str."""

    def __init__(self, model: str = DEFAULT_MODEL, nlp: Optional[Language] = None) -> None:
        """Take a loaded pipeline to share one with a PhraseParser, else load `model`."""
        self._nlp = nlp if nlp is not None else load_pipeline(model)

    @property
    def nlp(self) -> Language:
        """Return the spaCy pipeline, to share with another parser or to parse for read_doc."""
        return self._nlp

    def word_variants(self, phrase: str) -> list[str]:
        """
        Return the phrase without each of its describing words, the head noun made generic.

        "the big red cup" -> "the red cup", "the big cup", "the big red thing". How much each
        proposal's fit depends on a word tells whether that word separates two candidates.
        Only the words before any preposition or clause count, at most MAX_VARIANTS of them.
        """
        cleaned = clean_for_parser(' '.join(phrase.split()))
        if not cleaned:
            return []
        doc, words = parse_text(self.nlp, cleaned)
        stop = next((t.i for t in doc if t.pos_ in ('ADP', 'SCONJ', 'PRON', 'VERB', 'AUX')
                     or t.dep_ == 'relcl'), len(doc))
        content = [t.i for t in doc[:stop] if t.pos_ in NAMING_POS]
        variants = []
        for k in content[-MAX_VARIANTS:]:
            if k == content[-1]:
                if doc[k].lower_ in GENERIC_NOUNS:
                    continue
                replaced = 'things' if doc[k].tag_ in PLURAL_TAGS else 'thing'
                variants.append(' '.join([*words[:k], replaced, *words[k + 1:]]))
            else:
                variants.append(' '.join(words[:k] + words[k + 1:]))
        return variants

    def read(self, referring_expression: str) -> Reading:
        """Read a referring expression, as PhraseParser extracts it from a command."""
        expression = ' '.join(referring_expression.split())
        cleaned = clean_for_parser(expression)
        if not cleaned:
            return Reading(expression, expression)
        doc, words = parse_text(self.nlp, cleaned)
        reparsed = noun_reading(doc, self.nlp)
        if reparsed is not doc:
            doc, words = reparsed, [reparsed[0].text, *words]
        reading = read_doc(doc, words)
        if not reading.is_spatial or reading.target == reading.text:
            reading.target = expression
        reading.text = expression
        return reading


def read_doc(doc: Doc, words: Optional[list[str]] = None) -> Reading:
    """
    Read a parsed expression; `words` are its tokens as written (the doc may be lower-cased).

    For callers that parsed the text already; SpatialParser.read cleans and parses first,
    through `tidy.parse_text`, which is where "can" the noun is read as a noun.
    """
    words = words if words is not None else [t.text for t in doc]
    return Scanner(list(doc), words).read(0, len(doc), 0)


class Scanner:
    """Reads the spans of one parsed expression; anchors are read by the same scanner."""

    def __init__(self, tokens: list[Token], words: list[str]) -> None:
        """Keep the tokens and their surface words; `lower` is what the word lists match."""
        self.tokens = tokens
        self.words = words
        self.lower = [t.lower_ for t in tokens]

    def read(self, start: int, end: int, depth: int) -> Reading:
        """
        Read tokens [start, end) as a target with its cues.

        An expression with no cue keeps its text as the target; an anchor is tidied all the
        same ("the plate" of "between the plate and"), as CLIP scores it on its own.
        """
        text = ' '.join(self.words[start:end])
        if depth >= MAX_DEPTH:
            return Reading(text, text)
        kept, cues, relations, negations = [], [], [], []
        i = start
        while i < end:
            negated = self.negation(i, end, kept)
            if negated is not None:
                negations.append(negated)
                break
            kind = self.superlative_anchor(i, end, cues)
            if kind is not None:
                relations.append(Relation(kind, [self.read(i + 1, end, depth + 1)]))
                break
            cue = self.cue(i, end)
            if cue is None:
                kept.append(i)
                i += 1
                continue
            cues.append(cue)
            if cue.partitive:
                return self.chosen_from(cues, cue.end, end, depth, text)
            if cue.relation is not None:
                relations.extend(self.relate(cue, end, depth))
                break
            i = cue.end
        positions, ordinal = combine(cues, counting_start(self.lower, kept))
        reading = Reading(text, text, positions, ordinal, relations, self.size(kept),
                          negations)
        if reading.is_spatial or depth > 0:
            # "second from left" names no kind of object: any object may be the one.
            unnamed = GENERIC_TARGET if reading.is_spatial else text
            reading.target = self.target(kept, start, end) or unnamed
        return reading

    def chosen_from(self, cues: list[Cue], start: int, end: int, depth: int,
                    text: str) -> Reading:
        """Read "the smaller of [the two boxes]": the set's own reading, plus the cues before."""
        chosen = self.read(start, end, depth)
        positions, ordinal = combine([*cues, Cue(end, tuple(chosen.positions))],
                                     counting_start(self.lower, range(start, end)))
        target = chosen.target if chosen.is_spatial else ' '.join(self.words[start:end])
        return Reading(text, target, positions, ordinal or chosen.ordinal, chosen.relations,
                       chosen.size)

    def superlative_anchor(self, i: int, end: int, cues: list[Cue]) -> Optional[RelationKind]:
        """
        Read "the closest chair [to the door]": a superlative before the noun, its anchor after.

        The superlative's position word leaves its cue (in place) for the relation returned;
        "the nearest cup to me" keeps nearest, as the viewer is no anchor.
        """
        position, kind = SPLIT_SUPERLATIVES.get(self.lower[i], (None, None))
        names = self.first_name(i + 1, end)
        if (kind is None or not names or self.lower[names[-1]] in VIEWERS
                or not self.names_anchor(i + 1, end, kind)):
            return None
        for k, cue in enumerate(cues):
            if position in cue.positions:
                cues[k] = replace(cue, positions=tuple(p for p in cue.positions if p != position))
                return kind
        return None

    def relate(self, cue: Cue, end: int, depth: int) -> list[Relation]:
        """
        Read the anchor (or two, for between) that follows a relation's marker.

        "And" before another marker starts a second relation of the same object ("left of
        the bowl and next to the plate"); with nothing between them, the two share the
        anchor ("below and to the left of the star").
        """
        joint = self.joined_relation(cue.end, end)
        stop = joint[0] if joint is not None else end
        rest = self.relate(joint[1], end, depth) if joint is not None else []
        if stop > cue.end or not rest:
            anchors = self.anchors(cue, stop, depth)
        else:
            shared = rest[0].anchors
            anchors = (shared * 2)[:2] if cue.relation == 'between' else shared[:1]
        return [Relation(cue.relation, anchors), *rest]

    def joined_relation(self, start: int, end: int) -> Optional[tuple[int, Cue]]:
        """Find the "and" that starts a second relation of the object, with its marker."""
        for k in range(start, end - 1):
            if self.lower[k] == 'and':
                cue = self.cue(k + 1, end)
                if cue is not None and cue.relation is not None:
                    return k, cue
        return None

    def anchors(self, cue: Cue, end: int, depth: int) -> list[Reading]:
        """Read a relation's anchor, or the two of "between A and B" (one set: "the cups")."""
        if cue.relation != 'between':
            return [self.read(cue.end, end, depth + 1)]
        split = next((k for k in range(cue.end + 1, end) if self.lower[k] in ('and', '&')), None)
        if split is None or not self.first_name(split + 1, end):
            anchor = self.read(cue.end, end, depth + 1)
            return [anchor, anchor]
        return [self.read(cue.end, split, depth + 1), self.read(split + 1, end, depth + 1)]

    def cue(self, i: int, end: int) -> Optional[Cue]:
        """
        Return the longest cue starting at token i; ties go to ordinals, then relations.

        After a verb of facing, a side says which way the object faces ("man facing left",
        "person turned to the right"), not where it is: no cue.
        """
        if self.after_orienting_verb(i):
            return None
        found = [c for c in (self.ordinal(i, end), self.axis(i, end), self.viewer(i, end),
                             self.setting(i, end), self.relation(i, end),
                             self.comparative(i, end), self.position(i, end))
                 if c is not None]
        return max(found, key=lambda c: c.end, default=None)

    def after_orienting_verb(self, i: int) -> bool:
        """Tell whether token i follows "facing" or the like, prepositions and articles aside."""
        k = i - 1
        while k >= 0 and self.lower[k] in POSITION_PREPOSITIONS | ARTICLES | LEADS:
            k -= 1
        return k >= 0 and self.lower[k] in ORIENTING_VERBS

    def ordinal(self, i: int, end: int) -> Optional[Cue]:
        """
        Match "second", "3rd", "the very last", "second to last", "next to last".

        A side or size superlative right after the rank is its axis: "the 2nd closest cup",
        "the second largest of the boxes".
        """
        i = self.skip(i, end, ORDINAL_LEADS)
        if i >= end:
            return None
        if self.lower[i:i + 3] == ['next', 'to', 'last'] and i + 3 <= end:
            return Cue(i + 3, rank=-2)
        rank = ordinal_rank(self.lower[i])
        if rank is None:
            return None
        j = i + 1
        if rank > 0 and j < end and self.lower[j] in ('to', 'from'):
            j = self.skip(j + 1, end, ARTICLES)
        if rank > 0 and j < end and self.lower[j] == 'last':
            return Cue(j + 1, rank=-rank)
        side = SIDES.get(self.lower[i + 1]) if i + 1 < end else None
        j, axis = (i + 2, side) if side in OPPOSITE and self.is_side(i + 1) else (i + 1, None)
        if self.lower[j:j + 1] == ['of'] and self.names_anchor(j + 1, end, 'on'):
            return Cue(j + 1, rank=rank, axis=axis, partitive=True)
        return Cue(j, rank=rank, axis=axis)

    def axis(self, i: int, end: int) -> Optional[Cue]:
        """Match "from the right", "counting from the top": where an ordinal counts from."""
        j = self.skip(i, end, frozenset({'counting', 'starting'}))
        if j >= end or self.lower[j] != 'from':
            return None
        j = self.skip(j + 1, end, ARTICLES)
        if j >= end or self.lower[j] not in AXES or not self.is_side(j):
            return None
        stop = self.skip_region(j + 1, end)
        # "from the left shelf" says where the object is taken from (see RELATIONS).
        return None if self.attributive(j, stop) else Cue(stop, axis=AXES[self.lower[j]])

    def skip_region(self, j: int, end: int) -> int:
        """Skip "-hand side", "hand side", "side" after a side word: they name no object."""
        if j + 1 < end and self.lower[j] in HYPHENS and self.lower[j + 1] == 'hand':
            j += 1
        if j < end and self.lower[j] in ('hand', 'handed'):
            j += 1
        return j + 1 if j < end and self.lower[j] in REGIONS else j

    def setting(self, i: int, end: int) -> Optional[Cue]:
        """
        Match "in the picture", "in the row", "over there": where everything is, no cue.

        A pointing word says nothing the camera can use ("the one over there on the shelf"
        is the one on the shelf).
        """
        j = self.skip(i, end, POINTING_LEADS)
        if j < end and self.lower[j] in POINTING_WORDS and (j > i or self.lower[i] == 'there'):
            return Cue(j + 1)
        if self.lower[i] not in POSITION_PREPOSITIONS:
            return None
        j = self.skip(i + 1, end, ARTICLES)
        if j < end and self.lower[j] in PICTURES | ARRANGEMENTS:
            return Cue(j + 1)
        return None

    def comparative(self, i: int, end: int) -> Optional[Cue]:
        """
        Match "closer than X", "further back than X", "nearer to me than X": a relation to X.

        The viewer phrase of "nearer to me" says what the comparison is about and is skipped.
        """
        kind = COMPARATIVES.get(self.lower[i])
        if kind is None:
            return None
        j = self.skip(i + 1, end, COMPARATIVE_FILLERS)
        viewer = self.viewer(j, end) if j < end else None
        j = viewer.end if viewer is not None else j
        if j >= end or self.lower[j] != 'than' or not self.names_anchor(j + 1, end, kind):
            return None
        return Cue(j + 1, relation=kind)

    def viewer(self, i: int, end: int) -> Optional[Cue]:
        """
        Match "to the robot" and "from the camera" left by a superlative: nothing to add.

        "Closest to the edge" means the same: the edge meant is the one on the robot's side.
        """
        if self.lower[i] not in ('to', 'from'):
            return None
        j = self.skip_determiners(i + 1, end)
        after_distance = i > 0 and SIDES.get(self.lower[i - 1]) in ('nearest', 'farthest')
        return Cue(j + 1) if j < end and (self.lower[j] in VIEWERS or (
            after_distance and self.lower[j] == 'edge')) else None

    def relation(self, i: int, end: int) -> Optional[Cue]:
        """Match a relation marker followed by an anchor that names an object."""
        j = self.skip(i, end, INTENSIFIERS)
        for marker, kind in RELATIONS:
            stop = j + len(marker)
            if stop <= end and tuple(self.lower[j:stop]) == marker:
                return self.anchored(j, stop, end, kind)
        return None

    def anchored(self, j: int, stop: int, end: int, kind: RelationKind) -> Optional[Cue]:
        """Turn a marker into a relation cue, a viewer position, or nothing."""
        first = self.tokens[j]
        if first.dep_ == 'amod' and first.head.i >= stop:
            return None
        if stop - j == 1 and kind == 'closest_to' and not (j > 0 and self.is_naming(j - 1)):
            return None
        head = self.skip_determiners(stop, end)
        if head < end and self.lower[head] in VIEWERS and kind in VIEWER_POSITIONS:
            return Cue(head + 1, positions=(VIEWER_POSITIONS[kind],))
        sides, after = self.sides(head, end)
        if sides and kind in ('closest_to', 'next_to') and not (
                after < end and self.is_naming(after) and self.lower[after] not in REGIONS):
            # "nearest the bottom", "closest to the left side": the side is the place.
            return Cue(self.skip_region(after, end), positions=tuple(sides))
        if not self.names_anchor(stop, end, kind):
            # A region with a side is a position of its own ("on the left side of the table").
            return None if sides else self.region_owner(stop, end, kind)
        return Cue(stop, relation=kind)

    def region_owner(self, start: int, end: int, kind: RelationKind) -> Optional[Cue]:
        """Relate to the object a region belongs to ("near the edge of the desk": the desk)."""
        name = self.first_name(start, end)
        of = name[-1] + 1 if name else end
        if (name and self.lower[name[-1]] in REGIONS and of < end and self.lower[of] == 'of'
                and self.names_anchor(of + 1, end, kind)):
            return Cue(of + 1, relation=kind)
        return None

    def names_anchor(self, start: int, end: int, kind: RelationKind) -> bool:
        """
        Tell whether the anchor names an object, not a region, the picture or clothing.

        The last naming word decides: "the left hand side" is a region, "the side table" not.
        """
        names = [self.lower[k] for k in self.first_name(start, end)]
        if not names or names[-1] in REGIONS | PICTURES | ARRANGEMENTS:
            return False
        if start < end and self.lower[start] in BACK_REFERENCES:  # "by its handle"
            return False
        return kind != 'in' or not (all(n in COLOURS for n in names) or names[-1] in WORN)

    def first_name(self, start: int, end: int) -> list[int]:
        """Return the first run of naming tokens from `start` ("white" of "white on left")."""
        k = next((k for k in range(start, end) if self.is_naming(k)), end)
        run = []
        while k < end and self.is_naming(k):
            run.append(k)
            k += 1
        return run

    def position(self, i: int, end: int) -> Optional[Cue]:
        """
        Match a position phrase: "on the far left side", "most to the left", "left-most".

        A phrase followed by "of" and an anchor becomes a relation (see `of_anchor`).
        """
        j = self.skip(i, end, LEADS)
        prep = j < end and self.lower[j] in POSITION_PREPOSITIONS
        if prep:  # "on the left", "to my right", "on your left"
            j = self.skip_determiners(j + 1, end)
        positions, stop = self.sides(self.skip(j, end, EXTREMES), end)
        if not positions:
            positions, stop = self.sides(j if prep else i, end)
        if prep and self.attributive(j, stop):
            return None
        hand_side = self.lower[stop:min(stop + 2, end)] == ['hand', 'side']
        region = hand_side or (stop < end and self.lower[stop] in REGIONS)
        stop += 2 if hand_side else int(region)
        if not positions and not (region and prep):
            return None
        return self.of_anchor(Cue(stop, tuple(positions), region=region), end, prep)

    def attributive(self, start: int, stop: int) -> bool:
        """Tell "in the top drawer" (a side word describing a noun after it) from "in the top"."""
        return any(self.tokens[k].head.i >= stop and self.tokens[k].head.pos_ in ('NOUN', 'PROPN')
                   and self.lower[self.tokens[k].head.i] not in REGIONS
                   for k in range(start, stop))

    def sides(self, j: int, end: int) -> tuple[list[Position], int]:
        """Read side words from token j, with "most" and hyphens between ("top-left-most")."""
        positions: list[Position] = []
        while j < end and self.lower[j] in SIDES and self.is_side(j):
            positions.append(SIDES[self.lower[j]])
            j += 1
            if j + 1 < end and self.lower[j] in HYPHENS and self.lower[j + 1] in SIDE_JOINERS:
                j += 1
            if j < end and self.lower[j] == 'most':
                j += 1
        return positions, j

    def of_anchor(self, cue: Cue, end: int, after_preposition: bool) -> Optional[Cue]:
        """
        Read "of X" after a position phrase.

        A lone left or right makes left_of / right_of ("to the left of the bowl"); a region
        or another side names part of X, where the target lies: the position plus `on` X;
        a superlative with no preposition before it chooses from X ("the biggest of the
        cups"). A region with no "of X" ("in the corner") is no cue.
        """
        if cue.end >= end or self.lower[cue.end] != 'of':
            return cue if cue.positions else None
        name = self.first_name(cue.end + 1, end)
        if name and self.lower[name[-1]] in PICTURES and cue.positions:
            return Cue(name[-1] + 1, cue.positions)
        if not self.names_anchor(cue.end + 1, end, 'on'):
            return cue if cue.positions else None
        last = self.tokens[cue.end - 1]
        superlative = last.tag_ == 'JJS' or last.lower_.endswith('most')
        if not (cue.region or after_preposition) and superlative:
            return Cue(cue.end + 1, cue.positions, partitive=True)
        if not cue.region and cue.positions in (('left',), ('right',)):
            return Cue(cue.end + 1, relation=f'{cue.positions[0]}_of')
        if not (cue.region or after_preposition) and (
                last.tag_ != 'NN' or (name and self.tokens[name[-1]].tag_ in PLURAL_TAGS)):
            return Cue(cue.end + 1, cue.positions, partitive=True)
        if cue.positions == ('middle',) and self.two_names(cue.end + 1, end):
            return Cue(cue.end + 1, relation='between')
        return Cue(cue.end + 1, cue.positions, relation='on')

    def two_names(self, start: int, end: int) -> bool:
        """Tell "the cup and the bowl" (two objects: "in the middle of" is between) from one."""
        split = next((k for k in range(start, end) if self.lower[k] in ('and', '&')), None)
        return split is not None and bool(self.first_name(start, split)) and bool(
            self.first_name(split + 1, end))

    def is_side(self, k: int) -> bool:
        """
        Tell a side word from the verb "left" with a pronoun subject ("the cup I left").

        A question word counts as one ("who left the umbrella"), a relative pronoun not ("the
        cube that is left of the sphere"). Nor is "near" before an article a side: "near the
        corner" is a preposition's phrase; nor a participle "left" followed by where it was
        left, after a noun with its article ("any milk left in the fridge", "the mug left on
        the table"; terse "guy left in white" is the guy on the left).
        """
        token = self.tokens[k]
        after = self.lower[k + 1] if k + 1 < len(self.tokens) else ''
        if self.lower[k] in NEAR_WORDS and after in ARTICLES:
            return False
        if token.tag_ in ('VBN', 'VBD') and after in LEFT_BEHIND_PLACES and k > 0 and any(
                c.dep_ == 'det' for c in self.tokens[k - 1].children):
            return False
        return not (token.pos_ == 'VERB' and any(
            c.dep_ in ('nsubj', 'nsubjpass') and c.tag_ in ('PRP', 'WP') for c in token.children))

    def skip(self, j: int, end: int, words: frozenset) -> int:
        """Return the first index from j whose word is not in `words`."""
        while j < end and self.lower[j] in words:
            j += 1
        return j

    def skip_determiners(self, j: int, end: int) -> int:
        """Skip articles and possessives ("the", "your") before a noun."""
        while j < end and (self.tokens[j].pos_ == 'DET' or self.tokens[j].tag_ == 'PRP$'):
            j += 1
        return j

    def negation(self, i: int, end: int, kept: list[int]) -> Optional[str]:
        """
        Return what "not" or "without" at token i says the object is not, as a phrase to score.

        The rest of the span is the negated description: a noun phrase stands alone ("not the
        blue one"), bare describing words take the object's noun ("the cup that is not red" ->
        "red cup"), a phrase that places or does something follows the object ("the box not on
        the left" -> "the box on the left"), and "without" is "with" ("the mug without a
        handle" -> "the mug with a handle"). Places are judged by CLIP here, not by geometry.
        """
        word = self.lower[i]
        if word not in NEGATIONS and not (word == 'no' and i > 0 and self.lower[i - 1] == 'with'):
            return None
        rest = [k for k in range(i + 1, end) if not self.tokens[k].is_punct]
        if (self.lower[rest[0]] in DEGREE_WORDS if rest else True) or not any(
                self.tokens[k].pos_ in NAMING_POS | {'VERB'} for k in rest):
            return None  # nothing negated, or a hedged degree ("not so big")
        said = [self.words[k] for k in rest]
        described = [k for k in kept if self.lower[k] != 'with' and not self.is_wrapper(k)]
        named = [self.words[k] for k in described]
        if word in ('without', 'no'):
            return ' '.join([*named, 'with', *said])
        if self.tokens[rest[0]].pos_ in ('ADP', 'VERB', 'AUX') or self.cue(rest[0], end):
            return ' '.join([*named, *said])
        nouns = [k for k in described if self.tokens[k].pos_ in ('NOUN', 'PROPN')]
        if not nouns:
            return ' '.join(said)
        noun = self.words[nouns[-1]]
        if self.lower[rest[-1]] in GENERIC_NOUNS:  # "the cup, not the red one" -> "the red cup"
            return ' '.join([*said[:-1], noun])
        if any(self.tokens[k].pos_ in ('NOUN', 'PROPN', 'PRON') for k in rest):
            return ' '.join(said)
        return ' '.join([*said, noun])

    def size(self, kept: list[int]) -> Optional[Size]:
        """
        Return the size a plain adjective gives the object ("the [small] red cup").

        Only the object's own noun counts: "girl with short hair" and "short hair girl" say
        nothing of the girl's size. The small model tags a terse "big box" as a name: the word
        before its noun counts.
        """
        return next((SIZE_ADJECTIVES[self.lower[k]] for k in kept
                     if self.lower[k] in SIZE_ADJECTIVES and self.tokens[k].tag_ in PLAIN_TAGS
                     and self.heads_description(self.tokens[k].head, kept)
                     and self.tokens[k].head.i > k), None)

    @staticmethod
    def heads_description(noun: Token, kept: list[int]) -> bool:
        """Tell the noun the kept words describe from a noun inside their description."""
        return noun.pos_ in ('NOUN', 'PROPN') and (
            noun.head.i == noun.i or noun.head.i not in kept)

    def target(self, kept: list[int], start: int, end: int) -> str:
        """
        Join the words no cue took, without question and clause words left around them.

        Empty when none of them names an object.
        """
        consumed = set(range(start, end)) - set(kept)
        words = [k for k in kept if not self.is_wrapper(k) and not (
            self.tokens[k].pos_ in ('CCONJ', 'PUNCT') and {k - 1, k + 1} & consumed)]
        while words and self.tokens[words[0]].pos_ in EDGE_POS - {'DET'}:
            words.pop(0)
        while words and (self.tokens[words[-1]].pos_ in EDGE_POS
                         or self.lower[words[-1]] in PLACING_WORDS):
            words.pop()
        if not any(map(self.is_naming, words)):
            return ''
        return ' '.join(self.words[k] for k in self.predicates_first(words))

    def predicates_first(self, words: list[int]) -> list[int]:
        """
        Put what a relative clause says the object is before its noun, as names are said.

        "the leftmost object that is red" -> "the red object", not "the object red".
        """
        said = [k for k in words if self.tokens[k].dep_ == 'acomp'
                and self.tokens[k].head.dep_ == 'relcl']
        if not said:
            return words
        rest = [k for k in words if k not in said]
        noun = self.tokens[said[0]].head.head.i
        at = rest.index(noun) if noun in rest else len(rest)
        return rest[:at] + said + rest[at:]

    def is_wrapper(self, k: int) -> bool:
        """
        Tell wh-words, copulas and the "both" of "both A and B" from the description.

        ("which cup is", "the one that is both left of the cube and ...").
        """
        token = self.tokens[k]
        return token.tag_ in WRAPPER_TAGS or token.dep_ == 'preconj' or (
            token.pos_ in ('AUX', 'VERB') and token.lower_ in COPULAS)

    def is_naming(self, k: int) -> bool:
        """Tell whether token k can name an object ("can" the noun is parsed as one)."""
        return self.tokens[k].pos_ in NAMING_POS


def counting_start(words: list[str], kept: Iterable[int]) -> OrdinalAxis:
    """Say where an ordinal that names no side counts from: the top of shelves and drawers."""
    return 'top' if any(words[k] in STACKED_NOUNS for k in kept) else 'left'


def combine(cues: list[Cue], start: OrdinalAxis = 'left'
            ) -> tuple[list[Position], Optional[Ordinal]]:
    """Merge a span's cues into its positions (no repeats) and ordinal (see module doc)."""
    positions = [p for c in cues for p in c.positions]
    ranks = [c.rank for c in cues if c.rank is not None]
    axes = [c.axis for c in cues if c.axis is not None]
    ordinal = None
    if ranks:
        ordinal = rank_along(ranks[0], axes, positions, start)
    else:
        positions += axes
    return list(dict.fromkeys(positions)), ordinal


def rank_along(rank: int, axes: list[OrdinalAxis], positions: list[Position],
               start: OrdinalAxis = 'left') -> Optional[Ordinal]:
    """Count `rank` from the named axis, else from a size or side word it takes over."""
    if axes:
        return Ordinal(rank, axes[0])
    sizes = [p for p in positions if p in SIZES]
    side = next((p for p in sizes or positions if p in OPPOSITE), None)
    if side is None:
        return Ordinal(rank, start)
    positions.remove(side)
    return Ordinal(rank, side if rank > 0 else OPPOSITE[side])


def ordinal_rank(word: str) -> Optional[int]:
    """Return the rank an ordinal word states ("second" 2, "3rd" 3, "last" -1), or None."""
    match = NUMERIC_ORDINAL.fullmatch(word)
    return int(match.group(1)) if match else ORDINALS.get(word)

"""
Phrases that leave out the kind of object they mean, said in full with it.

An `ambiguous` answer asks "the red mug on the left or the one on the right?", and people
reply with what tells the two apart, leaving out what both are: "the left one", "on the
left", "the second", "the one behind the bowl". Alone, such a reply names no kind and picks
among every object in view; said with the noun phrase asked about, it picks among the
candidates: "the left one" -> "the left red mug", "on the left" -> "the red mug on the left".
A command does the same within itself: "The red cup. The one on the left. Pick it up.",
"pass the salt shaker? The one next to the pepper."
"""

from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from .commands import OBJECT_DEPS, ONE_WORDS, SUBJECT_DEPS, without_punctuation
from .spatial.reading import GENERIC_NOUNS, ORDINALS, SIDES
from .tidy import clean_for_parser, parse_text

#: Where a phrase a later "one" refers back to stands: a fragment of its own ("The red cup."),
#: a subject or an object; not the place of a step ("go to the kitchen and get the red one").
ANTECEDENT_DEPS = frozenset({'ROOT', 'appos'}) | SUBJECT_DEPS | OBJECT_DEPS
#: How the model attaches a "one" that restates the object after a comma or a full stop.
RESTATING_DEPS = frozenset({'ROOT', 'appos', 'npadvmod'})
#: Tags of the words that open a noun phrase ("the", "both", "my"): the reply has its own.
OPENING_TAGS = frozenset({'DT', 'PDT', 'PRP$', 'WDT', 'WP$'})


def in_full(reply: str, asked: str, nlp: Language) -> str:
    """
    Say a reply that names no kind with the noun phrase asked about.

    The reply's generic noun ("one", "thing") gives way to the asked-about kind and its
    describing words, or the kind alone where the reply describes its own ("the blue one"
    after "the red cup" is "the blue cup"); a reply without one ("on the left", "the
    second") follows the asked noun phrase without its own determiners, as terse referring
    expressions do ("the red mug second from the left").
    """
    text = clean_for_parser(reply)
    doc, _ = parse_text(nlp, text)
    generic = next((t for t in doc if t.lower_ in GENERIC_NOUNS), None)
    if generic is None:
        rest = text[_opening_end(doc):]
        return f'{asked} {rest}' if rest else asked
    end = generic.idx + len(generic.text)
    kind = kind_name(asked, nlp) if describes(generic) else described_kind(asked, nlp)
    return text[:generic.idx] + kind + text[end:]


def describes(generic: Token) -> bool:
    """Tell "the blue one" (a look of its own) from "the left one" and "the second one"."""
    return any(c.dep_ == 'amod' and c.lower_ not in SIDES and c.lower_ not in ORDINALS
               for c in generic.children)


def kind_name(noun_phrase: str, nlp: Language) -> str:
    """
    Return a noun phrase without the words before its name: "the red salt shaker" -> "salt shaker".

    What follows the name stays ("the cup next to the plate, the blue one").
    """
    text = clean_for_parser(noun_phrase)
    doc, _ = parse_text(nlp, text)
    chunk = next(iter(doc.noun_chunks), None)
    if chunk is None:
        return described_kind(noun_phrase, nlp)
    start = chunk.root.i
    while start > chunk.start and doc[start - 1].dep_ == 'compound':
        start -= 1
    return text[doc[start].idx:]


def described_kind(noun_phrase: str, nlp: Language) -> str:
    """Return the noun phrase without its opening determiners: "the red mug" -> "red mug"."""
    text = clean_for_parser(noun_phrase)
    doc, _ = parse_text(nlp, text)
    return text[_opening_end(doc):] or noun_phrase


def _opening_end(doc: Doc) -> int:
    """Give the character offset of the first word after the opening determiners."""
    return next((t.idx for t in doc if t.tag_ not in OPENING_TAGS), len(doc.text))


def kind_referred_to(noun: Span) -> Span | None:
    """
    Return the noun chunk a "one" refers back to: the nearest before it that names a kind.

    "The red cup. The one on the left." means the red cup on the left; "I want the blue one,
    not the red one" names no kind before it, and stays as it is.
    """
    if noun.root.lower_ not in ONE_WORDS:
        return None
    earlier = [chunk for chunk in noun.doc.noun_chunks
               if chunk.end <= noun.start and names_kind(chunk.root)]
    return earlier[-1] if earlier else None


def names_kind(token: Token) -> bool:
    """Tell a noun that says what kind of object is meant (not "one", "thing", "left")."""
    return (token.pos_ in ('NOUN', 'PROPN') and token.dep_ in ANTECEDENT_DEPS
            and token.lower_ not in GENERIC_NOUNS and token.lower_ not in SIDES)


def restatement(noun: Span) -> Span | None:
    """
    Return a "one" phrase after the noun phrase that says which of its kind is meant.

    "Could you pass the salt shaker? The one next to the pepper." and "grab the mug, the
    blue one" name the object, then tell it apart; "the cup and the one next to it" names two.
    """
    if noun.root.pos_ not in ('NOUN', 'PROPN') or noun.root.lower_ in GENERIC_NOUNS:
        return None
    doc = noun.doc
    for token in doc[noun.end:]:
        opening = token.left_edge
        if (token.lower_ in ONE_WORDS and token.dep_ in RESTATING_DEPS and opening.i > 0
                and doc[opening.i - 1].is_punct):
            return without_punctuation(doc[opening.i:token.right_edge.i + 1])
    return None

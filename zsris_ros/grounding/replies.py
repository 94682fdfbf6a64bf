"""
Short replies to a clarifying question, said in full with what the question was about.

An `ambiguous` answer asks "the red mug on the left or the one on the right?", and people
reply with what tells the two apart, leaving out what both are: "the left one", "on the
left", "the second", "the one behind the bowl". Alone, such a reply names no kind and picks
among every object in view; said with the noun phrase asked about, it picks among the
candidates: "the left one" -> "the left red mug", "on the left" -> "the red mug on the left".
"""

from spacy.language import Language
from spacy.tokens import Doc

from .spatial.reading import GENERIC_NOUNS
from .tidy import clean_for_parser, parse_text

#: Tags of the words that open a noun phrase ("the", "both", "my"): the reply has its own.
OPENING_TAGS = frozenset({'DT', 'PDT', 'PRP$', 'WDT', 'WP$'})


def in_full(reply: str, asked: str, nlp: Language) -> str:
    """
    Say a reply that names no kind with the noun phrase asked about.

    The reply's generic noun ("one", "thing") gives way to the asked-about kind and its
    describing words; a reply without one ("on the left", "the second") follows the asked
    noun phrase without its own determiners, as terse referring expressions do ("the red
    mug second from the left").
    """
    text = clean_for_parser(reply)
    doc, _ = parse_text(nlp, text)
    generic = next((t for t in doc if t.lower_ in GENERIC_NOUNS), None)
    if generic is None:
        rest = text[_opening_end(doc):]
        return f'{asked} {rest}' if rest else asked
    end = generic.idx + len(generic.text)
    return text[:generic.idx] + described_kind(asked, nlp) + text[end:]


def described_kind(noun_phrase: str, nlp: Language) -> str:
    """Return the noun phrase without its opening determiners: "the red mug" -> "red mug"."""
    text = clean_for_parser(noun_phrase)
    doc, _ = parse_text(nlp, text)
    return text[_opening_end(doc):] or noun_phrase


def _opening_end(doc: Doc) -> int:
    """Give the character offset of the first word after the opening determiners."""
    return next((t.idx for t in doc if t.tag_ not in OPENING_TAGS), len(doc.text))

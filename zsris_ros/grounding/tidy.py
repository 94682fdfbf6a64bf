"""
Text as the small parser needs it, before and while it is parsed.

Bounded in length, tidied of what speech and typing add, and with the words the small model
misreads swapped for ones it reads right. Both readers (PhraseParser and the spatial stage's)
parse through `parse_text`, so they agree on what was said; the words as written stay
recoverable from each token's offsets.
"""

import re
import unicodedata

from spacy.language import Language
from spacy.tokens import Doc, Token

# CLIP reads at most 77 tokens; the cap bounds parse time on pathological input.
MAX_PARSE_CHARS = 1000
#: Hesitations as speech recognition writes them, with the commas around them.
FILLERS = re.compile(r',?\s*\b(?:u+h+|u+m+|uhm+|e+r+m*|h+m+|a+h+|e+h+)\b,?', re.IGNORECASE)
#: A word said twice in a row, as speech recognition writes a stutter ("the the cup").
REPEATED_WORD = re.compile(r'\b([a-z]+)(?: \1\b)+', re.IGNORECASE)
#: "Please" before what is wanted with no verb ("please the blue bottle"): no part of it.
POLITE_OPENING = re.compile(r'^please,?\s+(?=(?:the|a|an|my|this|that|these|those)\b)',
                            re.IGNORECASE)
#: A frame around the command that names no object ("it's time to ...", "your task is to ...").
AGENDA_OPENING = re.compile(
    r"^(?:(?:now|so|ok|okay|alright|right),?\s+)?(?:(?:it's|it is|its)\s+)?time to\s+"
    r'|^(?:your|the|our|my)\s+(?:next\s+|first\s+|new\s+)?'
    r'(?:task|goal|job|mission|step|instruction|assignment)\s*(?:is to|:)\s+',
    re.IGNORECASE)
#: The article's common typing slips ("grab teh cup"); the small model reads them as nouns.
TYPED_ARTICLES = re.compile(r'\b(?:teh|hte)\b', re.IGNORECASE)
#: Contractions typed or transcribed without their apostrophe, where no word is meant: the
#: small model splits "whats" into "what s" and loses the question ("its" is a word).
BARE_CONTRACTIONS = {
    'whats': "what's", 'wheres': "where's", 'thats': "that's", 'theres': "there's",
    'heres': "here's", 'whos': "who's", 'hows': "how's", 'isnt': "isn't", 'arent': "aren't",
    'dont': "don't", 'doesnt': "doesn't", 'cant': "can't", 'couldnt': "couldn't",
    'wouldnt': "wouldn't", 'youre': "you're", 'im': "i'm", 'ive': "i've",
}
BARE_CONTRACTION = re.compile(r'\b(?:' + '|'.join(BARE_CONTRACTIONS) + r')\b', re.IGNORECASE)
#: Thanks and please said after what is wanted ("red cup please", "the mug, thanks!").
POLITE_ENDING = re.compile(r'[,\s]*\b(?:please|pls|thanks|thank you|thank u|thx)\W*$',
                           re.IGNORECASE)
#: What does the grasping, not what is grasped: a robot's or a person's parts, and the tools
#: that stand in for them.
EFFECTOR = (r"(?:(?:left|right|other|free|robot|robotic|robot's|own)\s+)*"
            r'(?:hands?|grippers?|arms?|fingers?|claws?|pincers|end[- ]effectors?|tongs|tweezers'
            r'|pliers)')
#: "... with your left hand", "using the gripper, ...": how to grasp, never what. A determiner
#: is required, so a description ("the clock with hands") keeps its words.
INSTRUMENT = re.compile(
    r',?\s*\b(?:with|using)\s+(?:your|the|my|its|his|her|their|both|one|either)\s+'
    + EFFECTOR + r'\b,?', re.IGNORECASE)
#: "Use the tongs to pick up the pan": the tool opens the command, the object follows it.
USE_INSTRUMENT = re.compile(
    r'\b(?:use|using)\s+(?:your|the|my|its|both|one of your)\s+' + EFFECTOR + r'\s+to\s+',
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
    Remove what speech and typing add before what is wanted is read.

    Written-out hesitations, a word said twice ("the the cup"), "please" before a bare
    description and after what is wanted, a frame that only announces the command ("time
    to"), a mistyped article ("teh") and a contraction typed without its apostrophe.
    """
    spoken = ' '.join(FILLERS.sub(' ', text).split())
    spoken = REPEATED_WORD.sub(r'\1', TYPED_ARTICLES.sub('the', spoken))
    spoken = BARE_CONTRACTION.sub(_with_apostrophe, spoken)
    spoken = AGENDA_OPENING.sub('', POLITE_OPENING.sub('', spoken)) or spoken
    return POLITE_ENDING.sub('', spoken) or spoken


def without_instruments(text: str) -> str:
    """
    Drop the hand, gripper or tool a command says to grasp with.

    The small model attaches "using the gripper" to the verb, the object or a clause of its
    own, so the words go before it parses: "pick up the cup using the gripper" names the cup,
    and "with your left hand" says nothing about where the object is.
    """
    kept = ' '.join(INSTRUMENT.sub(' ', USE_INSTRUMENT.sub('', text)).split())
    return kept or text


def _with_apostrophe(match: re.Match) -> str:
    word = match.group()
    said = BARE_CONTRACTIONS[word.lower()]
    return said.capitalize() if word[0].isupper() else said


def parse_text(nlp: Language, text: str) -> tuple[Doc, list[str]]:
    """
    Parse cleaned text as the readers need it, and return its tokens' words as written.

    Shouting is folded, modal-looking nouns are parsed as nouns and a semicolon ends a
    sentence as a full stop does (the small model runs the clauses it joins into one: "go to
    the living room; there is a remote on the sofa; bring it here"): the doc's text may differ
    from `text` (a swapped noun, lower case), never its character offsets, so each token's
    word as written is `text` at its offset.
    """
    doc = _parsed(nlp, fold_shouting(text).replace(';', '.'))
    return doc, [text[t.idx:t.idx + len(t.text)] for t in doc]


def _parsed(nlp: Language, folded: str) -> Doc:
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

"""
Find the target of a robot command or question, where the paper's noun-phrase rule fails.

The paper's rule reads the noun phrase off the dependency ROOT, which is right for "man in
black" but gives the whole sentence for "pick up the blue cup" and "me" for "bring me the
screwdriver on the table". For commands and questions the target is therefore the verb's
object: its phrase (without particles, datives, pronouns or a destination) becomes the
referring expression, and its noun chunk the noun phrase (doc/method.md, "Robot commands
and questions").
"""

from typing import Iterator, List, Optional, Tuple

from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from .spatial.reading import COLOURS, ORDINALS, SIDES, SIZE_ADJECTIVES

# Personal subjects that mark a request ("I want ...", "we need ...", "you should ...").
REQUEST_SUBJECTS = frozenset({'i', 'we', 'you'})
# Subjects of what the speaker wants or needs ("bring me a cup, [I want coffee]").
SPEAKER_SUBJECTS = frozenset({'i', 'we'})
# Object pronouns that name the recipient, not the object ("pass me that mug").
RECIPIENTS = frozenset({'me', 'us'})
# Possessives that point back at an object named earlier in the command.
BACK_REFERENCES = frozenset({'its', 'their'})
# Parts of speech that can head a phrase naming an object. ADJ and NUM are kept because the
# small model tags nouns such as "remote" or "left" as adjectives in short questions.
NAMING_POS = frozenset({'NOUN', 'PROPN', 'ADJ', 'NUM'})
WH_TAGS = frozenset({'WDT', 'WP', 'WP$', 'WRB'})

SINGULAR_NOUN_TAGS = frozenset({'NN', 'NNP'})
# "the middle of the three cups" chooses from the cups; "the middle of the table" is a place.
PLURAL_TAGS = frozenset({'NNS', 'NNPS'})
PARTICIPLE_TAGS = frozenset({'VBG', 'VBN'})

SUBJECT_DEPS = frozenset({'nsubj', 'nsubjpass'})
OBJECT_DEPS = frozenset({'dobj', 'attr', 'oprd'})
# A noun under one of these is the object, mis-attached ("pass me that mug": mug is ccomp).
MISPARSED_OBJECT_DEPS = frozenset({'ccomp', 'xcomp', 'npadvmod', 'appos'})
# Clauses that carry the actual request ("I need you to fetch", "go and get", "help me find").
COMPLEMENT_DEPS = frozenset({'xcomp', 'ccomp', 'conj', 'advcl', 'dep'})
# Attachments after the object that can still describe it ("the cup on the left").
MODIFIER_DEPS = frozenset({'prep', 'advmod'})
# Prepositions that state where an object goes, never which object is meant.
GOAL_PREPOSITIONS = frozenset({'to', 'into', 'onto', 'toward', 'towards'})
# What "to the ..." names when it says where an object is, not where it goes.
SIDE_WORDS = frozenset({'left', 'right'})
# Caused-motion verbs: a phrase after their object is its destination ("put the apple next to
# the bowl"), so it is left out of the referring expression. Base forms, as imperatives are.
PLACEMENT_VERBS = frozenset({
    'put', 'place', 'set', 'move', 'drop', 'throw', 'toss', 'lay', 'hang', 'insert', 'pour',
    'stack', 'dump',
})
#: Verbs that move an object along a way: "to the left" after their object is where it goes,
#: "on the left" still where it is ("push the block to the left", "push the button on the left").
MOTION_VERBS = frozenset({
    'push', 'pull', 'slide', 'drag', 'shift', 'nudge', 'roll', 'rotate', 'turn', 'spin', 'tilt',
    'swing', 'sweep', 'flip', 'kick',
})
# Verbs whose object is where to look and whose "for" names what is sought.
SEARCH_VERBS = frozenset({'search', 'searching', 'check', 'checking', 'look', 'looking',
                          'scan', 'scanning', 'hunt', 'hunting', 'comb', 'explore'})
#: Verbs an imperative follows with a preposition more often than with an object ("wait by
#: the door", "switch on the light"); another first word before one ("spoon in the mug",
#: "screwdriver with the yellow handle") is a noun the model read as a verb.
PREPOSITION_VERBS = frozenset({
    'aim', 'back', 'check', 'clean', 'climb', 'come', 'crouch', 'dock', 'face', 'fly', 'focus',
    'gaze', 'glance', 'head', 'help', 'hide', 'hover', 'hurry', 'jump', 'kneel', 'knock',
    'lean', 'lie', 'listen', 'pan', 'park', 'peek', 'plug', 'press', 'proceed', 'pull', 'push',
    'return', 'roll', 'rotate', 'run', 'sit', 'slide', 'stand', 'stare', 'stay', 'steer',
    'step', 'stop', 'switch', 'tap', 'tilt', 'travel', 'turn', 'wait', 'wipe', 'zoom',
})
#: Verbs a yes/no question asks of its subject, not its object ("does the jar have a lid").
HAVING_VERBS = frozenset({'have'})
#: Particles after a verb of placing that may say where rather than what ("and put [in] bowl").
GOAL_PARTICLES = frozenset({'in', 'into', 'on', 'onto', 'inside'})
#: Verbs that leave the object in hand for the next step to place.
TAKING_VERBS = frozenset({'pick', 'pickup', 'grab', 'take', 'lift', 'get', 'grasp', 'hold',
                          'fetch', 'retrieve', 'carry'})
#: Prepositions that are more often a verb's particle ("rinse off", "knock over").
PARTICLES = frozenset({'about', 'across', 'around', 'away', 'back', 'down', 'off', 'out', 'over',
                       'through', 'up'})
# Nouns that count or gather what their "of" names ("a pair of scissors", "a bunch of
# bananas"); a container ("a bottle of water") is an object of its own.
QUANTITY_NOUNS = frozenset({'pair', 'pairs', 'bunch', 'bunches', 'couple', 'handful', 'piece',
                            'pieces', 'bit', 'lot', 'lots', 'pile', 'stack', 'set', 'group',
                            'bundle'})
# Words that open a greeting, not an object's name ("ok robot, pick it up").
GREETINGS = frozenset({'ok', 'okay', 'hey', 'hi', 'hello', 'yo'})
# Pronouns that describe what is wanted by what follows them ("something to drink").
INDEFINITE_NOUNS = frozenset({'something', 'anything', 'everything'})
# "One" standing for a noun said or meant ("the red one"); the small model reads it as a number.
ONE_WORDS = frozenset({'one', 'ones'})
# Determiners the small model may read as a clause's subject ("hand me [that] wrench").
DEMONSTRATIVES = frozenset({'that', 'this', 'these', 'those'})
# Imperative verbs the small model mistags when they open a short command ("point at the cup"
# as a noun, ASR-style "grab cup" as a name, "set the mug on the table" as past tense). Only
# words that do not also head RefCOCO-style referring expressions are listed (not "hand",
# "open", "place", "stack"), so plain expressions keep the paper's rule.
COMMAND_VERBS = frozenset({
    'approach', 'bring', 'carry', 'choose', 'drive', 'drop', 'fetch', 'find', 'follow', 'get',
    'give', 'go', 'grab', 'grasp', 'highlight', 'hold', 'inspect', 'lift', 'locate', 'look',
    'mind', 'move', 'navigate', 'pass', 'pick', 'pickup', 'place', 'point', 'pour', 'put',
    'reach', 'retrieve', 'search', 'segment', 'select', 'set', 'show', 'take', 'touch', 'walk',
})
# Prefixed to such a command to make its first word parse as the imperative verb it is.
IMPERATIVE_CUE = 'please'
# Prefixed to a terse expression to make its first word parse as the noun it is.
NOUN_CUE = 'the'
# The small model cuts many two-word names short ("the fire [extinguisher]", "the milk
# [carton]"), reading the last word as an adverb, a verb or a second object. Words it may have
# cut, and what is said of the name to read them again: there it tags nouns as nouns.
CUT_NAME_POS = frozenset({'NOUN', 'PROPN', 'VERB', 'ADV'})
CUT_NAME_WORDS = 2
NAME_PREDICATE = ('is', 'here')
NOUN_TAGS = SINGULAR_NOUN_TAGS | PLURAL_TAGS
# Said of a word, where the model tags states as states: "it is [clean]", "it is [broken]".
STATE_FRAME = 'it is'
STATE_TAGS = frozenset({'JJ', 'VBN'})
# Comparatives and superlatives: after a noun they describe it ("bottle closest to camera"),
# after an imperative they would be odd.
DESCRIBING_TAGS = frozenset({'JJR', 'JJS', 'RBR', 'RBS'})


def command_spans(doc: Doc, nlp: Language) -> Optional[Tuple[Tuple[Span, ...], Span]]:
    """
    Return the referring-expression spans and the noun-phrase span of a command or question.

    None means a plain referring expression, left to the paper's rule. A command whose
    opening verb the model mistags is parsed again by `nlp` behind an imperative cue; its
    spans then lie one token to the right. A request that names no object ("pick it up")
    keeps the whole text for both.
    """
    among = next(filter(None, map(set_asked_about, roots(doc))), None)
    if among is not None:
        return among_spans(among)
    docs = [doc]
    target = request_target(doc)
    if target is None and (doc[0].lower_ in COMMAND_VERBS or governs_object(doc[0])
                           or hands_to_someone(doc)):
        docs.append(nlp(f'{IMPERATIVE_CUE} {doc.text}'))
        target = request_target(docs[-1])
    if target is None:
        target = next(filter(None, map(fronted_target, roots(doc))), None)
    requested = any(map(has_request, docs))
    if target is None and requested:
        target = request_target(with_articles(doc, nlp))
    if target is not None:
        spans, noun = target_spans(target)
        return (without_asked_state(spans[0], nlp), *spans[1:]), noun
    if requested:
        topic = topic_before(doc)
        if topic is not None:
            return (without_punctuation(subtree_span(topic.root)),), topic
        return (doc[:],), doc[:]
    return None


def hands_to_someone(doc: Doc) -> bool:
    """
    Tell "hand Tom his hat" (the verb, a name, then what is handed) from "hand on the left".

    "Hand" heads many referring expressions, so only a name and a determiner after it make
    it the imperative.
    """
    return (len(doc) > 3 and doc[0].lower_ == 'hand' and doc[1].pos_ == 'PROPN'
            and doc[2].tag_ in ('DT', 'PRP$'))


def set_asked_about(root: Token) -> Optional[Token]:
    """Return the "of" of "which (one) of the boxes is on the left": the set asked about."""
    if not is_copula(root):
        return None
    for subject in root.lefts:
        if subject.dep_ in SUBJECT_DEPS and (is_wh(subject) or subject.lower_ == 'one'):
            of = next((p for p in subject.children if p.lower_ == 'of' and named_objects(p)),
                      None)
            if of is not None:
                return of
    return None


def among_spans(of: Token) -> Tuple[Tuple[Span, ...], Span]:
    """
    Say "which of the boxes is on the left" as the description it asks for.

    The set and what the question says of the one meant: "the boxes on the left"; a
    superlative names the one first ("which of the bottles is the tallest" -> "the tallest
    of the bottles"), as the spatial reading takes partitives.
    """
    said = [subtree_span(c) for c in of.head.head.rights if not c.is_punct]
    members = named_objects(of)[0]
    noun = chunk_of(members) or subtree_span(members)
    if said and said[0].root.dep_ == 'attr':
        return (*said, subtree_span(of)), noun
    return (subtree_span(members), *said), noun


def topic_before(doc: Doc) -> Optional[Span]:
    """
    Return the noun chunk of an object named before a request that refers back to it.

    "That red box, pick it up" and "The banana. Pick it up." say the object first; the
    request's own object is only "it". A greeting ("ok robot, now pick it up") names no
    object.
    """
    for root in roots(doc):
        if is_request(root) and has_pronoun_object(root):
            named = [c for c in doc.noun_chunks
                     if c.root.right_edge.i < root.i and names_object(c.root)
                     and c.root.dep_ != 'pobj' and c[0].lower_ not in GREETINGS]
            if named:
                return named[-1]
    return None


def without_punctuation(span: Span) -> Span:
    """Drop the punctuation that ends a span ("The banana." -> "The banana")."""
    end = span.end
    while end - 1 > span.start and span.doc[end - 1].is_punct:
        end -= 1
    return span.doc[span.start:end]


def noun_reading(doc: Doc, nlp: Language) -> Doc:
    """
    Return the parse of a terse expression whose first noun the model read as a verb.

    "bottle closest to camera" parses as the imperative "bottle"; behind an article (the
    parse then lies one token to the right) the same words read as the bottle they name.
    Tried only when the expression opens with its verb and no object (see
    `opens_with_misread_noun`), and kept only when that reading starts with a noun and asks
    for nothing.
    """
    if not opens_with_misread_noun(doc, nlp):
        return doc
    cued = nlp(f'{NOUN_CUE} {doc.text}')
    if cued[1].pos_ in ('NOUN', 'PROPN') and not has_request(cued):
        return cued
    return doc


def opens_with_misread_noun(doc: Doc, nlp: Language) -> bool:
    """
    Tell a terse expression whose opening noun the model may have read as a verb.

    Either the first word is the verb and what follows it would be odd after an imperative
    (an adjective: "bottle closest to camera"; an adverb that is no manner: "fire
    extinguisher on the right", not "come here and ..."; a preposition after a word that
    is seldom an imperative without its object: "spoon in the mug", not "wait by the door"),
    or nouns lead up to the verb, its subject ("door handle on the right").
    """
    sentences = roots(doc)
    root = sentences[0]
    if (len(doc) < 2 or len(sentences) > 1 or root.lower_ in COMMAND_VERBS
            or doc[0].lower_ in COMMAND_VERBS or direct_object(root) is not None):
        return False
    if root.i == 0:
        second = doc[1]
        return root.tag_ == 'VB' and (second.tag_ in DESCRIBING_TAGS or (
            second.tag_ == 'RB' and name_tags(doc[:2], nlp)[-1] in NOUN_TAGS) or (
            opens_place(second) and root.lower_ not in PREPOSITION_VERBS | SEARCH_VERBS))
    return root.pos_ in ('VERB', 'AUX') and root.i <= CUT_NAME_WORDS and all(
        t.pos_ in ('NOUN', 'PROPN') for t in doc[:root.i])


def opens_place(token: Token) -> bool:
    """
    Tell a preposition of place or an adverb that takes one ("in", "next [to]", "close [to]").

    A particle of a phrasal verb ("rinse [off] the mug", "knock [over] the bottle") is none.
    """
    if token.pos_ == 'ADP':
        return token.lower_ not in PARTICLES
    return token.tag_ == 'RB' and any(c.dep_ == 'prep' for c in token.children)


def opens_with_name(doc: Doc, nlp: Language) -> bool:
    """
    Tell a terse name the model read as a clause ("door handle on the right").

    It parses as a verb with a noun subject, like the vocative "robot go to the chair", but
    only its verb reads as the end of a name (`completed_name`). Such an expression asks for
    nothing; the paper's rule reads it.
    """
    root = roots(doc)[0]
    return (root.i > 0 and opens_with_misread_noun(doc, nlp)
            and completed_name(doc[:root.i], nlp).end > root.i)


def with_articles(doc: Doc, nlp: Language) -> Doc:
    """
    Parse the text again with "the" for each demonstrative before a word.

    The small model reads "hand me that wrench" as a clause ("that" wrenches); with "the" the
    same words name the wrench. Tokens stay one for one, so spans map back to the input.
    """
    words = [('the' if t.lower_ in DEMONSTRATIVES and t.i + 1 < len(doc) else t.text)
             + t.whitespace_ for t in doc]
    reparsed = nlp(''.join(words))
    return reparsed if len(reparsed) == len(doc) else doc


def request_target(doc: Doc) -> Optional[Token]:
    """
    Return the object a command or question is about, or None.

    Sentences are tried from the last one back, so a trailing "thanks" or a leading
    "hello robot." does not hide the request. A request whose object is a pronoun ends the
    search: what it refers to was named before, not asked for ("go to the living room. there
    is a remote on the sofa. bring it here": see `topic_before`).
    """
    for root in reversed(roots(doc)):
        if not is_request(root):
            continue
        target = find_target(root)
        if target is not None or has_pronoun_object(root):
            return target
    return None


def has_request(doc: Doc) -> bool:
    """Tell whether some sentence is a command or question, even one naming no object."""
    return any(map(is_request, roots(doc)))


def is_request(root: Token) -> bool:
    """
    Tell commands and questions from plain expressions whose ROOT happens to be a verb.

    Imperatives are base-form verbs; "the red mug left of the laptop" (past tense, a noun
    subject) and "woman sitting" stay with the paper's rule. A present-tense verb counts when
    its subject is "I", "we" or "you" ("I want the red apple"), or a singular noun it cannot
    agree with, which is then a vocative ("robot go to the chair").
    """
    if is_copula(root) or asked_subject(root) is not None:
        return True
    if root.pos_ != 'VERB':
        return False
    subjects = [c for c in root.children if c.dep_ in SUBJECT_DEPS]
    # A subjectless "put" or "set" the model read as past tense is the imperative it is.
    imperative = root.tag_ == 'VB' or (not subjects and root.lower_ in COMMAND_VERBS)
    return imperative or any(
        s.lower_ in REQUEST_SUBJECTS or (root.tag_ == 'VBP' and is_vocative(s)) for s in subjects)


def is_vocative(subject: Token) -> bool:
    """
    Tell a name the robot is called by ("robot go to the chair") from a plain subject.

    One is called without an article: "the paper towel roll next to the sink" is a name
    whose last word the model read as a verb, not a towel told to roll.
    """
    return subject.tag_ in SINGULAR_NOUN_TAGS and not has_determiner(subject)


def find_target(root: Token) -> Optional[Token]:
    """
    Find the object the request is about, trying each kind of object over all its clauses.

    A direct object wins over a prepositional one even in another clause ("go to the kitchen
    and get the cup"); the subject of a participle comes in between ("find the dog sitting on
    the couch"). Of several steps, the last one that names its object says what the robot
    ends up handling ("open the drawer and take out the spoon"); a step whose object only
    refers back ("find the remote and hand it to me") and a purpose clause ("take the sponge
    to wipe the table") name no new target.
    """
    verbs = sorted((verb for verb in clause_verbs(root) if not is_purpose(verb)),
                   key=lambda verb: (clause_rank(verb), verb.i))
    for finder in (sought_object, asked_owner, direct_object, asked_subject,
                   participle_subject, prepositional_object):
        targets = [t for t in map(finder, verbs) if t is not None]
        if targets:
            return targets[0] if finder is participle_subject else targets[-1]
    return (next(filter(None, map(direct_object, step_clause_verbs(root))), None)
            or next(filter(None, map(possessed_object, verbs)), None))


def clause_rank(verb: Token) -> int:
    """
    Order clauses so that the one asking for the object comes last.

    What was told ("I spilled my drink, can you bring me a sponge") comes first, then what
    the speaker wants ("bring me a cup, I want coffee"), then the steps, in the order said.
    """
    if is_narration(verb):
        return 0
    return 1 if is_wish(verb) else 2


def is_wish(verb: Token) -> bool:
    """Tell a clause of the speaker's want or need ("I want coffee", "we need to clean it")."""
    while True:
        subjects = [c for c in verb.children if c.dep_ in SUBJECT_DEPS]
        if subjects or verb.dep_ != 'xcomp':
            return any(s.lower_ in SPEAKER_SUBJECTS for s in subjects)
        verb = verb.head


def is_narration(verb: Token) -> bool:
    """
    Tell a clause that tells how things are ("[I dropped my keys], can you find them").

    It has a subject of its own that asks nothing: a past event, or a present one of
    something other than the speaker or the robot ("[the baby is asleep], so ...").
    """
    subjects = [c for c in verb.children if c.dep_ in SUBJECT_DEPS]
    return bool(subjects) and (verb.tag_ == 'VBD' or not any(
        s.lower_ in REQUEST_SUBJECTS or is_wh(s) for s in subjects))


def step_clause_verbs(root: Token) -> Iterator[Token]:
    """
    Yield the verbs of "after / before / once [picking up the spoon], put it in the sink".

    Only asked when the main clause names no object of its own: its pronoun then refers
    to the object of the step before.
    """
    for child in root.children:
        if child.dep_ == 'prep':
            yield from (c for c in child.children if c.dep_ == 'pcomp' and c.pos_ == 'VERB')


def is_purpose(verb: Token) -> bool:
    """Tell "[to wipe the table]" after a verb that has its own object from a request."""
    if verb.dep_ not in ('advcl', 'xcomp') or not any(
            c.dep_ == 'aux' and c.lower_ == 'to' for c in verb.children):
        return False
    return direct_object(verb.head) is not None


def clause_verbs(root: Token) -> Iterator[Token]:
    """Yield ROOT, then the verbs of the clauses it governs, in reading order."""
    yield root
    for child in root.children:
        if child.dep_ in COMPLEMENT_DEPS and child.pos_ in ('VERB', 'AUX'):
            yield from clause_verbs(child)
        elif child.dep_ == 'acomp':  # "make sure [to take the keys]"
            for verb in child.children:
                if verb.dep_ == 'xcomp' and verb.pos_ == 'VERB':
                    yield from clause_verbs(verb)


def direct_object(verb: Token) -> Optional[Token]:
    """
    Return the verb's nameable object, subject of a copula, or mis-attached noun.

    Candidates asked about ("which one is the red block") yield to the ones that name the
    object outright.
    """
    deps = OBJECT_DEPS | SUBJECT_DEPS if is_copula(verb) else OBJECT_DEPS
    given = given_object(verb)
    if given is not None:
        return given
    named_before = first_prepositional_object(verb)
    candidates = [c for c in verb.rights if c.dep_ in deps or (
        c.dep_ in MISPARSED_OBJECT_DEPS and c.pos_ in ('NOUN', 'PROPN')
        and (named_before is None or c.i < named_before.i))]
    candidates += [c for c in verb.lefts if c.dep_ in deps]
    candidates = [c.doc[c.i - 1] if is_trailing_look(c) else c for c in candidates]
    candidates = [c for c in candidates
                  if names_object(c) and not refers_back(c) and not is_step_goal(c, verb)]
    # "which bottle is the tallest": a bare superlative says what is asked, the subject names it.
    candidates.sort(key=lambda c: (c.tag_ in DESCRIBING_TAGS, is_wh(c), c.i))
    return candidates[0] if candidates else None


def is_step_goal(noun: Token, verb: Token) -> bool:
    """
    Tell a later step's destination that the model read as its object ("and put in bowl").

    "Pick up the apple and put in the bowl" leaves the apple unsaid in the second step: what
    was just taken is what is placed, and the bowl is where it goes. After another first
    step only a terse phrase is a place ("open the drawer and put in the spoon" puts the
    spoon; "... and put in drawer" is a place).
    """
    if verb.dep_ != 'conj' or verb.lower_ not in PLACEMENT_VERBS:
        return False
    return (not has_determiner(noun) or verb.head.lower_ in TAKING_VERBS) and any(
        c.dep_ == 'prt' and c.i < noun.i and c.lower_ in GOAL_PARTICLES for c in verb.children)


def has_determiner(noun: Token) -> bool:
    """Tell a noun opened by an article or possessive ("the salt", "her toy") from a bare one."""
    return any(c.dep_ in ('det', 'poss') for c in noun.children)


def given_object(verb: Token) -> Optional[Token]:
    """
    Return the second of two objects in a row ("pass John [the salt]", "hand the baby [her toy]").

    The model reads the recipient as the first object; the second is what is handed over, and
    its possessive points at the recipient, not back at an earlier step.
    """
    objects = [c for c in verb.rights if c.dep_ in ('dobj', 'npadvmod')]
    if len(objects) == 1 and objects[0].dep_ == 'dobj':  # or as its apposition: "get Mary the box"
        objects += [c for c in objects[0].rights if c.dep_ == 'appos']
    if len(objects) != 2 or objects[0].dep_ != 'dobj':
        return None
    recipient, given = objects
    # "the blue one, not the red one" and "the cup and the plate" are one object, then another.
    joined = any(t.is_punct or t.dep_ in ('cc', 'neg')
                 for t in given.doc[recipient.i + 1:given.i])
    return given if has_determiner(given) and not joined and names_object(given) else None


def first_prepositional_object(verb: Token) -> Optional[Token]:
    """
    Return the first object of a preposition on the verb ("looking [for] the cereal box").

    A noun the model hangs on the verb after it is a misparse of that object's phrase
    ("looking for the cereal box behind the milk carton": "carton" as npadvmod).
    """
    return next((o for prep in verb.rights if prep.dep_ == 'prep'
                 for o in named_objects(prep)), None)


def named_objects(preposition: Token) -> list[Token]:
    """Return the objects of a preposition that name something (not "it" or "me")."""
    return [o for o in preposition.children if o.dep_ == 'pobj' and names_object(o)]


def sought_object(verb: Token) -> Optional[Token]:
    """
    Return what a search is for ("search the drawer for a screwdriver": the screwdriver).

    The model may hang the "for" on the place ("look in the drawer [for the keys]").
    """
    if verb.lower_ not in SEARCH_VERBS:
        return None
    return next((o for prep in verb.subtree if prep.lower_ == 'for' and prep.i > verb.i
                 for o in named_objects(prep)), None)


def asked_subject(verb: Token) -> Optional[Token]:
    """
    Return the subject a yes/no question asks about ("is the coffee maker turned on").

    The sentence opens with its auxiliary and the subject follows: the verb says what is
    asked of the subject ("are the lights switched off", "was the red cup moved").
    """
    opening = verb.sent[0]
    if opening.pos_ != 'AUX' or opening.i == verb.i:
        return None
    return next((c for c in verb.lefts if c.dep_ in SUBJECT_DEPS and c.i > opening.i
                 and names_object(c)), None)


def asked_owner(verb: Token) -> Optional[Token]:
    """Return the subject of "does the bottle on the left have a cap": what is asked about."""
    return asked_subject(verb) if verb.lemma_ in HAVING_VERBS else None


def participle_subject(verb: Token) -> Optional[Token]:
    """Return the nameable subject of a participle clause ("the dog [sitting on the couch]")."""
    if verb.tag_ not in PARTICIPLE_TAGS:
        return None
    return next((c for c in verb.lefts if c.dep_ in SUBJECT_DEPS and names_object(c)), None)


def prepositional_object(verb: Token) -> Optional[Token]:
    """
    Return the object of "point at X", "move to X" or "go next to X".

    A verb whose direct object is a pronoun ("put it in the bowl") has none, since X is where
    the pronoun's referent goes; nor has a copula ("what is on the left of the bowl" is not
    about the left).
    """
    if is_copula(verb) or has_pronoun_object(verb):
        return None
    for child in verb.rights:
        if child.dep_ not in MODIFIER_DEPS | {'prt'}:
            continue
        # A particle with an object of its own is a misparsed preposition ("rinse off the mug").
        for prep in [child, *child.children]:
            objects = named_objects(prep)
            if prep.dep_ in ('prep', 'prt') and objects:
                return objects[0]
    return None


def refers_back(token: Token) -> bool:
    """Tell "its colour" or "their lids": a property of something named before, not a target."""
    return any(c.dep_ == 'poss' and c.lower_ in BACK_REFERENCES for c in token.children)


def possessed_object(verb: Token) -> Optional[Token]:
    """Return "its bowl" in "give the dog its bowl": only asked when nothing else is named."""
    return next((c for c in verb.children if c.dep_ in OBJECT_DEPS and refers_back(c)), None)


def has_pronoun_object(verb: Token) -> bool:
    """Detect "put it in ...": a direct object that is a pronoun other than the recipient."""
    return any(c.dep_ == 'dobj' and c.pos_ == 'PRON' and c.lower_ not in RECIPIENTS
               for c in verb.children)


def target_spans(target: Token) -> Tuple[Tuple[Span, ...], Span]:
    """
    Return the referring-expression spans and the noun-phrase span for a request's target.

    Some targets need their clause to say which object is meant: the wh-subject of a copula
    ("which cup is red") and the subject of a participle ("find the dog sitting on the couch").
    A location fronted before the verb ("on the left is a red mug") follows the object's own
    span, so the expression reads "a red mug on the left".
    """
    if needs_clause(target):
        spans = (subtree_span(target.head),)
    else:
        spans = (without_question_words(referring_span(target)), *fronted_locations(target))
    noun = chunk_of(target)
    if noun is None and target.pos_ in ('NOUN', 'PROPN'):
        # Outside spaCy's noun chunks (a misparsed "ccomp") a noun still ends its own phrase.
        noun = target.doc[target.left_edge.i:target.i + 1]
    return spans, without_question_words(counted_noun(noun if noun is not None else spans[0]))


def counted_noun(noun: Span) -> Span:
    """
    Name what a quantity counts or a rank picks from: "the pair of scissors" -> "scissors".

    "The leftmost of the three cans" and "the second of the bottles" name cans and bottles;
    the words that pick one of them are the spatial stage's to read. Said of one thing, such
    a word names a part of it ("the bottom of the cake").
    """
    head = noun.root
    picking = picks_one(head)
    if head.lower_ not in QUANTITY_NOUNS and not picking:
        return noun
    counted = next((o for prep in noun.root.children if prep.lower_ == 'of'
                    for o in named_objects(prep) if not picking or o.tag_ in PLURAL_TAGS), None)
    chunk = chunk_of(counted) if counted is not None else None
    return chunk if chunk is not None else noun


def picks_one(token: Token) -> bool:
    """Tell a word that picks one of several: a superlative, side or ordinal word, or "one"."""
    return (token.tag_ in ('JJS', 'RBS') or token.lower_ in SIDES or token.lower_ in ORDINALS
            or token.lower_ in ONE_WORDS)


def needs_clause(target: Token) -> bool:
    """
    Tell whether the target is a copula's wh-subject or a participle's subject.

    A subject after its verb is no participle's: "behind the door hangs a coat".
    """
    if is_copula(target.head):
        return is_wh(target)
    return (target.dep_ in SUBJECT_DEPS and target.i < target.head.i
            and asked_subject(target.head) is None)


def referring_span(target: Token) -> Span:
    """
    Return the target's subtree, extended by the descriptions that follow it.

    The parser often hangs "on the left" or "next to the sink" on the verb instead of the
    object; they still pick out which object is meant, except after a direct object where
    they state a destination ("bring the cup to me", "put the apple next to the bowl").
    A particle or an adjective the question ends on ("is the lamp by the bed [on]", "is the
    second bottle from the left [empty]") asks about the object and is left out.
    """
    span = subtree_span(target)
    start, end = span.start, span.end
    verb = target.head if target.dep_ != 'pobj' else target.head.head
    for child in verb.rights:
        if child.left_edge.i == end and (describes_target(child, target, verb)
                                         or is_split_noun(child) or is_stance(child)
                                         or is_trailing_look(child)):
            end = child.right_edge.i + 1
    if is_placement(target, verb) and not any(map(is_locative, verb.rights)):
        end = misattached_goal_start(target)
    end = next((t.i - 1 for t in target.doc[target.i + 1:end] if is_misread_step(t)), end)
    while end - 1 > target.i and (is_bare_particle(target.doc[end - 1])
                                  or is_asked_state(target.doc[end - 1])
                                  or is_dangling_negation(target.doc[end - 1])):
        end -= 1
    return target.doc[start:end]


def without_asked_state(span: Span, nlp: Language) -> Span:
    """
    Drop the state a yes/no question asks about where the model made it a side's noun.

    "Is the mug on the left clean" parses "the left clean" as a place; said of "it", the
    same model tags "clean" as the adjective it is, and "shelf" ("on the left shelf") as a
    noun.
    """
    last = span[-1]
    before = span.doc[last.i - 1] if last.i > span.start else None
    if (before is None or before.lower_ not in SIDE_WORDS or before.head.i != last.i
            or not ends_yes_no_question(last)):
        return span
    said = nlp(f'{STATE_FRAME} {last.lower_}')
    return span[:-1] if said[-1].tag_ in STATE_TAGS else span


def without_question_words(span: Span) -> Span:
    """Drop what asks from the front of a phrase: "how many apples" -> "apples"."""
    start = span.start
    while start < span.end - 1 and asks(span.doc[start]):
        start += 1
    return span.doc[start:span.end]


def asks(token: Token) -> bool:
    """Tell a question word, or a modifier it asks with ("many" of "how many")."""
    return token.tag_ in WH_TAGS or (token.dep_ in ('amod', 'advmod', 'det') and any(
        c.tag_ in WH_TAGS for c in token.children))


def fronted_locations(target: Token) -> list[Span]:
    """
    Return the locations said apart from the object, to follow its own span.

    They come before the verb when the object comes after it ("on the left is a red mug"),
    or after the copula of a statement about the object ("the cup is on the left").
    """
    verb = target.head
    if target.i < verb.i:
        stated = is_copula(verb) and target.dep_ in SUBJECT_DEPS and not asks(verb.sent[0])
        return [subtree_span(child) for child in verb.rights if stated and is_locative(child)]
    return [subtree_span(child) for child in verb.lefts if is_locative(child)]


def fronted_target(root: Token) -> Optional[Token]:
    """
    Return the object of "next to the sink stands the kettle" or "behind it there is a box".

    The sentence opens with a location, and the object it places there follows the verb (as
    its subject, object or attribute, the parse varies); no subject precedes the verb but an
    expletive "there".
    """
    if root.pos_ not in ('VERB', 'AUX') or not any(map(is_locative, root.lefts)):
        return None
    if any(c.dep_ in SUBJECT_DEPS and c.pos_ != 'PRON' for c in root.lefts):
        return None
    after = [c for c in root.rights
             if c.dep_ in OBJECT_DEPS | SUBJECT_DEPS and names_object(c)]
    return after[0] if after else None


def completed_name(span: Span, nlp: Language) -> Span:
    """
    Extend a noun phrase over the words of its name that the parser cut off.

    "grab the fire extinguisher" parses with "extinguisher" as an adverb of "grab", "the door
    handle" with "handle" as a verb, the terse "cutting board on the right" with "cutting" as
    the verb whose object is "board". Up to CUT_NAME_WORDS words right after the phrase that
    open no clause of their own, and such an opening gerund, are read again as the subject
    of NAME_PREDICATE, where the same model tags nouns well; those it then tags as nouns
    belong to the name.
    """
    doc, end = span.doc, span.end
    tail = []
    while (end + len(tail) < len(doc) and len(tail) < CUT_NAME_WORDS
           and may_end_name(doc[end + len(tail)], span)):
        tail.append(doc[end + len(tail)])
    lead = int(span.start == 1 and doc[0].tag_ == 'VBG' and doc[0].dep_ == 'ROOT')
    if not (tail or lead) or span.root.pos_ not in ('NOUN', 'PROPN'):
        return span
    tags = name_tags(doc[span.start - lead:end + len(tail)], nlp)
    start = span.start - lead * (tags[0] in NOUN_TAGS)
    named = next((k for k, tag in enumerate(tags[len(tags) - len(tail):])
                  if tag not in NOUN_TAGS), len(tail))
    return doc[start:end + named]


def name_tags(span: Span, nlp: Language) -> list[str]:
    """Tag the span's words as the subject of NAME_PREDICATE ('' where tokens differ)."""
    cue = [] if span[0].pos_ == 'DET' else [NOUN_CUE]
    framed = nlp(' '.join([*cue, span.text, *NAME_PREDICATE]))[len(cue):-len(NAME_PREDICATE)]
    return [word.tag_ if word.text == token.text else '' for word, token in zip(framed, span)]


def may_end_name(token: Token, span: Span) -> bool:
    """
    Tell a word that may be the cut-off end of the name before it: nothing else on its left.

    A question may lean on it ("where is the egg [carton]"). A verb whose subject is the name
    ends it only as the whole sentence ("the car [keys]"): under another verb it says what
    the object does ("watch the ball roll"). A position word says where the object is ("head
    bottom [right]"), an ordinal which one it is ("the can [second] from the left").
    """
    return (token.pos_ in CUT_NAME_POS and token.is_alpha
            and token.lower_ not in SIDES and token.lower_ not in ORDINALS
            and all(span.start <= c.i or asks_with(c) for c in token.lefts)
            and (token.dep_ == 'ROOT' or not any(c.dep_ in SUBJECT_DEPS for c in token.lefts)))


def asks_with(token: Token) -> bool:
    """Tell a question word or auxiliary ("where", "is" of "where is the cup")."""
    return token.tag_ in WH_TAGS or token.pos_ == 'AUX'


def is_stance(token: Token) -> bool:
    """
    Tell where the object stands, in a participle the model hung on the verb.

    "grab the mug [sitting beside the coffee machine]", "take the towel [hanging on the oven
    door]": no subject, no object, and a place that is not a goal ("walking to the door").
    """
    deps = {c.dep_ for c in token.children}
    return (token.tag_ == 'VBG' and not deps & (SUBJECT_DEPS | OBJECT_DEPS)
            and any(c.dep_ == 'prep' and c.lower_ not in GOAL_PREPOSITIONS
                    for c in token.children))


def is_trailing_look(token: Token) -> bool:
    """
    Tell a colour or size said after its object in terse speech ("give me cup [red]").

    The model reads it as a second object of the verb, after the noun it describes.
    """
    before = token.doc[token.i - 1] if token.i > 0 else None
    return (token.lower_ in COLOURS | SIZE_ADJECTIVES.keys()
            and token.n_lefts + token.n_rights == 0 and token.dep_ in OBJECT_DEPS | {'dative'}
            and before is not None and before.pos_ in ('NOUN', 'PROPN')
            and before.head == token.head)


def is_split_noun(token: Token) -> bool:
    """Tell the last noun of a phrase the model cut off and hung on the verb ("milk [carton]")."""
    return token.dep_ in MISPARSED_OBJECT_DEPS and token.pos_ == 'NOUN'


def is_dangling_negation(token: Token) -> bool:
    """Tell the "not" the model hangs on the object when what is not meant comes after."""
    return token.dep_ == 'neg' and token.head.i < token.i


def is_bare_particle(token: Token) -> bool:
    """Tell a preposition or particle with nothing after it ("on" in "is the lamp on")."""
    return token.dep_ in ('prep', 'prt') and not list(token.children) or token.is_punct


def is_asked_state(token: Token) -> bool:
    """Tell the adjective a yes/no question ends on ("is the cup left of the bowl [full]")."""
    return token.pos_ == 'ADJ' and token.lower_ not in SIDES and ends_yes_no_question(token)


def ends_yes_no_question(token: Token) -> bool:
    """Tell the last word of a yes/no question, where what is asked of its subject goes."""
    sentence = token.sent
    return (sentence[0].pos_ == 'AUX'
            and all(t.is_punct for t in token.doc[token.i + 1:sentence.end]))


def describes_target(modifier: Token, target: Token, verb: Token) -> bool:
    """
    Tell whether a phrase after the target describes it rather than its destination.

    "To the left (of the laptop)" is where the object is, unless a verb of placing or moving
    takes it there; "to the kitchen" is where it goes. A verb of placing has its destination
    last: "put the apple on the left in the bowl" still says which apple.
    """
    if not is_locative(modifier) or target.dep_ != 'dobj':
        return is_locative(modifier)
    if verb.lower_ in PLACEMENT_VERBS:
        last = [child for child in verb.rights if is_locative(child)][-1]
        return modifier.lower_ not in GOAL_PREPOSITIONS and modifier != last
    if verb.lower_ in MOTION_VERBS and modifier.lower_ in GOAL_PREPOSITIONS:
        return False
    return modifier.lower_ not in GOAL_PREPOSITIONS or any(
        c.dep_ == 'pobj' and c.lower_ in SIDE_WORDS for c in modifier.children)


def is_placement(target: Token, verb: Token) -> bool:
    """Tell whether the target is the direct object of a caused-motion verb ("put X in Y")."""
    return target.dep_ == 'dobj' and verb.lower_ in PLACEMENT_VERBS


def misattached_goal_start(target: Token) -> int:
    """
    Return where the object's phrase ends once a trailing destination is cut off.

    A caused-motion verb needs a destination; when the verb has none of its own, the parser
    has hung it on the object ("place the red cube [in the box]"), and the object's last
    prepositional phrase is that destination, not a description.
    """
    last = next(iter(reversed(list(target.rights))), None)
    end = target.right_edge.i + 1
    if last is None or last.dep_ != 'prep' or last.right_edge.i + 1 != end:
        return end
    return last.left_edge.i


def is_misread_step(token: Token) -> bool:
    """
    Tell a next step's verb the model read as a joined noun ("from drawer and [place] on counter").

    Terse commands drop the articles that would have told the model; a bare verb of placing
    or fetching after "and" starts a step, "the cup and saucer" stays one phrase.
    """
    return (token.dep_ == 'conj' and token.pos_ in ('NOUN', 'PROPN')
            and token.lower_ in PLACEMENT_VERBS | COMMAND_VERBS
            and token.i > 0 and token.doc[token.i - 1].dep_ == 'cc'
            and not any(c.dep_ in ('det', 'poss', 'amod', 'compound') for c in token.children))


def is_locative(modifier: Token) -> bool:
    """Tell whether a modifier is a prepositional phrase ("on the left", "next to the sink")."""
    if modifier.dep_ == 'advmod':
        return any(c.dep_ == 'prep' for c in modifier.children)
    return modifier.dep_ == 'prep'


def is_copula(token: Token) -> bool:
    """
    Tell a copula ("where is the remote", "is there a mug") from a helping auxiliary.

    The small model tags a contracted "'s" as a verb ("there's a ball under the couch").
    """
    return (token.pos_ == 'AUX' or token.lemma_ == 'be') and token.dep_ != 'aux'


def governs_object(token: Token) -> bool:
    """Tell a verb the model read as a noun by its object and particle ("hand over the duck")."""
    deps = {c.dep_ for c in token.children}
    return token.pos_ == 'NOUN' and {'dobj', 'prt'} <= deps


def is_wh(token: Token) -> bool:
    """Tell whether the speaker asks about this nominal ("which one", "what color")."""
    return token.tag_ in WH_TAGS or any(c.tag_ in WH_TAGS for c in token.lefts)


def names_object(token: Token) -> bool:
    """
    Tell whether the token can head a phrase naming an object (not "it", "me", "that").

    "Something to drink" and "anything blue" describe what is wanted without a kind.
    """
    return (token.pos_ in NAMING_POS and token.tag_ not in WH_TAGS) or (
        token.lower_ in INDEFINITE_NOUNS)


def roots(doc: Doc) -> List[Token]:
    """Return every token that is its own head: one per sentence spaCy finds."""
    return [token for token in doc if token.head.i == token.i]


def chunk_of(token: Token) -> Optional[Span]:
    """Return the noun chunk that contains `token`, if any."""
    return next((c for c in token.doc.noun_chunks if c.start <= token.i < c.end), None)


def subtree_span(token: Token) -> Span:
    """Return the contiguous span a token's subtree covers."""
    return token.doc[token.left_edge.i:token.right_edge.i + 1]

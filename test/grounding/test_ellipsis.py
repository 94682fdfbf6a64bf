"""Tests for phrases said in full with the kind they leave out ("the left one")."""

import pytest

from zsris_ros.grounding.ellipsis import described_kind, in_full
from zsris_ros.grounding.phrase import PhraseParser


@pytest.fixture(scope='module')
def nlp():
    return PhraseParser().nlp


@pytest.mark.parametrize('reply, asked, said', [
    # The generic noun gives way to the kind asked about, with its describing words.
    ('the left one', 'the red mug', 'the left red mug'),
    ('the one behind the bowl', 'my cup', 'the cup behind the bowl'),
    ('the second one from the right', 'the blue bottles',
     'the second blue bottles from the right'),
    ('that thing', 'the big box', 'that big box'),
    ('the nearer one', 'a knife', 'the nearer knife'),
    # A reply with a look of its own takes the kind alone.
    ('the blue one', 'the red salt shaker', 'the blue salt shaker'),
    ('the small one', 'the big box', 'the small box'),
    # Without one, the reply follows the noun phrase, its own determiners dropped.
    ('on the left', 'the red mug', 'the red mug on the left'),
    ('left', 'the red mug', 'the red mug left'),
    ('the second from the left', 'a blue bottle', 'a blue bottle second from the left'),
    ('the bigger', 'the box', 'the box bigger'),
    ('closer to you', 'the apple', 'the apple closer to you'),
])
def test_a_reply_is_said_in_full_with_the_noun_phrase_asked_about(nlp, reply, asked, said):
    assert in_full(reply, asked, nlp) == said


def test_a_reply_of_nothing_but_determiners_is_the_noun_phrase_itself(nlp):
    assert in_full('the', 'the red mug', nlp) == 'the red mug'


@pytest.mark.parametrize('noun_phrase, kind', [
    ('the red mug', 'red mug'), ('all the cups', 'cups'), ('my keys', 'keys'),
    ('mug', 'mug'), ('the', 'the'),
])
def test_the_kind_asked_about_loses_only_its_opening_determiners(nlp, noun_phrase, kind):
    assert described_kind(noun_phrase, nlp) == kind

"""Random text through the command path: parsing and CLIP text encoding never raise."""

from hypothesis import given, HealthCheck, settings, strategies as st
import torch

from zsris_ros.grounding.phrase import Phrase

TEXT = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec='utf-8'), min_size=1000, max_size=12000),
    st.lists(st.sampled_from(['pick', 'up', 'the', 'red', 'mug', 'on', 'left', 'please', '?',
                              'could', 'you', 'hand', 'me', 'it', 'and', '.', '\n', '🙂']),
             max_size=40).map(' '.join),
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=TEXT)
def test_any_text_parses_and_encodes(tiny_pipeline, text):
    phrase = tiny_pipeline.phrases.parse(text)
    assert isinstance(phrase, Phrase)
    if phrase.expression:
        assert phrase.noun_phrase and phrase.referring_expression
        with torch.inference_mode():
            feature = tiny_pipeline.text.mix(phrase.referring_expression, phrase.noun_phrase,
                                             0.5)
        assert torch.isfinite(feature).all()
    else:
        assert not text.strip() or not phrase.noun_phrase


CAN_TEXT = st.lists(st.sampled_from(['can', 'Can', 'CAN', 'the', 'soda', 'you', 'of', 'not',
                                     'pick', 'up', 'second', 'left', 'robot', 'lift', '.', '?']),
                    min_size=1, max_size=12).map(' '.join)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=CAN_TEXT)
def test_a_noun_parsed_in_the_place_of_can_never_shows(tiny_pipeline, text):
    """The stand-in noun is for the parser only: every output word is one of the input's."""
    phrase = tiny_pipeline.phrases.parse(text)
    written = text.split()
    for said in (phrase.referring_expression, phrase.noun_phrase):
        assert all(word in written for word in said.split()), (text, phrase)

"""GroundingPipeline end to end on tiny real-architecture models."""

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from zsris_ros.grounding import (GroundingConfig, GroundingPipeline, ImageInputError,
                                 ModelConfigError)
from zsris_ros.grounding.result import RANDOM_WEIGHTS_WARNING
from zsris_ros.image_io import read_rgb

TEXTS = ['the red mug on the left', 'pick up the blue box', 'where is the yellow ball']


@pytest.fixture(scope='module')
def image(sample_image):
    return read_rgb(str(sample_image))


def test_ground_many_matches_ground_one_by_one(tiny_pipeline, image):
    together = tiny_pipeline.ground_many(image, TEXTS)
    for text, result in zip(TEXTS, together):
        alone = tiny_pipeline.ground(image, text)
        assert result.status == alone.status == 'ok'
        assert result.score == pytest.approx(alone.score, abs=1e-5)
        assert np.array_equal(result.mask, alone.mask)
        assert result.warnings == [RANDOM_WEIGHTS_WARNING]


@pytest.fixture
def paper_method(tiny_pipeline):
    """Switch the tiny pipeline's spatial stage off: the paper's method exactly."""
    tiny_pipeline.update(spatial=False)
    yield tiny_pipeline
    tiny_pipeline.update(spatial=True)


def test_score_is_the_cosine_of_the_mixed_features(paper_method, image):
    """Recompute the winning score from the public encoders (doc/method.md, "Scoring")."""
    tiny_pipeline = paper_method
    config = tiny_pipeline.config
    result = tiny_pipeline.ground(image, 'the red mug on the left')
    masks = tiny_pipeline.proposer.propose(image, config)
    with torch.inference_mode():
        normalized = tiny_pipeline.visual.normalize(image)
        visual = tiny_pipeline.visual.encode(normalized, torch.from_numpy(masks), config.v,
                                             config.masking_block)
        text = (config.r * tiny_pipeline.text.encode('the red mug on the left')
                + (1 - config.r) * tiny_pipeline.text.encode('the red mug'))
        scores = F.cosine_similarity(visual, text[None], dim=-1).numpy()
    best = int(np.argmax(scores))
    assert result.score == pytest.approx(float(scores[best]), abs=1e-5)
    assert np.array_equal(result.mask, masks[best])
    runner_up = np.sort(scores)[-2]
    assert result.margin == pytest.approx(float(scores[best] - runner_up), abs=1e-5)


def test_threshold_answers_no_match(tiny_pipeline, image):
    tiny_pipeline.update(score_threshold=1.0)
    try:
        result = tiny_pipeline.ground(image, 'the mug')
    finally:
        tiny_pipeline.update(score_threshold=-1.0)
    assert result.status == 'no_match' and result.mask is None and result.score < 1.0


def test_no_proposals_when_every_mask_is_too_small(tiny_pipeline, image):
    tiny_pipeline.update(min_mask_area=10**8)
    try:
        result = tiny_pipeline.ground(image, 'the mug')
    finally:
        tiny_pipeline.update(min_mask_area=16)
    assert result.status == 'no_proposals' and result.num_proposals == 0


def test_empty_command_is_an_error_not_a_crash(tiny_pipeline, image):
    result = tiny_pipeline.ground(image, '   ')
    assert result.status == 'error' and result.message == 'empty command'


def test_bad_image_raises_a_clear_error(tiny_pipeline):
    with pytest.raises(ImageInputError, match='HxWx3 uint8'):
        tiny_pipeline.ground(np.zeros((4, 4), np.uint8), 'the mug')


def test_frames_over_max_frame_pixels_are_refused_before_proposing(tiny_pipeline, image,
                                                                   monkeypatch):
    def must_not_propose(frame, config, timings=None):
        raise AssertionError('an oversized frame reached the proposer')

    height, width = image.shape[:2]
    tiny_pipeline.update(max_frame_pixels=height * width - 1)
    monkeypatch.setattr(tiny_pipeline.proposer, 'propose', must_not_propose)
    try:
        with pytest.raises(ImageInputError, match=f'{width}x{height} .* max_frame_pixels'):
            tiny_pipeline.ground(image, 'the mug')
    finally:
        tiny_pipeline.update(max_frame_pixels=GroundingConfig().max_frame_pixels)


def test_update_validates_and_refuses_model_changes(tiny_pipeline):
    with pytest.raises(ModelConfigError, match='start-up'):
        tiny_pipeline.update(clip_model='ViT-B-32')
    with pytest.raises(ModelConfigError, match='vision depth'):
        tiny_pipeline.update(masking_block=4)
    with pytest.raises(ValueError):
        tiny_pipeline.update(v=2.0)
    assert tiny_pipeline.config.v == GroundingConfig(preset='tiny').v


def test_text_features_are_cached(tiny_pipeline):
    first = tiny_pipeline.text.encode('The Red Mug')
    assert tiny_pipeline.text.encode('the red mug') is first


def test_frame_cache_reuses_proposals_and_features(tiny_pipeline, image):
    first = tiny_pipeline.ground_many(image, ['the blue box'], frame_key=('cam', 1))[0]
    again = tiny_pipeline.ground_many(image, ['the red mug'], frame_key=('cam', 1))[0]
    assert again.timings_ms['proposals'] == again.timings_ms['visual'] == 0.0
    assert first.timings_ms['proposals'] > 0.0
    fresh = tiny_pipeline.ground(image, 'the red mug')
    assert again.score == pytest.approx(fresh.score, abs=1e-6)
    tiny_pipeline.update(v=0.5)
    try:
        changed = tiny_pipeline.ground_many(image, ['the red mug'], frame_key=('cam', 1))[0]
    finally:
        tiny_pipeline.update(v=GroundingConfig(preset='tiny').v)
    assert changed.timings_ms['visual'] > 0.0, 'a new v must not reuse cached features'


def test_cuda_out_of_memory_retries_once_with_half_batches(tiny_pipeline, image, monkeypatch):
    real_propose = tiny_pipeline.proposer.propose
    batches = []

    def propose_running_out_once(frame, config, timings=None):
        batches.append((config.points_per_batch, tiny_pipeline.visual.crop_batch))
        if len(batches) == 1:
            raise torch.cuda.OutOfMemoryError('CUDA out of memory (simulated)')
        return real_propose(frame, config, timings)

    monkeypatch.setattr(tiny_pipeline.proposer, 'propose', propose_running_out_once)
    result = tiny_pipeline.ground(image, 'the red mug')
    assert result.status == 'ok'
    full = tiny_pipeline.config.points_per_batch
    assert batches == [(full, 64), (full // 2, 32)]
    assert tiny_pipeline.visual.crop_batch == 64


def test_cuda_out_of_memory_twice_is_reported(tiny_pipeline, image, monkeypatch):
    def always_out_of_memory(frame, config, timings=None):
        raise torch.cuda.OutOfMemoryError('CUDA out of memory (simulated)')

    monkeypatch.setattr(tiny_pipeline.proposer, 'propose', always_out_of_memory)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        tiny_pipeline.ground(image, 'the red mug')


def test_frame_cache_keeps_only_the_newest_frames(tiny_pipeline, image):
    size = tiny_pipeline.config.frame_cache_size
    for frame in range(size + 2):
        tiny_pipeline.ground_many(image, ['the red mug'], frame_key=('evict', frame))
    newest = tiny_pipeline.ground_many(image, ['the red mug'], frame_key=('evict', size + 1))[0]
    assert newest.timings_ms['visual'] == 0.0
    evicted = tiny_pipeline.ground_many(image, ['the red mug'], frame_key=('evict', 0))[0]
    assert evicted.timings_ms['visual'] > 0.0, 'the oldest frame should have been evicted'
    assert len(tiny_pipeline._frames) <= size


def test_a_preprocessing_change_swaps_the_encoder_and_misses_the_cache(tiny_pipeline, image):
    before = tiny_pipeline.ground_many(image, ['the red mug'], frame_key=('prep', 1))[0]
    encoder = tiny_pipeline.visual
    tiny_pipeline.update(preprocessing='reference')
    try:
        reference = tiny_pipeline.ground_many(image, ['the red mug'], frame_key=('prep', 1))[0]
        assert tiny_pipeline.visual is not encoder
    finally:
        tiny_pipeline.update(preprocessing='clip')
    again = tiny_pipeline.ground_many(image, ['the red mug'], frame_key=('prep', 1))[0]
    assert reference.timings_ms['visual'] > 0.0
    assert reference.score != pytest.approx(before.score, abs=1e-6)
    assert again.score == pytest.approx(before.score, abs=1e-6)


def test_reconfigure_checks_before_changing_anything(tiny_pipeline):
    config = tiny_pipeline.config
    with pytest.raises(ModelConfigError, match='vision depth'):
        tiny_pipeline.reconfigure(config.model_copy(update={'masking_block': 50, 'v': 0.1}))
    assert tiny_pipeline.config is config


def test_expressions_without_location_words_take_the_papers_path(tiny_pipeline, image):
    texts = ['the red mug', 'pick up the blue box', 'where is the yellow ball']
    with_stage = tiny_pipeline.ground_many(image, texts)
    tiny_pipeline.update(spatial=False)
    try:
        paper = tiny_pipeline.ground_many(image, texts)
    finally:
        tiny_pipeline.update(spatial=True)
    for on, off in zip(with_stage, paper, strict=True):
        assert (on.score, on.margin) == (off.score, off.margin)
        assert on.status in (off.status, 'ambiguous'), 'the stage may only add a question'
        assert np.array_equal(on.mask, off.mask)
        assert on.reading is not None and off.reading is None


def test_a_spatial_expression_says_how_it_was_read(tiny_pipeline, image):
    result = tiny_pipeline.ground(image, 'pick up the cup left of the bowl')
    assert result.reading['target'] == 'the cup'
    assert [r['kind'] for r in result.reading['relations']] == ['left_of']
    assert result.status in ('ok', 'ambiguous', 'no_match'), result
    if result.status != 'no_match':
        assert set(result.anchors) == {'the bowl'}
    assert 'spatial' in result.timings_ms


@pytest.fixture(scope='module')
def twin_circles() -> np.ndarray:
    """Two equal red circles left and right of a blue square, on a plain table (toy world)."""
    rng = np.random.default_rng(0)
    table = np.full((240, 320, 3), (176, 134, 92), float) + rng.normal(0, 4, (240, 320, 3))
    image = np.clip(table, 0, 255).astype(np.uint8)
    for x in (90, 230):
        cv2.circle(image, (x, 130), 24, (210, 35, 35), -1)
    cv2.rectangle(image, (140, 40), (180, 80), (35, 80, 215), -1)
    return image


def test_an_expression_that_fits_two_objects_is_answered_with_a_question(twin_circles):
    pipeline = GroundingPipeline.from_config(GroundingConfig(preset='toy'))
    plain, command, left, square = pipeline.ground_many(
        twin_circles, ['the red circle', 'pick up the red circle', 'the red circle on the left',
                       'the blue square'])
    for asked in (plain, command):
        assert asked.status == 'ambiguous', asked
        lefts = sorted(c['centroid'][0] for c in asked.candidates)
        assert lefts == pytest.approx([90, 230], abs=2)
        assert asked.question == ('Do you mean the red circle further left or the one further '
                                  'right?')
    assert (left.status, left.centroid[0]) == ('ok', pytest.approx(90, abs=2))
    assert square.status == 'ok' and not square.candidates


def test_a_short_reply_to_the_question_picks_the_candidate_it_names(twin_circles):
    pipeline = GroundingPipeline.from_config(GroundingConfig(preset='toy'))
    asked = pipeline.ground(twin_circles, 'the red circle')
    assert asked.status == 'ambiguous'
    said = pipeline.reply('the one on the right please', asked.noun_phrase)
    assert said == 'the red circle on the right'
    answer = pipeline.ground(twin_circles, said)
    assert (answer.status, answer.centroid[0]) == ('ok', pytest.approx(230, abs=2))
    assert pipeline.reply('pick up the blue square', asked.noun_phrase) is None
    assert pipeline.reply('', asked.noun_phrase) is None

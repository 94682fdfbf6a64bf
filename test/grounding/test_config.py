"""The settings model: presets, validation, and the CLI generated from it."""

from pydantic import ValidationError
import pytest

from zsris_ros.grounding.config import (fields_where, GroundingConfig, restart_fields,
                                        setting_kind)
from zsris_ros.tools.cli import build_parser, config_from_args


def test_defaults_are_the_papers_refcoco_setting():
    config = GroundingConfig()
    assert (config.v, config.r, config.masking_block) == (0.95, 0.5, 9)
    assert (config.clip_model, config.clip_pretrained, config.sam_model) == \
        ('ViT-B-32', 'openai', 'vit_b')


def test_preset_fills_only_what_was_not_given():
    config = GroundingConfig(preset='tiny', points_per_side=6)
    assert config.clip_model == 'zsris-tiny' and config.points_per_side == 6
    assert config.answers_are_meaningless


@pytest.mark.parametrize('bad', [{'v': -0.1}, {'r': 1.01}, {'points_per_side': 0},
                                 {'device': 'tpu'}, {'unknown': 1}])
def test_invalid_settings_are_rejected(bad):
    with pytest.raises(ValidationError):
        GroundingConfig(**bad)


def test_model_choices_need_a_restart():
    assert {'clip_model', 'sam_model', 'device', 'preset'} <= restart_fields()
    assert not {'v', 'r', 'score_threshold', 'points_per_side'} & restart_fields()


def test_cli_has_an_option_per_setting_and_passes_only_given_ones():
    args = build_parser().parse_args(['ground', '--image', 'x.png', '--text', 't',
                                      '--preset', 'tiny', '--v', '0.85',
                                      '--masking-block', '1'])
    config = config_from_args(args)
    assert (config.v, config.masking_block, config.clip_model) == (0.85, 1, 'zsris-tiny')


def test_every_setting_says_what_it_is():
    for name, field in GroundingConfig.model_fields.items():
        assert set(setting_kind(field)) == {'restart', 'frame_key', 'changes_answers'}, name


def test_the_frame_cache_key_follows_every_frame_setting():
    base = GroundingConfig(preset='tiny')
    frame_settings = fields_where(GroundingConfig, 'frame_key')
    assert {'points_per_side', 'v', 'masking_block', 'preprocessing', 'felz_scale'} <= (
        frame_settings)
    for name in GroundingConfig.model_fields:
        field = GroundingConfig.model_fields[name]
        if name in restart_fields() or field.annotation not in (int, float):
            continue
        low = next(item.ge for item in field.metadata if hasattr(item, 'ge'))
        changed = base.model_copy(update={name: field.annotation(low)})
        if getattr(changed, name) == getattr(base, name):
            changed = base.model_copy(update={name: field.annotation(low + 1)})
        assert (changed.frame_key() != base.frame_key()) == (name in frame_settings), name


def test_only_tiny_or_random_weights_warn_that_answers_are_meaningless():
    assert GroundingConfig(preset='tiny').answers_are_meaningless
    assert GroundingConfig(clip_pretrained='none').answers_are_meaningless
    # The toy preset's CLIP is trained and its proposals need no SAM weights.
    assert not GroundingConfig(preset='toy').answers_are_meaningless
    assert not GroundingConfig().answers_are_meaningless

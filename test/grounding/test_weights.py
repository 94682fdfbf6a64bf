"""Where weights are looked for: a weights_dir given for CLIP is used, offline."""

from zsris_ros.grounding.weights import clip_checkpoint_path, HF_DEFAULT_FILE


def test_clip_weights_already_in_weights_dir_are_found_without_the_network(tmp_path):
    # The Hugging Face cache layout open_clip downloads into.
    repo = tmp_path / 'models--timm--vit_base_patch32_clip_224.openai'
    snapshot = repo / 'snapshots' / '0123abcd'
    snapshot.mkdir(parents=True)
    (repo / 'refs').mkdir()
    (repo / 'refs' / 'main').write_text('0123abcd')
    weights = snapshot / HF_DEFAULT_FILE
    weights.write_bytes(b'weights')
    assert clip_checkpoint_path('ViT-B-32', 'openai', str(tmp_path)) == str(weights)

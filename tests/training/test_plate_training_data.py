"""`train synthetic --data plate|mixed`: the training source draws plate-style shots, from training
seeds only, and without scikit-image the command says how to install it instead of failing later."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from rmpsam_cli.exit_codes import USAGE_ERROR
from rmpsam_cli.train_cmd import train
from rmpsam_plugin.synthetic import generate_shot
from rmpsam_plugin.synthetic.photos import load_photos
from rmpsam_plugin.training_data import TRAIN_SEED_BASE, SyntheticImageSource


def test_mixed_data_alternates_plate_and_procedural_shots_by_seed():
    source = SyntheticImageSource(batch_size=2, image_size=64, style="mixed")
    assert {source.shot_style(TRAIN_SEED_BASE + i) for i in range(2)} == {"plate", "procedural"}
    assert SyntheticImageSource(batch_size=2).shot_style(TRAIN_SEED_BASE + 1) == "procedural"  # the default
    with pytest.raises(ValueError, match="unknown synthetic data style"):
        SyntheticImageSource(batch_size=2, style="photo")


def test_a_plate_batch_holds_plate_style_frames():
    pytest.importorskip("skimage")
    batch = SyntheticImageSource(batch_size=2, image_size=64, style="plate")(0)
    assert batch.images.shape == (2, 3, 64, 64) and len(batch.mattes) == 2
    procedural = SyntheticImageSource(batch_size=2, image_size=64)(0)
    assert not (batch.images == procedural.images).all()
    seed = TRAIN_SEED_BASE  # step 0, index 0: the source's first seed, at or above the training base
    expected = generate_shot(seed, 1, 64, 64, 1 + seed % 5, style="plate")
    assert batch.mattes[0].shape[0] == expected.mattes.shape[1]


def test_plate_data_without_scikit_image_exits_with_the_install_command(tmp_path, monkeypatch):
    load_photos.cache_clear()
    monkeypatch.setitem(sys.modules, "skimage", None)
    try:
        result = CliRunner().invoke(train, ["synthetic", "--out", str(tmp_path / "run"), "--data", "plate", "--steps", "1"])
    finally:
        load_photos.cache_clear()
    assert result.exit_code == USAGE_ERROR, result.output
    assert 'pip install "rmpsam-matte[train]"' in result.output
    assert not (tmp_path / "run").exists()


def test_chained_training_runs_never_draw_the_same_shots():
    """A fresh run, a run on from its weights, and a further run with its own --seed each start
    their shots far enough apart that none of them repeats another's (the original recipe's
    offsets, seed 0, are kept)."""
    from rmpsam_plugin.training_data import synthetic_seed_offset

    assert synthetic_seed_offset(0, continued=False) == 0
    assert synthetic_seed_offset(0, continued=True) == 10_000_000
    offsets = sorted(synthetic_seed_offset(seed, continued) for seed in (0, 1, 2) for continued in (False, True))
    assert len(set(offsets)) == 6
    three_hours_of_batches = 20_000 * 8  # far more steps than any recipe here runs
    assert min(b - a for a, b in zip(offsets, offsets[1:])) >= three_hours_of_batches

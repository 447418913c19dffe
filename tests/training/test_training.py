"""Training: the losses go down on a fixed batch, a run resumes exactly, and a fine-tune of the
released-format fixture checkpoint trains and saves weights that load back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.network import RMPSAM
from rmpsam_model.shipped import load_weights_file
from rmpsam_model.training import Trainer, TrainingConfig
from rmpsam_plugin.synthetic import generate_shot, write_shot
from rmpsam_plugin.training_data import RepeatedBatch, SyntheticImageSource, random_class_table

EXECUTABLE = Path(sys.executable).parent / "rmpsam-matte"
TINY = RMPSAMConfig(backbone_width=8, blocks_per_stage=(1, 1, 1, 1), aggregation_width=16, decoder_width=64,
                    num_queries=10, num_heads=4, ffn_width=128, text_dim=32, num_classes=6)


def _read_log(out_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (out_dir / "train_log.jsonl").read_text().splitlines()]


def _trainer(out_dir: Path, source, steps: int, seed: int = 0) -> Trainer:
    torch.manual_seed(seed)
    config = TrainingConfig.from_scratch(steps=steps, batch_size=2, warmup_steps=1, log_every=1, checkpoint_every=5,
                                         num_points=256, matching_points=64, decay_at=())
    return Trainer(RMPSAM(TINY), random_class_table(6, TINY.text_dim, 0), source, config, out_dir, progress=False)


def test_losses_decrease_on_a_fixed_batch(tmp_path):
    source = RepeatedBatch(SyntheticImageSource(batch_size=2, image_size=64))  # `train synthetic --overfit-batch`
    assert source(7) is source(0)
    trainer = _trainer(tmp_path, source, steps=40)
    trainer.run()
    losses = [entry["loss"] for entry in _read_log(tmp_path)]
    assert len(losses) == 40
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.7 * first, (first, last)


def test_a_resumed_run_matches_an_uninterrupted_one(tmp_path):
    source = SyntheticImageSource(batch_size=2, image_size=64)
    whole = _trainer(tmp_path / "whole", source, steps=10)
    whole.run()
    interrupted = _trainer(tmp_path / "parts", source, steps=10)
    for _ in range(5):
        interrupted.train_step()
    interrupted.save()
    resumed = _trainer(tmp_path / "parts", source, steps=10, seed=123)  # different init: must be overwritten
    assert resumed.resume() and resumed.step == 5
    resumed.run()
    for (name, ours), theirs in zip(resumed.model.state_dict().items(), whole.model.state_dict().values()):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5, msg=name)


def test_finetune_from_the_released_format_fixture(tmp_path, official_fixtures):
    shot = generate_shot(3, num_frames=2, height=64, width=96, num_objects=2)
    write_shot(shot, tmp_path / "shot", "plate")
    out = tmp_path / "run"
    result = subprocess.run(
        [str(EXECUTABLE), "train", "finetune", "--weights", str(official_fixtures / "parity_tiny.pth"),
         "--class-embedding", str(official_fixtures / "parity_tiny_class_embed.pth"),
         "--plates", str(tmp_path / "shot" / "plate.####.exr"), "--mattes", str(tmp_path / "shot" / "plate_gt.####.exr"),
         "--steps", "3", "--batch-size", "1", "--size", "64", "--checkpoint-every", "3", "--out", str(out),
         "--quiet", "--threads", "1"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["steps"] == 3 and Path(summary["weights"]).is_file()
    model, _ = load_weights_file(Path(summary["weights"]))
    from rmpsam_model.checkpoint import load_state_dict

    original = load_state_dict(official_fixtures / "parity_tiny.pth")
    trained = model.state_dict()
    assert set(original) <= set(trained)
    changed = [k for k in original
               if original[k].is_floating_point() and not torch.equal(original[k].float(), trained[k].float())]
    assert changed, "three optimiser steps changed no weight"


def test_a_synthetic_run_continues_from_earlier_weights(tmp_path):
    common = ["--steps", "2", "--batch-size", "1", "--size", "64", "--config", "parity-tiny", "--quiet", "--threads", "1"]
    first = subprocess.run([str(EXECUTABLE), "train", "synthetic", "--out", str(tmp_path / "a"), "--overfit-batch", *common],
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    assert json.loads((tmp_path / "a" / "training.json").read_text())["overfit_batch"] is True
    start = tmp_path / "a" / "weights.safetensors"
    # The job-shaped terms and wide frames, through the CLI (two images a step: one pair of frames).
    second = subprocess.run([str(EXECUTABLE), "train", "synthetic", "--out", str(tmp_path / "b"), "--init", str(start),
                             *common, "--batch-size", "2", "--union-weight", "1", "--clip-weight", "1", "--clip-gap", "3",
                             "--leave-fraction", "0.5", "--aspect", "1.5", "--scale", "1", "--scale", "1.5"],
                            capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    before, _ = load_weights_file(start)
    after, _ = load_weights_file(tmp_path / "b" / "weights.safetensors")
    settings = json.loads((tmp_path / "b" / "training.json").read_text())
    assert settings["init"] == str(start) and settings["clip_gap"] == 3 and settings["aspects"] == [1.5]
    assert settings["leave_fraction"] == 0.5 and settings["scales"] == [1.0, 1.5]
    log = _read_log(tmp_path / "b")
    assert {"union_iou", "clip_iou", "clip_union_dice"} <= set(log[-1])
    differences = [not torch.equal(a, b) for a, b in zip(before.state_dict().values(), after.state_dict().values())]
    assert any(differences)
    missing = subprocess.run([str(EXECUTABLE), "train", "synthetic", "--out", str(tmp_path / "c"), "--init",
                              str(tmp_path / "nope.safetensors"), *common], capture_output=True, text=True, timeout=600)
    assert missing.returncode == 3 and "nope.safetensors" in missing.stderr

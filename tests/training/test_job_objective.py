"""The training terms that train what the job does with prompts: an instance's box and click
decoded as a pair and matted as their union, and the `clip` tracker's stacked two-frame decode."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.network import RMPSAM
from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_model.preprocess import InferenceSize
from rmpsam_model.training import Trainer, TrainingConfig
from rmpsam_model.training.checkpointing import load_checkpoint_state, save_checkpoint
from rmpsam_model.training.objectives import decode_prompt_batch, training_losses
from rmpsam_model.training.prompt_sampling import BOX_LABEL, CLICK_LABEL, sample_prompts
from rmpsam_model.training.trainer import step_generator
from rmpsam_plugin.synthetic import generate_shot
from rmpsam_plugin.training_data import TRAIN_SEED_BASE, RepeatedBatch, SyntheticImageSource, random_class_table

TINY = RMPSAMConfig(backbone_width=8, blocks_per_stage=(1, 1, 1, 1), aggregation_width=16, decoder_width=64,
                    num_queries=10, num_heads=4, ffn_width=128, text_dim=32, num_classes=6)


def _two_instances() -> torch.Tensor:
    mattes = torch.zeros(2, 64, 64)
    mattes[0, 8:30, 10:40] = 1.0
    mattes[1, 40:60, 20:50] = 1.0
    return mattes


def test_paired_prompts_give_each_instance_a_box_then_a_click():
    mattes = _two_instances()
    sampled = sample_prompts(mattes, 8, click_fraction=0.5, box_jitter=0.1,
                             generator=torch.Generator().manual_seed(3), paired=True)
    assert sampled.labels.tolist() == [BOX_LABEL] * 4 + [CLICK_LABEL] * 4
    assert torch.equal(sampled.targets[:4], sampled.targets[4:])
    assert sorted(set(sampled.targets.tolist())) == [0, 1]  # both instances before either repeats
    for box, click, target in zip(sampled.boxes[:4], sampled.boxes[4:], sampled.targets[:4]):
        rows, cols = torch.nonzero(mattes[target] > 0.5, as_tuple=True)
        # The box is the instance's own, each edge jittered by at most 10% of its size; the click's
        # 6-pixel box is centred inside the instance.
        tight = torch.tensor([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], dtype=torch.float32)
        size = torch.stack([tight[2] - tight[0], tight[3] - tight[1]] * 2)
        assert bool(((box - tight).abs() <= 0.1 * size + 1e-4).all()), (box, tight)
        centre_x, centre_y = int((click[0] + click[2]) / 2), int((click[1] + click[3]) / 2)
        assert float(click[2] - click[0]) == 6.0 and mattes[target, centre_y, centre_x] == 1.0


def test_rendering_chosen_frames_gives_the_whole_shots_pixels():
    whole = generate_shot(77, 6, 48, 64, 3)
    chosen = generate_shot(77, 6, 48, 64, 3, render_only=(5, 2))
    assert chosen.frames.shape == (2, 48, 64, 3)
    assert np.array_equal(chosen.frames, whole.frames[[5, 2]])
    assert np.array_equal(chosen.mattes, whole.mattes[[5, 2]])


def test_paired_frames_come_from_one_shot_a_few_frames_apart():
    source = SyntheticImageSource(batch_size=5, image_size=64, clip_gap=4)
    batch = source(3)
    assert batch.pairs == ((0, 1), (2, 3))  # the fifth image is a single frame
    again = source(3)
    assert torch.equal(batch.images, again.images)
    for first, second in batch.pairs:
        assert torch.equal(batch.classes[first], batch.classes[second])
        assert batch.mattes[first].shape == batch.mattes[second].shape
        assert not torch.equal(batch.images[first], batch.images[second])
    gaps = [abs(a - b) for seed in range(200) for a, b in [source.pair_frames(seed)[0]]]
    assert set(gaps) == {1, 2, 3, 4}
    orders = [source.pair_frames(seed)[0][0] > 0 for seed in range(200)]
    assert 60 < sum(orders) < 140  # the later frame is the keyframe in about half the pairs
    assert SyntheticImageSource(batch_size=4, image_size=64)(3).pairs == ()


def test_leaving_pairs_show_an_instance_in_the_keyframe_and_wholly_outside_the_other_frame():
    source = SyntheticImageSource(batch_size=8, image_size=64, clip_gap=4, leave_fraction=1.0, aspects=(1.78,))
    batch = source(0)
    assert len(batch.pairs) == 4
    for first, second in batch.pairs:
        present = (batch.mattes[first] > 0.5).flatten(1).sum(dim=1)
        absent = (batch.mattes[second] > 0).flatten(1).sum(dim=1) == 0
        assert absent.sum() == 1 and present[absent] > 0, (present, absent)  # the leaving instance, it alone
    frames, length = source.pair_frames(TRAIN_SEED_BASE)
    assert length == 2 * frames[1] + 1 and frames[0] in (0, length - 1)  # an end, then the middle
    mixed = SyntheticImageSource(batch_size=2, image_size=64, clip_gap=4, leave_fraction=0.25)
    assert 30 < sum(mixed.pair_leaves(seed) for seed in range(200)) < 70
    plain = SyntheticImageSource(batch_size=2, image_size=64, clip_gap=4)
    staying = [seed for seed in range(200) if not mixed.pair_leaves(seed)]
    assert [mixed.pair_frames(seed) for seed in staying] == [plain.pair_frames(seed) for seed in staying]


def test_frames_take_the_aspects_in_turn():
    source = SyntheticImageSource(batch_size=2, image_size=64, aspects=(1.0, 1.78))
    square, wide = source(0), source(1)
    assert square.images.shape == (2, 3, 64, 64) and square.image_hw == (64, 64)
    assert wide.images.shape == (2, 3, 64, 128)  # 114 wide, padded to a multiple of 32
    assert wide.image_hw == (64, 114)  # what prompt boxes are encoded against, as the predictor does
    assert all(float(m[:, :, 114:].abs().sum()) == 0.0 for m in wide.mattes)
    assert source(2).images.shape == square.images.shape
    with pytest.raises(ValueError, match="aspects"):
        SyntheticImageSource(batch_size=2, aspects=(0.5,))


def test_frames_take_the_scales_in_turn_beside_the_aspects():
    source = SyntheticImageSource(batch_size=2, image_size=64, aspects=(1.0, 1.5, 1.5), scales=(1.0, 1.5))
    batches = [source(step) for step in range(6)]
    shapes = [(batch.images.shape[-2:], batch.image_hw) for batch in batches]
    # Step s takes aspect s % 3 and scale s % 2, so six steps meet every pairing once.
    assert [hw for _, hw in shapes] == [(64, 64), (96, 144), (64, 96), (96, 96), (64, 96), (96, 144)]
    assert [tuple(padded) for padded, _ in shapes] == [(64, 64), (96, 160), (64, 96), (96, 96), (64, 96), (96, 160)]
    plain = SyntheticImageSource(batch_size=2, image_size=64, aspects=(1.0, 1.5, 1.5))
    assert torch.equal(batches[2].images, plain(2).images)  # a scale of 1 draws what no --scale draws
    with pytest.raises(ValueError, match="scales"):
        SyntheticImageSource(batch_size=2, scales=(0.0,))


def test_the_clip_term_decodes_what_the_clip_tracker_decodes():
    """The stacked decode the loss sees is the predictor's `decode_queries_across`, logit for logit."""
    torch.manual_seed(0)
    model = RMPSAM(TINY).eval()
    shot = generate_shot(5, 4, 64, 64, 2, render_only=(0, 3))
    images = [np.clip(frame, 0, 1) for frame in shot.frames]
    predictor = RMPSAMPredictor(model, InferenceSize(64, 256))
    predictor.set_images(images)
    box = [[10.0, 12.0, 40.0, 44.0]]
    queries = predictor.encode_prompts(points=[[20.0, 30.0]], boxes=box, frame_index=0)
    tracker = predictor.decode_queries_across(queries, [0, 1]).low_res_logits
    features = torch.cat([predictor.features(0), predictor.features(1)], dim=2)
    click = [[17.0, 27.0, 23.0, 33.0]]
    with torch.no_grad():
        trained = decode_prompt_batch(model, features, torch.tensor([click + box]),
                                      torch.tensor([[CLICK_LABEL, BOX_LABEL]]), predictor.geometry(0).resized_hw)
    torch.testing.assert_close(trained.masks[0].unflatten(1, (2, features.shape[2] // 2)), tracker,
                               rtol=1e-4, atol=1e-4)


def test_union_and_clip_terms_train(tmp_path):
    source = RepeatedBatch(SyntheticImageSource(batch_size=2, image_size=64, clip_gap=3))
    config = TrainingConfig.from_scratch(steps=20, batch_size=2, warmup_steps=1, log_every=1, checkpoint_every=20,
                                         num_points=256, matching_points=64, decay_at=(), union_weight=1.0,
                                         clip_weight=1.0)
    torch.manual_seed(0)
    trainer = Trainer(RMPSAM(TINY), random_class_table(6, TINY.text_dim, 0), source, config, tmp_path, progress=False)
    losses = training_losses(trainer.model, source(0), config, step_generator(0, 0, torch.device("cpu")))
    assert {"prompt_union_ce", "prompt_union_dice", "clip_mask_ce", "clip_dice", "clip_iou_estimate",
            "clip_union_ce", "clip_union_dice"} <= set(losses.terms)
    trainer.run()
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    for term in ("prompt_union_dice", "clip_union_dice", "clip_dice"):
        first, last = np.mean([e[term] for e in log[:4]]), np.mean([e[term] for e in log[-4:]])
        assert last < 0.8 * first, (term, first, last)
    assert all(0.0 <= e["union_iou"] <= 1.0 and 0.0 <= e["clip_iou"] <= 1.0 for e in log)


def test_a_checkpoint_from_before_these_settings_resumes(tmp_path):
    """Checkpoints written before `union_weight` and `clip_weight` existed lack them: they read as
    the defaults (0), so such a run resumes instead of being refused as changed."""
    source = SyntheticImageSource(batch_size=1, image_size=64)
    config = TrainingConfig.from_scratch(steps=2, batch_size=1, checkpoint_every=1, num_points=64, matching_points=16)
    trainer = Trainer(RMPSAM(TINY), random_class_table(6, TINY.text_dim, 0), source, config, tmp_path, progress=False)
    trainer.train_step()
    path = trainer.save()
    state = load_checkpoint_state(path)
    old = json.loads(state["training_config"])
    del old["union_weight"], old["clip_weight"]
    state["training_config"] = json.dumps(old)
    save_checkpoint(path.parent, 1, state)
    resumed = Trainer(RMPSAM(TINY), random_class_table(6, TINY.text_dim, 0), source, config, tmp_path, progress=False)
    assert resumed.resume() and resumed.step == 1

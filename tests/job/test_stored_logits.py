"""The `bench pipeline --network none` stand-in: the shot's truth as logits, read in the sweeps' order,
through the real job to mattes that match the truth."""

from __future__ import annotations

import numpy as np
import torch

from rmpsam_model.loading import load_model
from rmpsam_plugin.bench.stored_logits import StoredLogitsEngine, truth_logits
from rmpsam_plugin.evaluation.metrics import region_similarity
from rmpsam_plugin.evaluation.scoring import read_instance_mattes, write_evaluation_shot
from rmpsam_plugin.job.plan import plan_job
from rmpsam_plugin.job.progress import ProgressReporter
from rmpsam_plugin.job.runner import JobRunner
from rmpsam_plugin.job.settings import RunSettings


def test_a_job_on_stored_logits_writes_the_shots_true_mattes(tmp_path, tiny_weights):
    shot = write_evaluation_shot(tmp_path / "shot", 900_101, 5, 96, 160, [0, 4], num_objects=2)
    plan = plan_job(RunSettings(plate=str(shot.plate), prompts=shot.prompts, output=str(tmp_path / "out" / "m.####.exr")))
    runner = JobRunner(plan, load_model(tiny_weights), ProgressReporter("none"), overlap=True, workers=1)
    first, last = plan.shot_range
    truth = shot.truth()
    stored = {frame: dict(zip(shot.names, truth_logits(truth[frame - first], runner.geometry,
                                                       runner.mattes.network_geometry)))
              for frame in range(first, last + 1)}
    asked = []
    runner.mattes.engine = StoredLogitsEngine(stored, lambda frame: asked.append(frame) or runner.plates.network_image(frame),
                                              plan.shot_range)
    assert runner.run() == 5
    assert asked[:5] == [1001, 1002, 1003, 1004, 1005]  # the engine's one pass, each frame decoded both ways
    written = read_instance_mattes(tmp_path / "out" / "m.####.exr", range(first, last + 1), shot.names)
    similarity = [region_similarity(written[t, k] > 0.5, truth[t, k] > 0.5)
                  for t in range(5) for k in range(2) if truth[t, k].sum() > 20]
    assert similarity and min(similarity) > 0.8, similarity  # refined, stabilised and written, still the truth
    assert np.abs(written - truth).mean() < 0.02



def test_the_stabiliser_at_half_the_network_size_still_steadies_chattering_mattes(tmp_path, tiny_weights, monkeypatch):
    """Large network images are stabilised at half their size (`stabiliser_size`): the logits still
    come back at the network image's size, keyframes exactly as decoded, and chatter (fresh noise
    on every frame's logits) is smoothed away about as well as at the full size."""
    from rmpsam_plugin.evaluation.metrics import dtssd
    from rmpsam_plugin.mattes import shot_mattes

    shot = write_evaluation_shot(tmp_path / "shot", 900_103, 7, 96, 160, [0, 6], num_objects=2)
    plan = plan_job(RunSettings(plate=str(shot.plate), prompts=shot.prompts, output=str(tmp_path / "o" / "m.####.exr")))
    first, last = plan.shot_range
    between = range(first + 1, last)
    truth = shot.truth()
    noise = np.random.default_rng(0)
    chattering: dict[int, dict[str, torch.Tensor]] = {}

    def mattes_at_network_size(min_side: int):
        """{'raw', 'stabilised'}: (instances, frames between the keyframes, h, w) mattes; the truth alike."""
        monkeypatch.setattr(shot_mattes, "STABILISER_MIN_SIDE", min_side)
        runner = JobRunner(plan, load_model(tiny_weights), ProgressReporter("none"), workers=1)
        recipe = runner.mattes
        network_hw = runner.geometry.network_hw
        half = ((network_hw[0] + 1) // 2, (network_hw[1] + 1) // 2)
        assert recipe.stabiliser_hw == (half if min_side <= min(half) else network_hw)
        for frame in range(first, last + 1):
            if frame not in chattering:  # the same noisy logits for both sizes
                planes = truth_logits(truth[frame - first], runner.geometry, recipe.network_geometry)
                chattering[frame] = {name: plane + torch.from_numpy(noise.normal(0.0, 2.0, plane.shape).astype(np.float32))
                                     for name, plane in zip(shot.names, planes)}
        recipe.engine = StoredLogitsEngine(chattering, runner.plates.network_image, plan.shot_range)
        result = recipe.segment_logits((first, last), list(range(first, last + 1)))
        runner.plates.close()
        for frame in (first, last):  # keyframes: the decode itself
            assert all(result[frame][name] is chattering[frame][name] for name in shot.names)
        assert all(tuple(result[frame][name].shape) == network_hw for frame in between for name in shot.names)

        def matte(plane: torch.Tensor) -> np.ndarray:
            logits = plane.numpy() if tuple(plane.shape) == network_hw else recipe._at_network_size(plane)
            return 1.0 / (1.0 + np.exp(-logits))

        mattes = {source: np.stack([[matte(logits[frame][name]) for frame in between] for name in shot.names])
                  for source, logits in (("raw", chattering), ("stabilised", result))}
        true = np.stack([[runner.geometry.image_to_network(truth[frame - first, k][..., None]).reshape(network_hw)
                          for frame in between] for k in range(len(shot.names))])
        return mattes, true

    full, true = mattes_at_network_size(10_000)
    half, _ = mattes_at_network_size(8)

    def chatter(mattes: np.ndarray) -> float:
        return float(np.mean([dtssd(mattes[k], true[k]) for k in range(len(true))]))

    raw, at_full, at_half = chatter(full["raw"]), chatter(full["stabilised"]), chatter(half["stabilised"])
    assert at_full < 0.8 * raw and at_half < 0.8 * raw, (raw, at_full, at_half)
    assert at_half < 1.15 * at_full, (at_full, at_half)
    assert np.abs(half["stabilised"] - full["stabilised"]).mean() < 0.03

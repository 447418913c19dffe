"""The `bench pipeline --network none` stand-in: the shot's truth as logits, read in the sweeps' order,
through the real job to mattes that match the truth."""

from __future__ import annotations

import numpy as np

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
    assert asked[:10] == [1001, 1002, 1003, 1004, 1005, 1005, 1004, 1003, 1002, 1001]  # the forward, then backward sweep
    written = read_instance_mattes(tmp_path / "out" / "m.####.exr", range(first, last + 1), shot.names)
    similarity = [region_similarity(written[t, k] > 0.5, truth[t, k] > 0.5)
                  for t in range(5) for k in range(2) if truth[t, k].sum() > 20]
    assert similarity and min(similarity) > 0.8, similarity  # refined, stabilised and written, still the truth
    assert np.abs(written - truth).mean() < 0.02

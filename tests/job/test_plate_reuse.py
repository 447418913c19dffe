"""A job reads each plate once: the passes, the stabiliser and the finishing step share it.

Reading, converting and resizing a 2K plate costs more than a tenth of a second, so reading a
frame once per pass (forward, backward, temporal, finishing) was a large part of the job's time
beyond the network. These tests count the reads of a real job and check the mattes do not change
when plates are not kept.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

import rmpsam_plugin.job.plate_source as plate_source
from rmpsam_plugin.job.plan import plan_job
from rmpsam_plugin.job.progress import ProgressReporter
from rmpsam_plugin.job.runner import JobRunner
from rmpsam_plugin.job.settings import RunSettings
from rmpsam_plugin.job.weights import load_job_weights


REAL_READ_PLATE = plate_source.read_plate


def run_counting_reads(shot_dir: Path, weights: Path, output: Path, monkeypatch) -> Counter:
    reads: Counter = Counter()

    def counting_read(path, *args, **kwargs):
        reads[kwargs.get("frame")] += 1
        return REAL_READ_PLATE(path, *args, **kwargs)

    monkeypatch.setattr(plate_source, "read_plate", counting_read)
    plan = plan_job(RunSettings(plate=str(shot_dir / "plate.####.exr"), prompts=shot_dir / "prompts.json",
                                output=str(output / "m.####.exr")))
    JobRunner(plan, load_job_weights(weights), ProgressReporter("none")).run()
    return reads


def channels(path: Path) -> np.ndarray:
    image = oiio.ImageInput.open(str(path))
    try:
        return image.read_image("float")
    finally:
        image.close()


def test_every_plate_is_read_once(shot_dir, tiny_weights, tmp_path, monkeypatch):
    reads = run_counting_reads(shot_dir, tiny_weights, tmp_path / "out", monkeypatch)
    assert reads == Counter({frame: 1 for frame in range(1001, 1009)})
    assert len(list((tmp_path / "out").glob("m.*.exr"))) == 8


def test_mattes_are_the_same_when_no_plate_is_kept(shot_dir, tiny_weights, tmp_path, monkeypatch):
    kept_reads = run_counting_reads(shot_dir, tiny_weights, tmp_path / "kept", monkeypatch)
    monkeypatch.setattr(plate_source, "PLATE_CACHE_BYTES", 0)
    monkeypatch.setattr(plate_source, "NETWORK_IMAGE_CACHE_BYTES", 0)
    uncached_reads = run_counting_reads(shot_dir, tiny_weights, tmp_path / "read_again", monkeypatch)
    assert sum(uncached_reads.values()) > 2 * sum(kept_reads.values())  # the work the caches save
    for frame in range(1001, 1009):
        np.testing.assert_array_equal(channels(tmp_path / "kept" / f"m.{frame}.exr"),
                                      channels(tmp_path / "read_again" / f"m.{frame}.exr"))

"""A job reads each plate once: the passes, the stabiliser and the finishing step share it.

Reading, converting and resizing a 2K plate costs more than a tenth of a second, so reading a
frame once per pass (forward, backward, temporal, finishing) was a large part of the job's time
beyond the network. These tests count the reads of a real job and check the mattes do not change
when plates are not kept, or when they are read in turns with the network rather than beside it.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

import rmpsam_plugin.job.plate_schedule as plate_source
import rmpsam_plugin.mattes.plate_source as plate_cache
from rmpsam_model.loading import load_model
from rmpsam_plugin.job.plan import plan_job
from rmpsam_plugin.job.progress import ProgressReporter
from rmpsam_plugin.job.runner import JobRunner
from rmpsam_plugin.job.settings import RunSettings

REAL_READ_PLATE = plate_source.read_plate


def run_counting_reads(shot_dir: Path, weights: Path, output: Path, monkeypatch, overlap: bool = True) -> Counter:
    reads: Counter = Counter()

    def counting_read(path, *args, **kwargs):
        reads[kwargs.get("frame")] += 1
        return REAL_READ_PLATE(path, *args, **kwargs)

    monkeypatch.setattr(plate_source, "read_plate", counting_read)
    plan = plan_job(RunSettings(plate=str(shot_dir / "plate.####.exr"), prompts=shot_dir / "prompts.json",
                                output=str(output / "m.####.exr")))
    JobRunner(plan, load_model(weights), ProgressReporter("none"), overlap=overlap).run()
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
    monkeypatch.setattr(plate_cache, "PLATE_CACHE_BYTES", 0)
    monkeypatch.setattr(plate_cache, "NETWORK_IMAGE_CACHE_BYTES", 0)
    uncached_reads = run_counting_reads(shot_dir, tiny_weights, tmp_path / "read_again", monkeypatch)
    assert sum(uncached_reads.values()) > 2 * sum(kept_reads.values())  # the work the caches save
    for frame in range(1001, 1009):
        np.testing.assert_array_equal(channels(tmp_path / "kept" / f"m.{frame}.exr"),
                                      channels(tmp_path / "read_again" / f"m.{frame}.exr"))


def plates_of_a_job(shot_dir: Path, weights: Path, output: Path, monkeypatch, *, overlap: bool,
                    reads: list[int]) -> plate_source.PlateSource:
    """The job's own PlateSource, recording each frame read, reading ahead beside the network
    (`overlap`) or in turns with it."""

    def recording_read(path, *args, **kwargs):
        plate = REAL_READ_PLATE(path, *args, **kwargs)
        reads.append(kwargs.get("frame"))
        return plate

    monkeypatch.setattr(plate_source, "read_plate", recording_read)
    plan = plan_job(RunSettings(plate=str(shot_dir / "plate.####.exr"), prompts=shot_dir / "prompts.json",
                                output=str(output / "m.####.exr")))
    return JobRunner(plan, load_model(weights), ProgressReporter("none"), overlap=overlap).plates


def test_a_network_filling_the_cpu_takes_turns_with_the_reader(shot_dir, tiny_weights, tmp_path, monkeypatch):
    reads: list[int] = []
    plates = plates_of_a_job(shot_dir, tiny_weights, tmp_path, monkeypatch, overlap=False, reads=reads)
    try:
        plates.network_image(1001)
        assert sorted(reads) == [1001, 1002, 1003, 1004]  # the frame asked for and READ_AHEAD more, all done
        for frame in (1002, 1003, 1004):
            plates.network_image(frame)
        time.sleep(0.2)  # a read started in the background would land meanwhile
        assert sorted(reads) == [1001, 1002, 1003, 1004]  # nothing read while the network works
        plates.network_image(1005)
        assert sorted(reads) == list(range(1001, 1009))
    finally:
        plates.close()


def test_a_network_leaving_cores_free_is_read_ahead_in_the_background(shot_dir, tiny_weights, tmp_path, monkeypatch):
    reads: list[int] = []
    plates = plates_of_a_job(shot_dir, tiny_weights, tmp_path, monkeypatch, overlap=True, reads=reads)
    try:
        plates.network_image(1001)
        plates.network_image(1002)
        deadline = time.monotonic() + 10
        while len(reads) < 5 and time.monotonic() < deadline:  # 1003..1005 land without being asked for
            time.sleep(0.01)
        assert sorted(reads) == [1001, 1002, 1003, 1004, 1005]
    finally:
        plates.close()


def test_mattes_are_the_same_whether_reads_overlap_the_network_or_not(shot_dir, tiny_weights, tmp_path, monkeypatch):
    for overlap in (True, False):
        run_counting_reads(shot_dir, tiny_weights, tmp_path / str(overlap), monkeypatch, overlap=overlap)
    for frame in range(1001, 1009):
        np.testing.assert_array_equal(channels(tmp_path / "True" / f"m.{frame}.exr"),
                                      channels(tmp_path / "False" / f"m.{frame}.exr"))


def test_every_job_reads_and_finishes_beside_the_network(shot_dir, tiny_weights, tmp_path):
    """Since plates decode without the GIL, beside won four of five comparisons, CPU network or not
    (`job.plate_schedule`); in turns is only for `bench pipeline --compare-schedules` to measure."""
    for threads in (None, os.cpu_count() or 1):
        plan = plan_job(RunSettings(plate=str(shot_dir / "plate.####.exr"), prompts=shot_dir / "prompts.json",
                                    output=str(tmp_path / "m.####.exr"), threads=threads))
        runner = JobRunner(plan, load_model(tiny_weights), ProgressReporter("none"))
        try:
            assert runner.overlap and runner.plates.overlap_reads
        finally:
            runner.plates.close()


def test_plates_are_read_for_their_colour_unless_passed_through(shot_dir, tiny_weights, tmp_path, monkeypatch):
    """Nothing in the mattes looks at a plate's alpha, and decoding it costs a quarter of an RGBA
    plate's read; a passthrough output needs it. The mattes are the same either way."""
    read_components: dict[bool, set] = {}
    for passthrough in (False, True):
        def recording_read(path, *args, passthrough=passthrough, **kwargs):
            plate = REAL_READ_PLATE(path, *args, **kwargs)
            read_components.setdefault(passthrough, set()).add(plate.layer.components)
            return plate

        monkeypatch.setattr(plate_source, "read_plate", recording_read)
        plan = plan_job(RunSettings(plate=str(shot_dir / "plate.####.exr"), prompts=shot_dir / "prompts.json",
                                    output=str(tmp_path / str(passthrough) / "m.####.exr"), passthrough=passthrough))
        JobRunner(plan, load_model(tiny_weights), ProgressReporter("none")).run()
    assert read_components == {False: {("R", "G", "B")}, True: {("R", "G", "B", "A")}}
    for frame in range(1001, 1009):
        plain = channels(tmp_path / "False" / f"m.{frame}.exr")
        passed_through = channels(tmp_path / "True" / f"m.{frame}.exr")
        assert passed_through.shape[-1] == plain.shape[-1] + 4
        header = oiio.ImageInput.open(str(tmp_path / "True" / f"m.{frame}.exr"))
        names = list(header.spec().channelnames)
        header.close()
        matte_positions = [i for i, name in enumerate(names) if name not in ("R", "G", "B", "A")]
        np.testing.assert_array_equal(passed_through[..., matte_positions], plain)


def test_a_keyframe_asked_for_out_of_order_turns_no_read_ahead_around(shot_dir, tiny_weights, tmp_path, monkeypatch):
    """Propagation decodes each frame from the keyframes on both sides, so the last keyframe's image
    is asked for between the first frames: it is read alone, the frames being read ahead are still
    read once each, and the frames asked for next to it go on from there."""
    reads: list[int] = []
    plates = plates_of_a_job(shot_dir, tiny_weights, tmp_path, monkeypatch, overlap=True, reads=reads)
    try:
        for frame in (1001, 1002, 1008, 1003):  # 1008: the keyframe after the range, asked for once
            plates.network_image(frame)
        deadline = time.monotonic() + 10
        while len(reads) < 7 and time.monotonic() < deadline:  # 1004..1006 land without being asked for
            time.sleep(0.01)
        assert sorted(reads) == [1001, 1002, 1003, 1004, 1005, 1006, 1008]
        plates.network_image(1007)  # away from 1003: read alone; 1006 next to it goes on from there, backwards
        plates.network_image(1006)
        assert sorted(reads) == list(range(1001, 1009))  # each frame read once
    finally:
        plates.close()

"""A killed run, rerun, writes exactly the mattes of an uninterrupted run, temporal stabiliser on.

The stabiliser filters a whole keyframe segment forwards and backwards, so a frame's matte
depends on its neighbours: a rerun that filtered only the frames still to write gave mattes off
by up to 0.12 on the frames it redid. Each case below leaves the output folder as a run killed at
a different point would (frames written so far, propagation cache filled so far), reruns the same
command and compares every channel bit for bit.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess

import numpy as np
import pytest
from job_cli import EXECUTABLE, FIRST_FRAME, run_cli
from test_run_cli import read_layers

from rmpsam_cli.exit_codes import INTERRUPTED

FRAMES = range(FIRST_FRAME, FIRST_FRAME + 8)  # keyframe segments 1001-1004 and 1005-1008


def temporal_args(shot_dir, weights, output):
    return ["run", shot_dir / "plate.####.exr", "--prompts", shot_dir / "prompts.json", "-o", output / "m.####.exr",
            "--weights", weights, "--threads", "1", "--temporal"]


@pytest.fixture(scope="module")
def reference(shot_dir, tiny_weights, tmp_path_factory):
    """One uninterrupted run, its cache kept (as a killed run would have filled it)."""
    output = tmp_path_factory.mktemp("reference")
    result = run_cli(*temporal_args(shot_dir, tiny_weights, output), "--progress", "none")
    assert result.returncode == 0, result.stderr
    return output


def assert_same_mattes(ours, theirs, frames=FRAMES):
    """Every channel bit for bit, and then every byte of the files: a farm that checksums a rerun's
    frames against the first render's must find them equal (ISA-L's deflate once made them differ)."""
    for frame in frames:
        mine, reference = read_layers(ours / f"m.{frame}.exr"), read_layers(theirs / f"m.{frame}.exr")
        assert set(mine) == set(reference)
        for channel in reference:
            np.testing.assert_array_equal(mine[channel], reference[channel], err_msg=f"frame {frame} {channel}")
        assert (ours / f"m.{frame}.exr").read_bytes() == (theirs / f"m.{frame}.exr").read_bytes(), f"frame {frame}"


def cached_frame(path) -> int:
    return int(path.name.split(".")[-2])


@pytest.mark.parametrize("written, cached_through", [
    (1, 1002),      # killed in the first segment, its propagation partly cached
    (3, 1004),      # killed one frame before the end of the first segment
    (6, 1006),      # killed in the middle of the second segment
    (7, 1008),      # everything propagated, one frame left to write
    (2, None),      # the cache lost as well (another node, a cleaned scratch disk)
])
def test_rerun_after_a_kill_gives_the_uninterrupted_mattes(reference, shot_dir, tiny_weights, tmp_path,
                                                           written, cached_through):
    output = tmp_path / "killed"
    shutil.copytree(reference, output)
    for frame in FRAMES[written:]:
        (output / f"m.{frame}.exr").unlink()
    for path in (output / ".rmpsam_cache").rglob("*.safetensors"):
        if cached_through is None or cached_frame(path) > cached_through:
            path.unlink()

    result = run_cli(*temporal_args(shot_dir, tiny_weights, output), "--progress", "json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["frame"] for e in events if e["event"] == "skip"] == list(FRAMES[:written])
    assert [e["frame"] for e in events if e["event"] == "frame"] == list(FRAMES[written:])
    assert_same_mattes(output, reference)


def test_real_sigkill_mid_segment_then_rerun(reference, shot_dir, tiny_weights, tmp_path):
    output = tmp_path / "killed"
    command = [str(EXECUTABLE), *map(str, temporal_args(shot_dir, tiny_weights, output)), "--progress", "json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    frames_seen = 0
    for line in process.stdout:  # the second segment's first frame is on disk: kill mid-segment
        event = json.loads(line)
        frames_seen += event["event"] == "frame"
        if event["event"] == "frame" and event["frame"] == FIRST_FRAME + 4:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert (output / f"m.{FIRST_FRAME + 4}.exr").is_file()
    result = run_cli(*temporal_args(shot_dir, tiny_weights, output), "--progress", "none")
    assert result.returncode == 0, result.stderr
    assert_same_mattes(output, reference)


def test_segments_not_cut_at_keyframes_assemble_to_the_whole_run(reference, shot_dir, tiny_weights, tmp_path):
    """Farm tasks split anywhere (here 1001-1002, 1003-1006, 1007-1008), each with no shared cache."""
    pieces = tmp_path / "pieces"
    for segment in ("1001-1002", "1003-1006", "1007-1008"):
        result = run_cli(*temporal_args(shot_dir, tiny_weights, pieces), "--segment", segment, "--progress", "none")
        assert result.returncode == 0, result.stderr
        shutil.rmtree(pieces / ".rmpsam_cache")
    assert_same_mattes(pieces, reference)


def test_an_interrupt_stops_the_run_even_when_its_parent_ignored_sigint(reference, shot_dir, tiny_weights, tmp_path):
    """Cancel in Nuke (and a farm manager's stop) is SIGINT; a run started as a background job of
    a non-interactive shell inherits SIGINT ignored, and once wrote the whole shot regardless."""
    output = tmp_path / "interrupted"
    command = [str(EXECUTABLE), *map(str, temporal_args(shot_dir, tiny_weights, output)), "--progress", "json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    for line in process.stdout:
        if json.loads(line)["event"] == "frame":
            process.send_signal(signal.SIGINT)
            break
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == INTERRUPTED, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    written = sorted(output.glob("m.*.exr"))
    assert 1 <= len(written) < len(FRAMES)
    result = run_cli(*temporal_args(shot_dir, tiny_weights, output), "--progress", "none")
    assert result.returncode == 0, result.stderr
    assert_same_mattes(output, reference)


def test_one_instance_alone_gets_the_bits_of_the_whole_run(reference, shot_dir, tiny_weights, tmp_path):
    """Instances from one keyframe share their decodes; `--instances` must not change a layer's bits.
    (On this small shot the shared decode's rounding happens to match even without the fixed query
    blocks; `tests/propagation/test_shared_decode.py` is the test that catches their loss. This
    one guards the whole job: stabiliser, refinement and writing per instance.)"""
    names = [instance["name"] for instance in json.loads((shot_dir / "prompts.json").read_text())["instances"]]
    assert len(names) == 2
    for name in names:
        output = tmp_path / name
        result = run_cli(*temporal_args(shot_dir, tiny_weights, output), "--instances", name, "--progress", "none")
        assert result.returncode == 0, result.stderr
        for frame in FRAMES:
            alone, whole = read_layers(output / f"m.{frame}.exr"), read_layers(reference / f"m.{frame}.exr")
            assert {channel for channel in alone if not channel.startswith("CryptoObject")} == {f"{name}.A"}
            np.testing.assert_array_equal(alone[f"{name}.A"], whole[f"{name}.A"], err_msg=f"{name} frame {frame}")

"""`rmpsam-matte run` end to end through the real CLI: files, layers, resume, farm segments."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess

import numpy as np
import OpenImageIO as oiio
from exr_channels import read_channels as read_layers
from job_cli import EXECUTABLE, FIRST_FRAME, run_cli

FRAMES = range(FIRST_FRAME, FIRST_FRAME + 8)




def base_args(shot_dir, weights, output):
    return ["run", shot_dir / "plate.####.exr", "--prompts", shot_dir / "prompts.json", "-o", output / "m.####.exr",
            "--weights", weights, "--threads", "1", "--no-temporal"]


def test_every_frame_written_with_one_layer_per_instance(shot_dir, tiny_weights, tmp_path):
    result = run_cli(*base_args(shot_dir, tiny_weights, tmp_path), "--progress", "json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "start" and events[-1] == {**events[-1], "event": "done", "written": 8}
    assert [e["frame"] for e in events if e["event"] == "frame"] == list(FRAMES)
    names = json.loads((shot_dir / "prompts.json").read_text())["instances"]
    expected = {f"{instance['name']}.A" for instance in names}
    for frame in FRAMES:
        layers = read_layers(tmp_path / f"m.{frame}.exr")
        crypto = {channel for channel in layers if channel.startswith("CryptoObject")}
        assert set(layers) - crypto == expected
        assert {f"CryptoObject00.{c}" for c in "RGBA"} <= crypto
        for instance in names:
            matte = layers[f"{instance['name']}.A"]
            assert matte.shape == (96, 160) and 0.0 <= matte.min() and matte.max() <= 1.0


def test_dry_run_plans_without_writing(shot_dir, tiny_weights, tmp_path):
    result = run_cli(*base_args(shot_dir, tiny_weights, tmp_path), "--dry-run", "--progress", "json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["frames"] == [1001, 1008] and plan["segments"] == [[1001, 1004], [1005, 1008]]
    assert not list(tmp_path.glob("*.exr"))


def test_killed_run_resumes_to_identical_mattes(shot_dir, tiny_weights, tmp_path):
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    assert run_cli(*base_args(shot_dir, tiny_weights, reference), "--progress", "none").returncode == 0
    process = subprocess.Popen([str(EXECUTABLE), *map(str, base_args(shot_dir, tiny_weights, resumed)), "--progress", "json"],
                               stdout=subprocess.PIPE, text=True)
    for line in process.stdout:  # kill it as soon as the first frame is on disk
        if json.loads(line)["event"] == "frame":
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    written_before = sorted(p.name for p in resumed.glob("m.*.exr"))
    assert 1 <= len(written_before) < 8
    result = run_cli(*base_args(shot_dir, tiny_weights, resumed), "--progress", "json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert sum(e["event"] == "skip" for e in events) >= len(written_before)
    for frame in FRAMES:
        ours, theirs = read_layers(resumed / f"m.{frame}.exr"), read_layers(reference / f"m.{frame}.exr")
        for channel in theirs:
            np.testing.assert_array_equal(ours[channel], theirs[channel], err_msg=f"frame {frame} {channel}")


def test_segments_in_separate_processes_assemble_to_the_whole_run(shot_dir, tiny_weights, tmp_path):
    whole, pieces = tmp_path / "whole", tmp_path / "pieces"
    assert run_cli(*base_args(shot_dir, tiny_weights, whole), "--progress", "none").returncode == 0
    for segment in ("1001-1004", "1005-1008"):
        result = run_cli(*base_args(shot_dir, tiny_weights, pieces), "--segment", segment, "--progress", "none")
        assert result.returncode == 0, result.stderr
        shutil.rmtree(pieces / ".rmpsam_cache")  # each farm task starts with no shared cache
    for frame in FRAMES:
        ours, theirs = read_layers(pieces / f"m.{frame}.exr"), read_layers(whole / f"m.{frame}.exr")
        for channel in theirs:
            np.testing.assert_array_equal(ours[channel], theirs[channel], err_msg=f"frame {frame} {channel}")


def test_keyframe_matte_is_the_keyframe_decode(shot_dir, tiny_weights, tmp_path):
    """A keyframe's matte is its own decode, whichever frames a run writes: the whole shot or only
    that frame (`--segment`, as a farm task would)."""
    from rmpsam_plugin.prompts import load_prompts

    long_run, single = tmp_path / "long", tmp_path / "single"
    assert run_cli(*base_args(shot_dir, tiny_weights, long_run), "--no-temporal", "--progress", "none").returncode == 0
    prompts = load_prompts(shot_dir / "prompts.json")
    keyframe = prompts.keyframe_frames()[1]
    result = run_cli(*base_args(shot_dir, tiny_weights, single), "--no-temporal", "--segment", f"{keyframe}-{keyframe}",
                     "--progress", "none")
    assert result.returncode == 0, result.stderr
    ours, theirs = read_layers(long_run / f"m.{keyframe}.exr"), read_layers(single / f"m.{keyframe}.exr")
    for instance in prompts.names:
        np.testing.assert_array_equal(ours[f"{instance}.A"], theirs[f"{instance}.A"])


def file_format(path) -> tuple[str, dict[str, str]]:
    """(compression, channel -> pixel type) of an EXR, as OpenImageIO reads its header."""
    image = oiio.ImageInput.open(str(path))
    spec = image.spec()
    image.close()
    kinds = spec.channelformats or (spec.format,) * spec.nchannels
    return spec.getattribute("compression"), {name: str(kind) for name, kind in zip(spec.channelnames, kinds)}


def test_compression_and_matte_type_are_choosable(shot_dir, tiny_weights, tmp_path):
    result = run_cli(*base_args(shot_dir, tiny_weights, tmp_path), "--segment", "1001-1004",
                     "--compression", "piz", "--matte-type", "float", "--progress", "none")
    assert result.returncode == 0, result.stderr
    compression, kinds = file_format(tmp_path / "m.1002.exr")
    assert compression == "piz"
    assert set(kinds.values()) == {"float"} and any(name.startswith("CryptoObject") for name in kinds)


def test_lossy_compression_needs_the_cryptomatte_off(shot_dir, tiny_weights, tmp_path):
    refused = run_cli(*base_args(shot_dir, tiny_weights, tmp_path), "--compression", "dwaa", "--progress", "none")
    assert refused.returncode == 2
    assert "--compression dwaa is lossy" in refused.stderr and "--no-cryptomatte" in refused.stderr
    assert list(tmp_path.glob("m.*.exr")) == []

    result = run_cli(*base_args(shot_dir, tiny_weights, tmp_path), "--segment", "1001-1004", "--compression", "dwaa",
                     "--no-cryptomatte", "--progress", "none")
    assert result.returncode == 0, result.stderr
    compression, kinds = file_format(tmp_path / "m.1003.exr")
    assert compression == "dwaa" and set(kinds.values()) == {"half"}
    assert not any(name.startswith("CryptoObject") for name in kinds)

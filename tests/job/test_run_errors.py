"""Bad input to `rmpsam-matte run`: a specific message naming what is wrong, exit code 3, and
nothing already written lost (a rerun after the fix resumes)."""

from __future__ import annotations

import json
import shutil

import OpenImageIO as oiio
import pytest
from job_cli import FIRST_FRAME, run_cli

BAD_INPUT = 3


def _args(shot, weights, prompts, output):
    return ["run", shot / "plate.####.exr", "--prompts", prompts, "-o", output / "m.####.exr", "--weights", weights,
            "--threads", "1", "--no-temporal", "--progress", "json"]


def _broken_prompts(shot_dir, tmp_path, edit) -> object:
    document = json.loads((shot_dir / "prompts.json").read_text())
    edit(document)
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps(document))
    return path


def _first_keyframe(document):
    return document["instances"][0]["keyframes"][0]


def _click_outside(document):
    _first_keyframe(document)["positive_clicks"] = [[500.0, 20.0]]  # the plate is 160x96


def _keyframe_outside(document):
    _first_keyframe(document)["frame"] = 999


def _duplicate_name(document):
    document["instances"][1]["name"] = document["instances"][0]["name"]


def _inverted_box(document):
    _first_keyframe(document)["boxes"] = [[100.0, 10.0, 20.0, 50.0]]


def _unreadable_mask(document):
    _first_keyframe(document)["mask"] = "no_such_mask.exr"


@pytest.mark.parametrize("edit, expected", [
    (_click_outside, ["positive_clicks", "outside"]),
    (_keyframe_outside, ["999", "outside"]),
    (_duplicate_name, ["name", "unique"]),
    (_inverted_box, ["boxes", "x2"]),
    (_unreadable_mask, ["mask", "no_such_mask.exr"]),
], ids=["click-outside-frame", "keyframe-outside-sequence", "duplicate-instance", "inverted-box", "unreadable-mask"])
def test_bad_prompts_are_refused_before_any_work(shot_dir, tiny_weights, tmp_path, edit, expected):
    document = json.loads((shot_dir / "prompts.json").read_text())
    first_instance = document["instances"][0]["name"]
    prompts = _broken_prompts(shot_dir, tmp_path, edit)
    result = run_cli(*_args(shot_dir, tiny_weights, prompts, tmp_path / "out"))
    assert result.returncode == BAD_INPUT, result.stderr
    message = result.stderr.lower()
    for word in expected:
        assert word.lower() in message, result.stderr
    assert first_instance in result.stderr  # the instance is named
    assert str(prompts) in result.stderr  # and the file
    error = json.loads(result.stdout.splitlines()[-1])
    assert error["event"] == "error"
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_missing_plate_frame_is_named(shot_dir, tiny_weights, tmp_path):
    shot = tmp_path / "shot"
    shutil.copytree(shot_dir, shot)
    (shot / f"plate.{FIRST_FRAME + 5}.exr").unlink()
    result = run_cli(*_args(shot, tiny_weights, shot / "prompts.json", tmp_path / "out"))
    assert result.returncode == BAD_INPUT
    assert str(FIRST_FRAME + 5) in result.stderr and "missing" in result.stderr.lower(), result.stderr


def test_corrupt_frame_mid_run_keeps_written_frames_and_a_rerun_resumes(shot_dir, tiny_weights, tmp_path):
    """Keyframes 1001 and 1005: the segment 1001-1004 is written before the run reaches 1007."""
    shot, output = tmp_path / "shot", tmp_path / "out"
    shutil.copytree(shot_dir, shot)
    corrupt = shot / f"plate.{FIRST_FRAME + 6}.exr"
    original = corrupt.read_bytes()
    corrupt.write_bytes(original[: len(original) // 2])  # a truncated render

    result = run_cli(*_args(shot, tiny_weights, shot / "prompts.json", output))
    assert result.returncode == BAD_INPUT
    assert str(corrupt) in result.stderr and str(FIRST_FRAME + 6) in result.stderr, result.stderr
    written = sorted(output.glob("m.*.exr"))
    assert [p.name for p in written] == [f"m.{f}.exr" for f in range(FIRST_FRAME, FIRST_FRAME + 4)]
    for path in written:  # complete, readable files
        image = oiio.ImageInput.open(str(path))
        assert image is not None and image.read_image(oiio.FLOAT) is not None
        image.close()
    assert not list(output.glob(".*.partial"))

    corrupt.write_bytes(original)
    resumed = run_cli(*_args(shot, tiny_weights, shot / "prompts.json", output))
    assert resumed.returncode == 0, resumed.stderr
    events = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert sum(e["event"] == "skip" for e in events) == 4
    assert len(list(output.glob("m.*.exr"))) == 8

"""`farm check` alone (missing, stale and incomplete frames named, exit 4), and bad input refused with
a one-line error and its exit code before any file of the job is written."""

from __future__ import annotations

import json
import shutil

import OpenImageIO as oiio
import pytest
from conftest import rmpsam, shot_args

pytestmark = pytest.mark.slow


def check(shot, weights, output, prompts=None):
    args = shot_args(shot, weights, output)
    if prompts is not None:
        args[args.index("--prompts") + 1] = prompts
    return rmpsam("farm", "check", *args[:args.index("--executable")])


def drop_cryptomatte(path) -> None:
    """Rewrite a frame with its instance layers only, header (digests) kept: a frame whose writer lost a layer."""
    source = oiio.ImageBuf(str(path))
    names = [name for name in source.spec().channelnames if not name.startswith("CryptoObject")]
    kept = oiio.ImageBufAlgo.channels(source, tuple(names))
    for attribute in source.spec().extra_attribs:
        if attribute.name.startswith("rmpsam/"):
            kept.specmod().attribute(attribute.name, attribute.value)
    assert kept.write(str(path) + ".tmp.exr"), kept.geterror()
    shutil.move(str(path) + ".tmp.exr", path)


def test_check_names_missing_stale_and_incomplete_frames(farm_shot, farm_weights, whole_run, tmp_path):
    assert check(farm_shot, farm_weights, whole_run).returncode == 0
    output = tmp_path / "copy"
    shutil.copytree(whole_run, output, ignore=shutil.ignore_patterns(".rmpsam_cache"))
    for frame in (1002, 1003, 1004):
        (output / f"m.{frame}.exr").unlink()
    drop_cryptomatte(output / "m.1010.exr")
    result = check(farm_shot, farm_weights, output)
    assert result.returncode == 4
    lines = result.stderr.splitlines()
    assert lines == [f"rmpsam-matte farm check: missing frames 1002-1004: {output / 'm.1002.exr'}, "
                     f"{output / 'm.1003.exr'}, {output / 'm.1004.exr'}",
                     f"rmpsam-matte farm check: frame 1010 ({output / 'm.1010.exr'}) lacks layers CryptoObject00"]

    moved = json.loads((farm_shot / "prompts.json").read_text())
    moved["instances"][0]["keyframes"][0]["positive_clicks"][0][0] += 1.0  # other prompts: every frame is stale
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    stale = check(farm_shot, farm_weights, whole_run, prompts=tmp_path / "moved.json")
    assert stale.returncode == 4
    assert stale.stderr.startswith("rmpsam-matte farm check: stale frames (other weights, prompts or settings) 1001-1012: ")


def test_bad_input_is_refused_before_anything_is_written(farm_shot, farm_weights, whole_run, tmp_path):
    manager, job = "deadline", tmp_path / "job"
    target = ["--job-dir", job]
    args = shot_args(farm_shot, farm_weights, tmp_path / "out")

    no_prompts = rmpsam("farm", manager, *args[:1], *args[3:], *target)
    assert no_prompts.returncode == 2 and "Missing option '--prompts'" in no_prompts.stderr

    over_plate = list(args)
    over_plate[over_plate.index("-o") + 1] = farm_shot / "plate.####.exr"
    refused = rmpsam("farm", manager, *over_plate, *target)
    assert refused.returncode == 3
    assert refused.stderr.splitlines() == [
        f"rmpsam-matte farm {manager}: error: output frame 1001 ({farm_shot / 'plate.1001.exr'}) is the same file as "
        f"the plate frame 1001 ({farm_shot / 'plate.1001.exr'}): refusing to overwrite an input; choose another output pattern"]

    finished = list(args)
    finished[finished.index("-o") + 1] = whole_run / "m.####.exr"
    nothing = rmpsam("farm", manager, *finished, *target)
    assert nothing.returncode == 3
    assert nothing.stderr.startswith(f"rmpsam-matte farm {manager}: error: nothing to submit: all 12 frames of ")

    owned = rmpsam("farm", manager, *args[:-4], "--run-args", "--segment 1001-1004", *target)
    assert owned.returncode == 2 and "--segment is set by the farm job itself" in owned.stderr

    unknown = rmpsam("farm", "slurm", *args, *target)
    assert unknown.returncode == 2 and "No such command 'slurm'" in unknown.stderr
    assert not job.exists() and not (tmp_path / "out").exists()

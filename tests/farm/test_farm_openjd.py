"""`farm openjd`: the template passes the real `openjd check`, and the real `openjd run` of it writes
the frames of a single whole-shot run bit for bit; its Check step then names a deleted frame."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
from conftest import FRAMES, SEGMENTS, rmpsam, shot_args

OPENJD = Path(sys.executable).parent / "openjd"
pytestmark = pytest.mark.slow


def openjd(*args, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([str(OPENJD), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def read_channels(path: Path) -> dict[str, np.ndarray]:
    image = oiio.ImageInput.open(str(path))
    assert image is not None, oiio.geterror()
    spec = image.spec()
    pixels = image.read_image(oiio.FLOAT).reshape(spec.height, spec.width, spec.nchannels)
    image.close()
    return {name: pixels[..., index] for index, name in enumerate(spec.channelnames)}


def assert_same_frames(ours: Path, reference: Path, frames) -> None:
    for frame in frames:
        mine, theirs = read_channels(ours / f"m.{frame}.exr"), read_channels(reference / f"m.{frame}.exr")
        assert sorted(mine) == sorted(theirs)
        for channel, plane in theirs.items():
            np.testing.assert_array_equal(mine[channel], plane, err_msg=f"frame {frame} {channel}")


def make_template(shot, weights, output, template, *extra) -> dict:
    result = rmpsam("farm", "openjd", *shot_args(shot, weights, output), "--template", template, "--json", *extra)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["files"] == [str(template), str(template.with_name("job.parameters.json"))]
    checked = openjd("check", template)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    return json.loads(template.read_text())


def test_openjd_run_equals_one_whole_run_and_its_check_names_a_deleted_frame(farm_shot, farm_weights, whole_run,
                                                                               tmp_path):
    output, template = tmp_path / "mattes", tmp_path / "job" / "job.yaml"
    document = make_template(farm_shot, farm_weights, output, template)
    segments_step, check_step = document["steps"]
    assert segments_step["parameterSpace"]["taskParameterDefinitions"][0]["range"] == [f"{a}-{b}" for a, b in SEGMENTS]
    assert check_step["dependencies"] == [{"dependsOn": "Segments"}]
    assert {p["name"]: p["type"] for p in document["parameterDefinitions"]} == dict.fromkeys(
        ["Plate", "Prompts", "Output", "Weights"], "PATH")
    parameters = f"file://{template.with_name('job.parameters.json')}"

    ran = openjd("run", template, "-p", parameters)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert ran.stdout.count('"event": "done"') == 3 and "all 12 frames 1001-1012" in ran.stdout
    assert sorted(p.name for p in output.glob("m.*.exr")) == [f"m.{f}.exr" for f in FRAMES]
    assert_same_frames(output, whole_run, FRAMES)

    (output / "m.1006.exr").unlink()
    checked = openjd("run", template, "-p", parameters, "--step", "Check")
    assert checked.returncode != 0
    assert f"missing frames 1006: {output / 'm.1006.exr'}" in checked.stdout


def test_openjd_check_passes_for_cuda_and_paths_with_spaces(farm_shot, farm_weights, tmp_path):
    cuda = make_template(farm_shot, farm_weights, tmp_path / "out", tmp_path / "cuda" / "job.yaml", "--device", "cuda")
    amounts = {a["name"]: a["min"] for a in cuda["steps"][0]["hostRequirements"]["amounts"]}
    assert amounts["amount.worker.gpu"] == 1 and amounts["amount.worker.gpu.memory"] >= 256
    args = cuda["steps"][0]["script"]["actions"]["onRun"]["args"]
    assert "--device" in args and args[args.index("--device") + 1] == "cuda"

    spaced_shot = tmp_path / "shot with spaces"
    shutil.copytree(farm_shot, spaced_shot)
    output = tmp_path / "matte folder" / "out put"
    spaced = make_template(spaced_shot, farm_weights, output, tmp_path / "job dir" / "job.yaml")
    values = json.loads((tmp_path / "job dir" / "job.parameters.json").read_text())
    assert values["Plate"] == str(spaced_shot / "plate.####.exr") and values["Output"] == str(output / "m.####.exr")
    assert "{{Param.Plate}}" in spaced["steps"][0]["script"]["actions"]["onRun"]["args"]


def test_paths_of_the_submitting_machine_reach_the_tasks_through_path_mapping(farm_shot, farm_weights, whole_run,
                                                                                tmp_path):
    """Parameters as the submitting workstation named them (/mnt/projects/...), mapped by the node's
    rules: the PATH parameters are rewritten before the Check step's command sees them.

    Windows-style sources (C:\\...) cannot be exercised here: openjd-cli 0.8 joins a value that is
    not absolute on this OS to its working directory before any rule applies (seen:
    "no frames on disk match '<cwd>/C:\\shots\\...'"), so a mapped job would have to come from a
    render manager that stores the submitter's OS with the values, as AWS Deadline Cloud does."""
    template = tmp_path / "job.yaml"
    make_template(farm_shot, farm_weights, tmp_path / "unused", template)
    workstation = {"Plate": "/mnt/projects/sh010/plate.####.exr", "Prompts": "/mnt/projects/sh010/prompts.json",
                   "Output": "/mnt/renders/sh010/m.####.exr", "Weights": "/mnt/weights/tiny.safetensors"}
    rules = {"version": "pathmapping-1.0", "path_mapping_rules": [
        {"source_path_format": "POSIX", "source_path": "/mnt/projects/sh010", "destination_path": str(farm_shot)},
        {"source_path_format": "POSIX", "source_path": "/mnt/renders/sh010", "destination_path": str(whole_run)},
        {"source_path_format": "POSIX", "source_path": "/mnt/weights", "destination_path": str(farm_weights.parent)},
    ]}
    checked = openjd("run", template, "-p", json.dumps(workstation), "--step", "Check",
                     "--path-mapping-rules", json.dumps(rules))
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert f"all 12 frames 1001-1012 of {whole_run / 'm.####.exr'} are finished" in checked.stdout

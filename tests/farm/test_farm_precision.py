"""`--run-args '--precision int8'` travels into a farm job: the task commands carry it, and the farm
check expects int8 frames (a float32 shot is stale to it, an int8 one finished); int8 with
`--device cuda` is refused at submission with exit code 3."""

from __future__ import annotations

import json
import os

import pytest
from conftest import RUN_ARGS, RUN_OPTIONS, rmpsam, shot_args

from rmpsam_model.int8 import CACHE_ENVIRONMENT

pytest.importorskip("onnxruntime")


def with_run_args(args: list, run_args: str) -> list:
    args = list(args)
    args[args.index("--run-args") + 1] = run_args
    return args


def test_precision_reaches_the_tasks_and_the_check(farm_shot, farm_weights, whole_run, tmp_path):
    environment = {**os.environ, CACHE_ENVIRONMENT: str(tmp_path / "int8-cache")}
    output = tmp_path / "int8"
    ran = rmpsam("run", farm_shot / "plate.####.exr", "--prompts", farm_shot / "prompts.json", "-o", output / "m.####.exr",
                 "--weights", farm_weights, *RUN_OPTIONS, RUN_ARGS, "--precision", "int8", "--progress", "none",
                 env=environment)
    assert ran.returncode == 0, ran.stderr
    int8_args = f"{RUN_ARGS} --precision int8"

    def check(folder, run_args):
        args = with_run_args(shot_args(farm_shot, farm_weights, folder), run_args)
        return rmpsam("farm", "check", *args[:args.index("--executable")], env=environment)

    assert check(output, int8_args).returncode == 0
    stale = check(whole_run, int8_args)  # float32 frames, an int8 job: every frame is to be recomputed
    assert stale.returncode == 4 and "stale frames (other weights, prompts or settings) 1001-1012" in stale.stderr
    assert check(output, RUN_ARGS).returncode == 4

    template = tmp_path / "job" / "job.yaml"
    args = with_run_args(shot_args(farm_shot, farm_weights, tmp_path / "out"), int8_args)
    made = rmpsam("farm", "openjd", *args, "--template", template, "--json")
    assert made.returncode == 0, made.stderr
    segments_step, check_step = json.loads(template.read_text())["steps"]
    task = segments_step["script"]["actions"]["onRun"]["args"]
    assert task[task.index("--precision") + 1] == "int8"
    assert check_step["script"]["actions"]["onRun"]["args"][-2:] == ["--run-args", int8_args]

    cuda = rmpsam("farm", "openjd", *args, "--device", "cuda", "--template", tmp_path / "cuda.yaml")
    assert cuda.returncode == 3 and "--precision int8" in cuda.stderr and "--device cuda" in cuda.stderr, cuda.stderr

"""`rmpsam-matte run --precision int8|int8-bf16|float32` through the real CLI, on the tiny random network.

int8 frames are close to float32's (the tolerances below; measured on this shot: mean |difference|
0.0000-0.0027 per frame and instance, IoU of the mattes thresholded at 0.5 0.986-1.0), their
header records int8, and precision is part of the settings that change mattes: a rerun with the
other precision rewrites every frame (as for `--overlap`), a rerun with the same one skips them.
int8 with a CUDA device, or without the int8 extra, is refused with exit code 3 before any work.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from exr_channels import read_channels
from job_cli import EXECUTABLE, FIRST_FRAME

from rmpsam_model.bfloat16 import bfloat16_units
from rmpsam_model.int8 import CACHE_ENVIRONMENT
from rmpsam_plugin import VideoSession, load_model, run_job, with_precision
from rmpsam_plugin.errors import InputError
from rmpsam_plugin.images.reader import read_header
from rmpsam_plugin.job import precision as precision_module

pytest.importorskip("onnxruntime")

FRAMES = range(FIRST_FRAME, FIRST_FRAME + 8)
MEAN_ABS_MAX = 0.01  # per frame and instance: mean |int8 - float32| of the stored matte
IOU_MIN = 0.97  # per frame and instance: IoU of the two mattes thresholded at 0.5
MEAN_IOU_MIN = 0.98  # over the shot (issue 15's prompt-mask target)


def run(*args, cache) -> subprocess.CompletedProcess:
    environment = {**os.environ, CACHE_ENVIRONMENT: str(cache)}
    return subprocess.run([str(EXECUTABLE), *map(str, args)], capture_output=True, text=True, timeout=240,
                          env=environment)


def job_args(shot_dir, weights, output, precision) -> list:
    return ["run", shot_dir / "plate.####.exr", "--prompts", shot_dir / "prompts.json", "-o", output / "m.####.exr",
            "--weights", weights, "--threads", "1", "--precision", precision, "--progress", "json"]


def counts(result: subprocess.CompletedProcess) -> tuple[int, int]:
    done = [json.loads(line) for line in result.stdout.splitlines() if '"done"' in line][-1]
    return done["written"], done["skipped"]


@pytest.fixture(scope="module")
def both(shot_dir, tiny_weights, tmp_path_factory):
    """The shot run in float32 and in int8 (the int8 model cached in a folder of its own)."""
    folder = tmp_path_factory.mktemp("precision")
    for precision in ("float32", "int8"):
        result = run(*job_args(shot_dir, tiny_weights, folder / precision, precision), cache=folder / "int8-cache")
        assert result.returncode == 0, result.stderr
    return folder


def settings_of(path) -> dict:
    return json.loads(read_header(path).attributes["rmpsam/settings"])


def test_int8_frames_are_close_to_float32_and_say_int8(both):
    ious, differ = [], False
    for frame in FRAMES:
        reference, quantised = (read_channels(both / p / f"m.{frame}.exr") for p in ("float32", "int8"))
        assert settings_of(both / "int8" / f"m.{frame}.exr")["precision"] == "int8"
        assert settings_of(both / "float32" / f"m.{frame}.exr")["precision"] == "float32"
        layers = [name for name in reference if name.endswith(".A") and not name.startswith("Crypto")]
        assert len(layers) == 2
        for name in layers:
            a, b = reference[name], quantised[name]
            assert (a > 0.5).mean() > 0.1  # a real matte, not an empty one that would agree trivially
            mean_abs = float(np.abs(a - b).mean())
            iou = np.logical_and(a > 0.5, b > 0.5).sum() / np.logical_or(a > 0.5, b > 0.5).sum()
            assert mean_abs <= MEAN_ABS_MAX and iou >= IOU_MIN, (frame, name, mean_abs, iou)
            ious.append(iou)
            differ |= bool((a != b).any())
    assert np.mean(ious) >= MEAN_IOU_MIN
    assert differ  # the int8 backbone really ran
    assert [p.suffix for p in (both / "int8-cache").iterdir()] == [".onnx"]


def test_a_rerun_with_the_other_precision_rewrites_every_frame_and_the_same_one_skips_them(both, shot_dir, tiny_weights,
                                                                                           tmp_path):
    output = tmp_path / "switched"
    shutil.copytree(both / "int8", output)
    switched = run(*job_args(shot_dir, tiny_weights, output, "float32"), cache=both / "int8-cache")
    assert switched.returncode == 0, switched.stderr
    assert counts(switched) == (8, 0)
    for frame in FRAMES:
        assert settings_of(output / f"m.{frame}.exr")["precision"] == "float32"
        ours, reference = read_channels(output / f"m.{frame}.exr"), read_channels(both / "float32" / f"m.{frame}.exr")
        for name in reference:
            np.testing.assert_array_equal(ours[name], reference[name], err_msg=f"frame {frame} {name}")

    again = run(*job_args(shot_dir, tiny_weights, both / "int8", "int8"), cache=both / "int8-cache")
    assert again.returncode == 0, again.stderr
    assert counts(again) == (0, 8)


def test_int8_bf16_runs_where_the_cpu_has_bfloat16_units_and_is_refused_elsewhere(both, shot_dir, tiny_weights, tmp_path):
    """The branch this machine takes is its own: both outcomes are real behaviour (the refusal's
    wording on another CPU's flags is `tests/model/test_bfloat16_products.py`'s)."""
    result = run(*job_args(shot_dir, tiny_weights, tmp_path / "out", "int8-bf16"), cache=both / "int8-cache")
    if bfloat16_units() is None:
        assert result.returncode == 3, result.stderr
        assert "int8-bf16 needs a CPU with bfloat16 units" in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "out").exists()
        return
    assert result.returncode == 0, result.stderr
    assert counts(result) == (8, 0)
    ious = []
    for frame in FRAMES:
        assert settings_of(tmp_path / "out" / f"m.{frame}.exr")["precision"] == "int8-bf16"
        reference, reduced = (read_channels(folder / f"m.{frame}.exr") for folder in (both / "float32", tmp_path / "out"))
        for name in (name for name in reference if name.endswith(".A") and not name.startswith("Crypto")):
            a, b = reference[name], reduced[name]
            iou = np.logical_and(a > 0.5, b > 0.5).sum() / np.logical_or(a > 0.5, b > 0.5).sum()
            assert float(np.abs(a - b).mean()) <= MEAN_ABS_MAX and iou >= IOU_MIN, (frame, name, iou)
            ious.append(iou)
    assert np.mean(ious) >= MEAN_IOU_MIN


def test_int8_on_cuda_is_bad_input_naming_both_options(shot_dir, tiny_weights, tmp_path):
    result = run(*job_args(shot_dir, tiny_weights, tmp_path / "out", "int8"), "--device", "cuda", cache=tmp_path)
    assert result.returncode == 3, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("rmpsam-matte run: error: ")
    assert "--precision int8" in message and "--device cuda" in message and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_onnxruntime_names_the_int8_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    with pytest.raises(InputError, match=r"onnxruntime.*rmpsam-matte\[int8\]") as raised:
        precision_module.check_precision("int8", "cpu")
    assert raised.value.exit_code == 3
    precision_module.check_precision("float32", "cpu")  # float32 needs nothing more


def test_the_api_takes_precision_and_refuses_a_model_in_the_other_one(shot_dir, tiny_weights, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENVIRONMENT, str(tmp_path / "cache"))
    with pytest.raises(InputError, match="--precision int8.*--device cuda"):
        VideoSession.open(shot_dir / "plate.####.exr", precision="int8", device="cuda")
    float_model = load_model(tiny_weights)
    with pytest.raises(InputError, match="runs in float32.*precision int8"):
        run_job(plate=str(shot_dir / "plate.####.exr"), prompts=shot_dir / "prompts.json",
                output=str(tmp_path / "api" / "m.####.exr"), model=float_model, precision="int8")
    int8_model = with_precision(load_model(tiny_weights), "int8")
    with VideoSession.open(shot_dir / "plate.####.exr", model=int8_model, precision="int8", temporal=False) as session:
        matte = session.set_prompts(FIRST_FRAME, "a", boxes=[[20, 20, 90, 70]])
    assert matte.shape == (96, 160) and session.model is int8_model

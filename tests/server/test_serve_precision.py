"""`rmpsam-matte serve --precision`: an int8 server decodes clicks close to a float32 one, says so in
`GET /health` and hands its precision to the jobs it starts; int8 with a CUDA device is refused
before listening (exit 3). int8-bf16 likewise, where the CPU has bfloat16 units."""

from __future__ import annotations

import numpy as np
import pytest
from preview_client import FIRST_FRAME, run_cli

from rmpsam_model.bfloat16 import bfloat16_units
from rmpsam_model.int8 import CACHE_ENVIRONMENT
from rmpsam_plugin.server.matte_encoding import decode_matte

pytest.importorskip("onnxruntime")

IOU_MIN = 0.97  # the two servers' mattes thresholded at 0.5


def matte(server, prompts: dict) -> np.ndarray:
    response = server.request("POST", "/decode", {"frame": FIRST_FRAME, **prompts, "encoding": "float16"})
    assert response.status == 200, response
    body = response.json()
    return decode_matte(body["matte"], body["encoding"], body["width"], body["height"])


def test_an_int8_server_answers_like_a_float32_one(start_server, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENVIRONMENT, str(tmp_path / "int8-cache"))
    prompts = {"boxes": [[20, 20, 90, 70]]}
    quantised = start_server("--precision", "int8")
    assert quantised.announcement["precision"] == "int8"
    reference = start_server()
    assert reference.announcement["precision"] == "float32"
    for server, precision in ((quantised, "int8"), (reference, "float32")):  # what runs, over real HTTP
        health = server.request("GET", "/health", timeout=30)
        assert health.status == 200 and health.json()["precision"] == precision, health
    a, b = matte(reference, prompts), matte(quantised, prompts)
    iou = np.logical_and(a > 0.5, b > 0.5).sum() / np.logical_or(a > 0.5, b > 0.5).sum()
    assert (a > 0.5).mean() > 0.05 and iou >= IOU_MIN and float(np.abs(a - b).mean()) <= 0.01, iou
    assert list((tmp_path / "int8-cache").glob("*.onnx"))


def test_jobs_started_by_the_server_run_in_its_precision(tmp_path):
    from rmpsam_cli.serve_cmd import _job_arguments

    arguments = _job_arguments(tmp_path / "w.safetensors", None, "rgba", None, "int8")
    assert arguments[arguments.index("--precision") + 1] == "int8"


def test_int8_with_cuda_is_refused_before_listening(plate_pattern, tiny_weights):
    result = run_cli("serve", "--plate", plate_pattern, "--weights", tiny_weights, "--precision", "int8",
                     "--device", "cuda", timeout=120)
    assert result.returncode == 3, (result.returncode, result.stderr)
    assert "--precision int8" in result.stderr and "--device cuda" in result.stderr and result.stdout == ""


def test_an_int8_bf16_server_says_so_where_the_cpu_has_bfloat16_units_and_is_refused_elsewhere(
        start_server, plate_pattern, tiny_weights, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENVIRONMENT, str(tmp_path / "int8-cache"))
    if bfloat16_units() is None:  # this machine's own branch: both are real behaviour
        result = run_cli("serve", "--plate", plate_pattern, "--weights", tiny_weights, "--precision", "int8-bf16",
                         timeout=120)
        assert result.returncode == 3 and "bfloat16 units" in result.stderr and result.stdout == "", result.stderr
        return
    server = start_server("--precision", "int8-bf16")
    assert server.announcement["precision"] == "int8-bf16"
    health = server.request("GET", "/health", timeout=30)
    assert health.status == 200 and health.json()["precision"] == "int8-bf16", health
    assert (matte(server, {"boxes": [[20, 20, 90, 70]]}) > 0.5).mean() > 0.05

"""`rmpsam-matte edit --precision`: the window's session runs in the precision chosen, and so does the
shot it runs; what `run` refuses (int8 with a CUDA device) is refused before any window (exit 3)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from editor_fixtures import WAIT_MS, wait_idle

from rmpsam_plugin.editor.main_window import EditorOptions
from rmpsam_plugin.images.reader import read_header
from rmpsam_plugin.server.jobs import DEFAULT_CLI


def test_the_preview_session_and_the_shot_run_use_the_precision_chosen(qtbot, make_window, shot, tiny_weights,
                                                                       tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from rmpsam_model.int8 import CACHE_ENVIRONMENT
    from rmpsam_plugin.job.precision import precision_of

    monkeypatch.setenv(CACHE_ENVIRONMENT, str(tmp_path / "int8-cache"))  # the shot run inherits it
    window = make_window(options=EditorOptions(weights=str(tiny_weights), precision="int8"))
    assert window.open_plate(str(shot / "plate.####.exr"))
    assert window.open_prompts(shot / "prompts.json")
    wait_idle(qtbot, window)
    session = window.preview.worker.context
    assert session.precision == "int8" and precision_of(session.model) == "int8"
    assert session.result_settings["precision"] == "int8"
    uids = [entry.uid for entry in window.store.state]
    qtbot.waitUntil(lambda: all(window.preview.matte(uid, 1001) is not None for uid in uids), timeout=WAIT_MS)
    assert window.preview.matte(uids[0], 1001).shape == (96, 160)  # the int8 network answered the keyframe

    assert window.run_shot(str(shot / "out" / "m.####.exr"))
    arguments = window.shot_run.arguments
    assert arguments[arguments.index("--precision") + 1] == "int8"
    with qtbot.waitSignal(window.shot_run.finished, timeout=WAIT_MS * 3) as finished:
        pass
    assert finished.args[0] == 0, finished.args
    for frame in (1001, 1004):
        settings = json.loads(read_header(shot / "out" / f"m.{frame}.exr").attributes["rmpsam/settings"])
        assert settings["precision"] == "int8"


def test_float32_is_the_default_and_is_passed_to_the_run():
    arguments = EditorOptions().run_arguments()
    assert arguments[arguments.index("--precision") + 1] == "float32"


def run_edit(*arguments: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}  # should a window open after all, no display needed
    return subprocess.run([*DEFAULT_CLI, "edit", *arguments], capture_output=True, text=True, timeout=120,
                          env=environment, stdin=subprocess.DEVNULL)


def test_int8_with_cuda_is_refused_before_any_window(shot, tiny_weights):
    result = run_edit(str(shot / "plate.####.exr"), "--weights", str(tiny_weights), "--precision", "int8",
                      "--device", "cuda")
    assert result.returncode == 3, (result.returncode, result.stderr)
    assert result.stderr.startswith("rmpsam-matte edit: error: --precision int8")
    assert "--device cuda" in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_precision_is_a_usage_error():
    result = run_edit("plate.####.exr", "--precision", "int4")
    assert result.returncode == 2 and "int4" in result.stderr and "float32" in result.stderr

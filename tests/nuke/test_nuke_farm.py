"""Submit to farm from the node: the REAL `rmpsam-matte farm deadline` (subprocess, as Run locally
starts `run`) writes the job files beside the output and submits them through a recording
`deadlinecommand` on PATH; a manager the tool does not know is refused before anything runs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nuke
import pytest
from nuke_support import SHOT_FRAMES, plate_read, rmpsam_below
from shot_fixtures import FIRST_FRAME, SHOT_HEIGHT, SHOT_WIDTH

from nuke_bridge import actions

FARM_TESTS = Path(__file__).resolve().parents[1] / "farm"
sys.path.insert(0, str(FARM_TESTS))
from deadlinecommand_standin import install  # noqa: E402

EXECUTABLE = Path(sys.executable).parent / "rmpsam-matte"
pytestmark = pytest.mark.slow


def farm_node(nuke_shot, weights, output_dir, manager):
    node = rmpsam_below(plate_read(nuke_shot / "plate.####.exr", FIRST_FRAME, FIRST_FRAME + SHOT_FRAMES - 1,
                                   SHOT_WIDTH, SHOT_HEIGHT))
    assert actions.import_prompts(node, str(nuke_shot / "prompts.json")) is not None, nuke.MESSAGES
    node["prompt_file"].setValue("")
    node["output"].setValue(str(output_dir / "mattes" / "sh.####.exr"))
    node["executable"].setValue(str(EXECUTABLE))
    node["weights"].setValue(str(weights))
    node["threads"].setValue(1)
    node["extra_args"].setValue("--no-temporal")
    node["farm_manager"].setValue(manager)
    return node


def test_submit_to_farm_writes_and_submits_deadline_jobs(nuke_shot, tiny_weights, tmp_path, monkeypatch):
    log = tmp_path / "deadlinecommand.log"
    install(tmp_path / "bin", log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    node = farm_node(nuke_shot, tiny_weights, tmp_path, "deadline")
    run = actions.submit_to_farm(node)
    assert run is not None, nuke.MESSAGES
    assert nuke.run_until(lambda: run.finished.is_set(), timeout=300), "the submission did not finish"
    nuke.process_events()
    assert run.result.ok, run.result.error
    job_dir = tmp_path / "mattes" / "RMPSAM1.deadline"
    assert run.result.done_event["submitted"] == ["standin0001", "standin0002"]
    accepted = [json.loads(line) for line in log.read_text().splitlines() if "files" in line]
    assert sorted(accepted[0]["files"]) == sorted(str(job_dir / name) for name in (
        "segments.job_info.txt", "segments.plugin_info.txt", "check.job_info.txt", "check.plugin_info.txt"))
    segments = accepted[0]["files"][str(job_dir / "segments.job_info.txt")]
    assert "Frames=1001,1003\n" in segments  # one task per keyframe segment of the node's prompts
    assert "--no-temporal" in accepted[0]["files"][str(job_dir / "segments.plugin_info.txt")]
    assert nuke.MESSAGES == [f"RMPSAM1: {run.result.done_event['message']}"]


def test_an_unknown_manager_is_refused_before_anything_runs(nuke_shot, tiny_weights, tmp_path, monkeypatch):
    monkeypatch.delenv("RMPSAM_FARM_MANAGER", raising=False)
    node = farm_node(nuke_shot, tiny_weights, tmp_path, "slurm")
    assert actions.submit_to_farm(node) is None
    assert nuke.MESSAGES == ["RMPSAM: farm manager 'slurm' is not one of openjd, opencue, deadline; "
                             "set the node's farm manager knob or $RMPSAM_FARM_MANAGER"]
    assert not (tmp_path / "mattes").exists()

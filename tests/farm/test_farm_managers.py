"""`farm opencue` and `farm deadline`: the OpenCue spec pyoutline writes validates against Cuebot's
DTD with the right dependency and per-task commands; Deadline's files parse back to the plan's
tasks, one of them run for real equals the whole run, and a recording `deadlinecommand` receives
exactly the files written. Also `farm plan`'s numbers."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import EXECUTABLE, SEGMENTS, rmpsam, shot_args
from deadlinecommand_standin import install, read_keys
from lxml import etree
from test_farm_openjd import assert_same_frames

DTD = Path(__file__).resolve().parents[1] / "fixtures" / "farm" / "cjsl-1.15.dtd"
pytestmark = pytest.mark.slow


def isolated_env(tmp_path: Path, **extra) -> dict:
    """No Cuebot configuration and no deadlinecommand from the machine leak in."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CUEBOT", "OPENCUE"))}
    env.update(HOME=str(tmp_path / "home"), PATH=os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                                                 if not (Path(p) / "deadlinecommand").exists()))
    env.update(extra)
    return env


def plan_of(shot, weights, output, *extra) -> dict:
    result = rmpsam("farm", "plan", *shot_args(shot, weights, output), "--json", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_plan_lists_one_task_per_segment_with_estimates(farm_shot, farm_weights, tmp_path):
    cpu = plan_of(farm_shot, farm_weights, tmp_path / "out")
    assert [task["frames"] for task in cpu["tasks"]] == SEGMENTS and cpu["check"]["frames"] == [1001, 1012]
    for task in cpu["tasks"]:
        assert task["command"][-4:] == ["--segment", f"{task['frames'][0]}-{task['frames'][1]}", "--progress", "json"]
        assert task["vcpus"] == 1 and task["gpus"] == 0 and task["peak_memory_mib"] % 256 == 0
        assert task["peak_memory_mib"] >= 1.25 * 1500  # the process measured, with the headroom
    cuda = plan_of(farm_shot, farm_weights, tmp_path / "out", "--device", "cuda")
    assert all(task["gpus"] == 1 and task["gpu_memory_mib"] >= 256 for task in cuda["tasks"])
    assert all(c["peak_memory_mib"] <= p["peak_memory_mib"] for c, p in zip(cuda["tasks"], cpu["tasks"]))


def test_opencue_spec_validates_against_cuebots_dtd(farm_shot, farm_weights, tmp_path):
    spec_path = tmp_path / "job.xml"
    plan = plan_of(farm_shot, farm_weights, tmp_path / "out")
    result = rmpsam("farm", "opencue", *shot_args(farm_shot, farm_weights, tmp_path / "out"), "--xml", spec_path,
                    "--show", "testing", "--shot", "sh010", env=isolated_env(tmp_path))
    assert result.returncode == 0, result.stderr
    spec = etree.parse(str(spec_path))
    dtd = etree.DTD(str(DTD))
    assert dtd.validate(spec), dtd.error_log.filter_from_errors()
    layers = {layer.get("name"): layer for layer in spec.iter("layer")}
    assert list(layers) == ["segments", "check"]
    segments = layers["segments"]
    assert segments.findtext("range") == "1001,1005,1009" and segments.findtext("chunk") == "1"
    assert float(segments.findtext("cores")) == plan["tasks"][0]["vcpus"]
    assert segments.findtext("memory") == f"{max(t['peak_memory_mib'] for t in plan['tasks'])}m"
    depend = spec.find("depends/depend")
    assert depend.get("type") == "LAYER_ON_LAYER"
    assert (depend.findtext("deplayer"), depend.findtext("onlayer")) == ("check", "segments")
    for frame, (first, last) in zip((1001, 1005, 1009), SEGMENTS):  # what RQD runs for each task
        argv = shlex.split(segments.findtext("cmd").replace("#IFRAME#", str(frame)))
        assert argv[:6] == [str(EXECUTABLE), "farm", "segment", "--segments", "1001-1004,1005-1008,1009-1012", str(first)]
        assert argv[argv.index("--") + 1:] == plan["tasks"][0]["command"][2:-4]  # the run's own arguments
    assert shlex.split(layers["check"].findtext("cmd")) == plan["check"]["command"]


def test_opencue_submit_without_a_cuebot_says_so_and_writes_nothing(farm_shot, farm_weights, tmp_path):
    result = rmpsam("farm", "opencue", *shot_args(farm_shot, farm_weights, tmp_path / "out"), "--xml",
                    tmp_path / "job.xml", "--submit", env=isolated_env(tmp_path))
    assert result.returncode == 4
    assert "no Cuebot is configured: set CUEBOT_HOSTS" in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "job.xml").exists()


def test_deadline_files_parse_back_to_the_tasks_and_one_runs_as_planned(farm_shot, farm_weights, whole_run, tmp_path):
    output, job_dir = tmp_path / "mattes", tmp_path / "deadline job"
    result = rmpsam("farm", "deadline", *shot_args(farm_shot, farm_weights, output), "--job-dir", job_dir, "--json",
                    env=isolated_env(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["submitted"] is None and report["command"][:3] == ["deadlinecommand", "-SubmitMultipleJobs", "-dependent"]
    segments_job, segments_plugin = read_keys(job_dir / "segments.job_info.txt"), read_keys(job_dir / "segments.plugin_info.txt")
    assert segments_job["Plugin"] == "CommandLine" and segments_job["ChunkSize"] == "1"
    tasks = {}
    for frame in map(int, segments_job["Frames"].split(",")):  # Deadline's substitution, task by task
        argv = [segments_plugin["Executable"], *shlex.split(segments_plugin["Arguments"].replace("<STARTFRAME>", str(frame)))]
        spans = dict(tuple(map(int, s.split("-"))) for s in argv[argv.index("--segments") + 1].split(","))
        tasks[frame] = (argv, [frame, spans[frame]])
    assert [span for _, span in tasks.values()] == SEGMENTS
    check_job = read_keys(job_dir / "check.job_info.txt")
    assert (check_job["Plugin"], check_job["Frames"]) == ("CommandLine", "1001")

    argv, _ = tasks[1005]
    ran = subprocess.run(argv, capture_output=True, text=True, timeout=240)
    assert ran.returncode == 0, ran.stderr
    events = [json.loads(line) for line in ran.stdout.splitlines()]
    assert events[-1]["event"] == "done" and events[-1]["written"] == 4
    assert sorted(p.name for p in output.glob("m.*.exr")) == [f"m.{f}.exr" for f in range(1005, 1009)]
    assert_same_frames(output, whole_run, range(1005, 1009))


def test_deadline_submission_passes_the_files_it_wrote(farm_shot, farm_weights, tmp_path):
    log = tmp_path / "deadlinecommand.log"
    install(tmp_path / "bin", log)
    env = isolated_env(tmp_path)
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"
    job_dir = tmp_path / "job"
    result = rmpsam("farm", "deadline", *shot_args(farm_shot, farm_weights, tmp_path / "out"), "--job-dir", job_dir,
                    "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["submitted"] == ["standin0001", "standin0002"]
    accepted = [json.loads(line) for line in log.read_text().splitlines() if "files" in line]
    assert len(accepted) == 1 and accepted[0]["dependent"] is True
    names = ["segments.job_info.txt", "segments.plugin_info.txt", "check.job_info.txt", "check.plugin_info.txt"]
    assert accepted[0]["argv"] == ["-SubmitMultipleJobs", "-dependent",
                                   "-job", *map(str, (job_dir / n for n in names[:2])),
                                   "-job", *map(str, (job_dir / n for n in names[2:]))]
    assert accepted[0]["files"] == {str(job_dir / n): (job_dir / n).read_text() for n in names}

"""`run_job`: the CLI's job from Python, with the same events and the same exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rmpsam_plugin import InputError, OutputError, RunSettings, WeightsError, load_model, run_job
from rmpsam_plugin.job.output_lock import OutputLock


def cli_events(*args: object) -> list[dict]:
    command = [str(Path(sys.executable).parent / "rmpsam-matte"), *map(str, args), "--progress", "json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    return [json.loads(line) for line in result.stdout.splitlines()]


def without_timing(events: list[dict]) -> dict[str, list[dict]]:
    """Each kind of event in the order it came, without times and paths. Kinds are compared apart:
    frames are finished on worker threads while the next segment propagates, so how a `frame`
    event falls between `propagate` events depends on thread timing (it once differed by one
    place between two runs), while each kind's own sequence does not."""
    kinds: dict[str, list[dict]] = {}
    for event in events:
        kinds.setdefault(event["event"], []).append(
            {k: v for k, v in event.items() if k not in ("seconds", "path", "output")})
    return kinds


def test_progress_events_are_the_clis_json_lines(api_shot, tiny_weights, tmp_path):
    events: list[dict] = []
    result = run_job(plate=api_shot / "plate.####.exr", prompts=str(api_shot / "prompts.json"),
                     output=tmp_path / "api" / "m.####.exr", weights=tiny_weights, threads=1, temporal=False,
                     on_progress=events.append)
    assert (result.written, result.skipped) == (8, 0)
    assert result.plan["segments"] == [[1001, 1004], [1005, 1008]]
    cli = cli_events("run", api_shot / "plate.####.exr", "--prompts", api_shot / "prompts.json",
                     "-o", tmp_path / "cli" / "m.####.exr", "--weights", tiny_weights, "--threads", "1", "--no-temporal")
    assert without_timing(events) == without_timing(cli)
    assert [e["event"] for e in events].count("frame") == 8

    again: list[dict] = []
    rerun = run_job(RunSettings(plate=str(api_shot / "plate.####.exr"), prompts=api_shot / "prompts.json",
                                output=str(tmp_path / "api" / "m.####.exr"), weights=tiny_weights, threads=1,
                                temporal=False), on_progress=again.append)
    assert (rerun.written, rerun.skipped) == (0, 8) and [e["event"] for e in again].count("skip") == 8


def test_output_over_the_plates_raises_with_exit_code_3_and_an_error_event(api_shot, tiny_weights):
    events: list[dict] = []
    with pytest.raises(InputError, match="same file as the plate frame 1001") as caught:
        run_job(plate=api_shot / "plate.####.exr", prompts=api_shot / "prompts.json",
                output=api_shot / "plate.####.exr", weights=tiny_weights, on_progress=events.append)
    assert caught.value.exit_code == 3
    assert events == [{"event": "error", "message": str(caught.value)}]


def test_frames_held_by_another_run_raise_with_exit_code_4(api_shot, tiny_weights, tmp_path):
    output = tmp_path / "m.####.exr"
    with OutputLock(str(output), tmp_path, (1003, 1003)):
        with pytest.raises(OutputError, match="another run is writing frames") as caught:
            run_job(plate=api_shot / "plate.####.exr", prompts=api_shot / "prompts.json", output=output,
                    weights=tiny_weights)
    assert caught.value.exit_code == 4


def test_unusable_weights_raise_with_exit_code_3(api_shot, tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00not json")
    with pytest.raises(WeightsError) as caught:
        run_job(plate=api_shot / "plate.####.exr", prompts=api_shot / "prompts.json", output=tmp_path / "m.####.exr",
                weights=broken)
    assert caught.value.exit_code == 3 and str(broken) in str(caught.value)


def test_unknown_options_are_refused_by_name(api_shot):
    with pytest.raises(TypeError, match="unknown job option.*temporl"):
        run_job(plate=api_shot / "plate.####.exr", prompts=api_shot / "prompts.json", output="m.####.exr", temporl=False)


def test_a_model_loaded_once_serves_several_jobs(api_shot, tiny_weights, tmp_path):
    model = load_model(tiny_weights)
    for name in ("a", "b"):
        result = run_job(plate=api_shot / "plate.####.exr", prompts=api_shot / "prompts.json",
                         output=tmp_path / name / "m.####.exr", model=model, segment=(1005, 1006), temporal=False)
        assert result.written == 2
    assert (tmp_path / "a" / "m.1006.exr").read_bytes() == (tmp_path / "b" / "m.1006.exr").read_bytes()

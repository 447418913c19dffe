"""`VideoSession.write` records what made its mattes as `rmpsam-matte run` does: weights, prompts and
the settings that change mattes (`rmpsam/settings`, `RunSettings.result_key()`), so the real CLI,
run afterwards over the same output with the same plate, prompts, weights and options, finds the
frames already written and leaves them, and a run with other options rewrites them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rmpsam_plugin import VideoSession, load_model
from rmpsam_plugin.images.exr_output import write_exr
from rmpsam_plugin.images.geometry import Window
from rmpsam_plugin.images.reader import read_header
from rmpsam_plugin.job.settings import RunSettings
from rmpsam_plugin.prompts import load_prompts, prompts_digest
from rmpsam_plugin.prompts.masks import load_mask

FRAMES = range(1001, 1009)
CLI = str(Path(sys.executable).parent / "rmpsam-matte")


def prompt_from_file(session: VideoSession, prompt_file: Path) -> None:
    for track in load_prompts(prompt_file).instances:
        for frame, keyframe in track.keyframes.items():
            session.set_prompts(frame, track.name, clicks=keyframe.positive_clicks, negative=keyframe.negative_clicks,
                                boxes=keyframe.boxes)


def run_cli(plate: Path, prompts: Path, output: Path, weights: Path, *options: str) -> dict:
    """`rmpsam-matte run ... --progress json` in a subprocess; its `done` event."""
    command = [CLI, "run", str(plate), "--prompts", str(prompts), "-o", str(output), "--weights", str(weights),
               "--progress", "json", *options]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return next(event for event in events if event["event"] == "done")


def files_state(output: Path) -> dict[str, tuple[int, bytes]]:
    return {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in sorted(output.parent.glob("m.*.exr"))}


def header_settings(path: Path) -> dict:
    return json.loads(read_header(path).attributes["rmpsam/settings"])


@pytest.fixture(scope="module")
def model(tiny_weights):
    return load_model(tiny_weights)


def test_frames_written_by_a_session_are_already_written_for_the_same_run(api_shot, model, tiny_weights, tmp_path):
    output = tmp_path / "out" / "m.####.exr"
    with VideoSession.open(api_shot / "plate.####.exr", model=model) as session:
        prompt_from_file(session, api_shot / "prompts.json")
        paths = session.write(output)
    assert len(paths) == len(FRAMES)
    # The job's own settings, in the job's own format: every default of `run`.
    expected = RunSettings(plate="", prompts=None, output="").result_key()
    for path in paths:
        attributes = read_header(path).attributes
        assert attributes["rmpsam/settings"] == json.dumps(expected, sort_keys=True, separators=(",", ":"))
        assert attributes["rmpsam/weightsDigest"] == model.digest
    before = files_state(output)

    done = run_cli(api_shot / "plate.####.exr", api_shot / "prompts.json", output, tiny_weights)
    assert (done["written"], done["skipped"]) == (0, len(FRAMES))
    assert files_state(output) == before  # not one byte rewritten, not even touched


def test_session_options_are_recorded_and_only_a_run_with_the_same_options_skips(api_shot, model, tiny_weights,
                                                                                   tmp_path):
    output = tmp_path / "out" / "m.####.exr"
    with VideoSession.open(api_shot / "plate.####.exr", model=model, size=128, temporal=False, overlap="exclusive",
                           blend="nearest", tracker="redecode", refine_edges=False) as session:
        prompt_from_file(session, api_shot / "prompts.json")
        session.write(output)
    recorded = header_settings(output.parent / "m.1001.exr")
    assert recorded == {"size": 128, "layer": "rgba", "colour_space": None, "tracker": "redecode", "blend": "nearest",
                        "refine_edges": False, "temporal": False, "overlap": "exclusive", "precision": "float32",
                        "negative_clicks": "compete"}
    before = files_state(output)

    same = ["--size", "128", "--no-temporal", "--overlap", "exclusive", "--blend", "nearest", "--tracker", "redecode",
            "--no-refine-edges"]
    done = run_cli(api_shot / "plate.####.exr", api_shot / "prompts.json", output, tiny_weights, *same)
    assert (done["written"], done["skipped"]) == (0, len(FRAMES))
    assert files_state(output) == before

    # One option different (temporal on): every frame is rewritten, and records the job's settings.
    done = run_cli(api_shot / "plate.####.exr", api_shot / "prompts.json", output, tiny_weights, *same[:2],
                   *same[3:])
    assert (done["written"], done["skipped"]) == (len(FRAMES), 0)
    assert header_settings(output.parent / "m.1001.exr") == {**recorded, "temporal": True}


def test_an_int8_session_is_already_written_for_an_int8_run(api_shot, tiny_weights, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from rmpsam_model.int8 import CACHE_ENVIRONMENT
    from rmpsam_plugin.job.precision import with_precision

    monkeypatch.setenv(CACHE_ENVIRONMENT, str(tmp_path / "int8-cache"))  # the CLI below inherits it
    output = tmp_path / "out" / "m.####.exr"
    quantised = with_precision(load_model(tiny_weights), "int8")
    with VideoSession.open(api_shot / "plate.####.exr", model=quantised, precision="int8") as session:
        assert session.result_settings["precision"] == "int8"
        prompt_from_file(session, api_shot / "prompts.json")
        session.write(output)
    assert header_settings(output.parent / "m.1004.exr")["precision"] == "int8"
    before = files_state(output)
    done = run_cli(api_shot / "plate.####.exr", api_shot / "prompts.json", output, tiny_weights, "--precision", "int8")
    assert (done["written"], done["skipped"]) == (0, len(FRAMES))
    assert files_state(output) == before
    done = run_cli(api_shot / "plate.####.exr", api_shot / "prompts.json", output, tiny_weights)  # float32
    assert (done["written"], done["skipped"]) == (len(FRAMES), 0)


def test_a_mask_in_memory_counts_in_the_prompts_digest_as_the_same_mask_file_does(api_shot, model, tiny_weights,
                                                                                   tmp_path):
    painted = np.zeros((96, 160), np.float32)
    painted[30:60, 50:100] = 1.0
    painted[60:70, 50:100] = 0.25
    window = Window(0, 0, 160, 96)
    write_exr(tmp_path / "mask.exr", {"A": (painted, "float")}, data_window=window, display_window=window,
              pixel_aspect=1.0, compression="zip", metadata={})
    prompt_file = tmp_path / "masked.json"
    prompt_file.write_text(json.dumps({"schema": "rmpsam-prompts", "version": 1, "instances": [
        {"name": "painted", "keyframes": [{"frame": 1002, "mask": "mask.exr"}]}]}))
    from_file = load_prompts(prompt_file)
    mask = load_mask(from_file.instance("painted").keyframes[1002])

    output = tmp_path / "out" / "m.####.exr"
    with VideoSession.open(api_shot / "plate.####.exr", model=model) as session:
        session.set_prompts(1002, "painted", mask=mask)
        without_mask_digest = prompts_digest(session.prompts)  # the digest before this change: blind to the mask
        session.write(output)
    recorded = read_header(output.parent / "m.1002.exr").attributes["rmpsam/promptsDigest"]
    assert recorded == prompts_digest(from_file) != without_mask_digest

    before = files_state(output)
    done = run_cli(api_shot / "plate.####.exr", prompt_file, output, tiny_weights)
    assert (done["written"], done["skipped"]) == (0, len(FRAMES))
    assert files_state(output) == before


def test_frames_held_in_memory_record_their_settings(api_shot, model, tmp_path):
    from rmpsam_plugin.images.reader import read_plate

    images = [read_plate(api_shot / f"plate.{frame}.exr", "rgba").pixels for frame in FRAMES]
    with VideoSession.from_arrays(images, first_frame=1001, model=model, temporal=False) as session:
        prompt_from_file(session, api_shot / "prompts.json")
        session.write(tmp_path / "m.####.exr")
    assert header_settings(tmp_path / "m.1008.exr") == {
        **RunSettings(plate="", prompts=None, output="").result_key(), "temporal": False}

"""`rmpsam-matte prompts` run as the real executable, as a farm or the Nuke bridge runs it."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from prompt_files import GOOD_DOCUMENT, good_document, write_image, write_json

EXECUTABLE = Path(sys.executable).parent / "rmpsam-matte"
BAD_INPUT = 3
USAGE_ERROR = 2


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXECUTABLE), "prompts", *map(str, args)], capture_output=True, text=True, timeout=120)


def _bad_document() -> dict:
    document = good_document()
    car_1012 = document["instances"][0]["keyframes"][0]
    car_1012["positive_clicks"][1] = [2100.0, 40.0]
    car_1012["boxes"] = [[500.0, 300.0, 400.0, 350.0]]
    document["instances"][1]["name"] = "car"
    return document


def test_validate_good_file_prints_a_summary(tmp_path):
    path = write_json(tmp_path / "shot.prompts.json", GOOD_DOCUMENT)
    result = _run("validate", path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"OK {path}: 2 instances, 3 keyframes, 4 segments"
    assert lines[1] == "  car (vehicle) -> layer car: keyframes 1012, 1040"
    assert lines[3] == "  segments: 1001-1011, 1012-1029, 1030-1039, 1040-1100"
    assert len(lines[4].removeprefix("  digest: ")) == 64


def test_validate_bad_file_lists_every_problem_with_exit_3(tmp_path):
    path = write_json(tmp_path / "shot.prompts.json", _bad_document())
    result = _run("validate", path, "--frames", "1020-1100", "--size", "2048x1080")
    assert result.returncode == BAD_INPUT
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"rmpsam-matte prompts: {path}: 4 problems:",
        '  - instance "car", name: more than one instance has this name; names must be unique',
        "  - instance \"car\", keyframe 1012, frame: frame 1012 is outside the sequence's frame range 1020-1100",
        '  - instance "car", keyframe 1012, positive_clicks[1]: (2100.0, 40.0) lies outside the 2048x1080 frame',
        '  - instance "car", keyframe 1012, boxes[0]: (500.0, 300.0, 400.0, 350.0) has x2 < x1; '
        "a box is [x1, y1, x2, y2] with the top-left corner first",
    ]


def test_validate_json_output_for_the_bridge(tmp_path):
    path = write_json(tmp_path / "shot.prompts.json", _bad_document())
    result = _run("validate", path, "--json")
    assert result.returncode == BAD_INPUT
    report = json.loads(result.stdout)
    assert report["ok"] is False and len(report["issues"]) == 3  # the file's own plate: 1001-1100
    assert report["issues"][1] == {
        "instance": "car",
        "frame": 1012,
        "field": "positive_clicks[1]",
        "message": "(2100.0, 40.0) lies outside the 2048x1080 frame",
        "text": 'instance "car", keyframe 1012, positive_clicks[1]: (2100.0, 40.0) lies outside the 2048x1080 frame',
    }
    good = json.loads(_run("validate", write_json(tmp_path / "good.json", GOOD_DOCUMENT), "--json").stdout)
    assert good["ok"] is True and good["keyframe_count"] == 3
    assert good["segments"][2] == {"first_frame": 1030, "last_frame": 1039,
                                   "brackets": {"car": [1012, 1040], "tree": [1030, None]}}


def test_validate_against_a_real_sequence(tmp_path):
    for frame in (1010, 1011, 1012):
        write_image(tmp_path / f"plate.{frame}.exr", np.zeros((48, 64, 3)), ["R", "G", "B"])
    document = {"schema": "rmpsam-prompts", "version": 1, "instances": [
        {"name": "car", "keyframes": [{"frame": 1011, "positive_clicks": [[63.5, 47.5]]},
                                      {"frame": 1013, "positive_clicks": [[64.5, 10.0]]}]}]}
    path = write_json(tmp_path / "shot.prompts.json", document)
    result = _run("validate", path, "--sequence", tmp_path / "plate.####.exr")
    assert result.returncode == BAD_INPUT
    assert result.stderr.splitlines()[1:] == [
        "  - instance \"car\", keyframe 1013, frame: frame 1013 is outside the sequence's frame range 1010-1012",
        '  - instance "car", keyframe 1013, positive_clicks[0]: (64.5, 10.0) lies outside the 64x48 frame',
    ]
    usage = _run("validate", path, "--sequence", tmp_path / "plate.####.exr", "--size", "64x48")
    assert usage.returncode == USAGE_ERROR and "do not combine it" in usage.stderr


def test_a_malformed_option_value_is_a_usage_error(tmp_path):
    result = _run("validate", write_json(tmp_path / "shot.prompts.json", GOOD_DOCUMENT), "--frames", "1100-1001")
    assert result.returncode == USAGE_ERROR and "'1100-1001': expected FIRST-LAST, e.g. 1001-1100" in result.stderr


def test_convert_writes_canonical_text_and_refuses_a_bad_file(tmp_path):
    source = tmp_path / "messy.json"
    source.write_text(json.dumps({
        "instances": [{"keyframes": [{"positive_clicks": [[5.5, 7.25]], "frame": 1030}], "name": "tree"}],
        "version": 1, "schema": "rmpsam-prompts"}))
    result = _run("convert", source, tmp_path / "clean.json")
    assert result.returncode == 0 and result.stdout == f"wrote {tmp_path / 'clean.json'}\n"
    assert (tmp_path / "clean.json").read_text() == """{
  "schema": "rmpsam-prompts",
  "version": 1,
  "instances": [
    {
      "name": "tree",
      "keyframes": [
        {
          "frame": 1030,
          "positive_clicks": [[5.5, 7.25]],
          "negative_clicks": [],
          "boxes": []
        }
      ]
    }
  ]
}
"""
    bad = _run("convert", write_json(tmp_path / "bad.json", _bad_document()), tmp_path / "out.json")
    assert bad.returncode == BAD_INPUT and "3 problems" in bad.stderr
    assert not (tmp_path / "out.json").exists()


def test_validate_reports_the_layers_the_writer_writes_for_reserved_names(tmp_path):
    """One rule: an instance named like a layer Nuke or the Cryptomatte owns is reported under the
    layer the job really writes (`rgba_2`, `CryptoObject_2`), not under its own name."""
    document = good_document()
    document["instances"][0]["name"] = "rgba"
    document["instances"][1]["name"] = "CryptoObject"
    result = _run("validate", write_json(tmp_path / "reserved.json", document), "--json")
    assert result.returncode == 0, result.stderr
    layers = {entry["name"]: entry["layer"] for entry in json.loads(result.stdout)["instances"]}
    assert layers == {"rgba": "rgba_2", "CryptoObject": "CryptoObject_2"}

"""`rmpsam-matte info` (and `run`'s output check), run as the installed command in a subprocess.

Each bad input must end with one line on stderr that names what is wrong, the frame and the file,
and the exit code a farm acts on (`rmpsam_cli.exit_codes`); never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from rmpsam_cli.exit_codes import BAD_INPUT, OK, OUTPUT_ERROR

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "io"))
from plate_files import truncate, write_exr, write_sequence  # noqa: E402

COMMAND = Path(sys.executable).parent / "rmpsam-matte"


def rmpsam(*arguments: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(COMMAND), *map(str, arguments)], capture_output=True, text=True, timeout=120)


def info(*arguments: str | Path) -> subprocess.CompletedProcess:
    return rmpsam("info", *arguments)


def one_error_line(result: subprocess.CompletedProcess, exit_code: int = BAD_INPUT) -> str:
    assert result.returncode == exit_code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- a good sequence -----------------------------------------------------------------------------


def test_good_sequence_text_and_json(tmp_path):
    write_sequence(tmp_path, [1001, 1002, 1003], width=48, height=20, pixel_aspect=2.0)
    text = info(tmp_path / "shot.####.exr")
    assert text.returncode == OK, text.stderr
    assert "1001-1003 (3 on disk)" in text.stdout and "48x20" in text.stdout
    assert "pixel aspect    2" in text.stdout and "rgba: R G B A" in text.stdout

    result = info(tmp_path / "shot.%04d.exr", "--json")
    assert result.returncode == OK, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["first"], summary["last"], summary["frames"], summary["missing"]) == (1001, 1003, 3, [])
    assert summary["resolution"] == [48, 20] and summary["pixel_aspect"] == 2.0
    assert summary["display_window"] == summary["data_window"] == {"x": 0, "y": 0, "width": 48, "height": 20}
    assert summary["layers"] == {"rgba": ["R", "G", "B", "A"]}
    assert summary["cryptomattes"] == []


def test_overscan_windows_are_reported(tmp_path):
    pixels = np.zeros((24, 40, 4), np.float32)
    for frame in (1, 2):
        write_exr(tmp_path / f"shot.{frame:04d}.exr", pixels, data_window=_window(-4, -4, 40, 24),
                  display_window=_window(0, 0, 32, 16))
    summary = json.loads(info(tmp_path / "shot.####.exr", "--json").stdout)
    assert summary["display_window"] == {"x": 0, "y": 0, "width": 32, "height": 16}
    assert summary["data_window"] == {"x": -4, "y": -4, "width": 40, "height": 24}


def _window(x, y, width, height):
    from rmpsam_plugin.images.geometry import Window

    return Window(x, y, width, height)


def test_cryptomatte_fixture_lists_its_cryptomatte(cryptomatte_fixtures):
    result = info(cryptomatte_fixtures / "cornellBox_CryptoWildcard.0001.exr", "--json")
    assert result.returncode == OK, result.stderr
    [crypto] = json.loads(result.stdout)["cryptomattes"]
    # The names the renderer wrote into the file's manifest (read here with OpenImageIO, not our code).
    image = oiio.ImageInput.open(str(cryptomatte_fixtures / "cornellBox_CryptoWildcard.0001.exr"))
    header = {attribute.name: attribute.value for attribute in image.spec().extra_attribs}
    image.close()
    [manifest] = [json.loads(value) for name, value in header.items() if name.endswith("/manifest")]
    assert crypto["name"] == "uCryptoWildcard"
    assert sorted(crypto["objects"]) == sorted(manifest) and len(manifest) == 7


# --- bad input: one line, the frame and file, exit 3 ----------------------------------------------


def test_missing_frame_in_the_middle(tmp_path):
    write_sequence(tmp_path, [1001, 1002, 1004, 1005])
    line = one_error_line(info(tmp_path / "shot.####.exr"))
    assert line == f"rmpsam-matte info: frame 1003 is missing: {tmp_path / 'shot.1003.exr'}"
    allowed = info(tmp_path / "shot.####.exr", "--allow-gaps", "--json")
    assert allowed.returncode == OK and json.loads(allowed.stdout)["missing"] == [1003]


def test_several_missing_frames_report_the_first_and_count_the_rest(tmp_path):
    write_sequence(tmp_path, [1, 4, 9])
    line = one_error_line(info(tmp_path / "shot.1-9####.exr"))
    assert "frame 2 is missing" in line and "(and 5 more problems)" in line


def test_truncated_exr(tmp_path):
    paths = write_sequence(tmp_path, [1001, 1002, 1003], width=64, height=64)
    truncate(paths[1])
    line = one_error_line(info(tmp_path / "shot.####.exr"))
    assert line.startswith("rmpsam-matte info: frame 1002: truncated or corrupt pixel data in ")
    assert str(paths[1]) in line
    # Headers alone look fine: that is what --headers-only trades away.
    assert info(tmp_path / "shot.####.exr", "--headers-only").returncode == OK


def test_mixed_resolutions(tmp_path):
    write_sequence(tmp_path, [1, 2], width=32, height=16)
    write_sequence(tmp_path, [3], width=40, height=16)
    line = one_error_line(info(tmp_path / "shot.####.exr"))
    assert "mixed resolutions: frame 3 is 40x16" in line and "frame 1 is 32x16" in line
    assert str(tmp_path / "shot.0003.exr") in line


def test_layer_that_does_not_exist(tmp_path):
    write_sequence(tmp_path, [1, 2])
    line = one_error_line(info(tmp_path / "shot.####.exr", "--layer", "beauty"))
    assert f"frame 1: layer 'beauty' not found in {tmp_path / 'shot.0001.exr'}; layers: rgba" in line
    assert "(and 1 more problem)" in line


def test_garbage_file_is_unreadable(tmp_path):
    write_sequence(tmp_path, [1, 2, 3])
    (tmp_path / "shot.0002.exr").write_bytes(b"not an EXR at all " * 100)
    line = one_error_line(info(tmp_path / "shot.####.exr"))
    assert line.startswith(f"rmpsam-matte info: frame 2: cannot read {tmp_path / 'shot.0002.exr'}: ")


def test_directory_in_place_of_a_frame(tmp_path):
    write_sequence(tmp_path, [1, 3])
    (tmp_path / "shot.0002.exr").mkdir()
    line = one_error_line(info(tmp_path / "shot.####.exr"))
    assert line == f"rmpsam-matte info: frame 2: not an image file but a directory: {tmp_path / 'shot.0002.exr'}"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_file_without_read_permission(tmp_path):
    paths = write_sequence(tmp_path, [1, 2])
    paths[1].chmod(0)
    try:
        line = one_error_line(info(tmp_path / "shot.####.exr"))
    finally:
        paths[1].chmod(0o644)
    assert line == f"rmpsam-matte info: frame 2: permission denied: cannot read {paths[1]}"


def test_pattern_matching_nothing(tmp_path):
    line = one_error_line(info(tmp_path / "shot.####.exr"))
    assert line == f"rmpsam-matte info: no frames on disk match '{tmp_path / 'shot.####.exr'}'"


def test_directory_without_a_sequence(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing to see")
    line = one_error_line(info(tmp_path))
    assert "no image sequence in directory" in line and str(tmp_path) in line


# --- output that cannot be written: exit 4 --------------------------------------------------------


def _prompts_file(path: Path, frame: int) -> Path:
    document = {"schema": "rmpsam-prompts", "version": 1,
                "instances": [{"name": "car", "keyframes": [{"frame": frame, "positive_clicks": [[10.0, 8.0]]}]}]}
    path.write_text(json.dumps(document))
    return path


def test_run_output_directory_under_a_regular_file(tmp_path):
    write_sequence(tmp_path / "plates", [1001, 1002])
    prompts = _prompts_file(tmp_path / "prompts.json", 1001)
    # The output check is what is under test; the prompts must pass validation so that `run` gets
    # that far. A failure here means this file no longer matches the prompt format: fix the file.
    valid = rmpsam("prompts", "validate", prompts)
    assert valid.returncode == OK, valid.stderr
    blocker = tmp_path / "renders"
    blocker.write_text("a file where the output folder should be")
    result = rmpsam("run", tmp_path / "plates" / "shot.####.exr", "--prompts", prompts,
                    "--output", blocker / "car" / "matte.####.exr", "--dry-run", "--progress", "none")
    line = one_error_line(result, OUTPUT_ERROR)
    assert f"cannot create output directory {blocker / 'car'}" in line
    assert blocker.read_text() == "a file where the output folder should be"


# --- the tool's own output -----------------------------------------------------------------------


def test_run_output_lists_instance_layers_cryptomatte_and_provenance(run_output):
    pattern = run_output / "mattes" / "m.####.exr"
    result = info(pattern, "--json")
    assert result.returncode == OK, result.stderr
    summary = json.loads(result.stdout)
    names = [i["name"] for i in json.loads((run_output / "shot" / "prompts.json").read_text())["instances"]]
    assert summary["frames"] == 6 and summary["instance_layers"] == {name: f"{name}.A" for name in names}
    [crypto] = summary["cryptomattes"]
    from rmpsam_plugin.cryptomatte import layer_key, name_to_id

    assert crypto == {"name": "CryptoObject", "key": layer_key("CryptoObject"), "ranks": 2,
                      "objects": {name: name_to_id(name).hex for name in sorted(names)}}
    provenance = summary["provenance"]
    assert provenance["rmpsam/frame"] == 1001 and json.loads(provenance["rmpsam/layers"]) == {n: n for n in names}
    assert provenance["rmpsam/sourceFrame"] == str(run_output / "shot" / "plate.1001.exr")
    assert json.loads(provenance["rmpsam/settings"])["overlap"] == "exclusive"
    assert {"rmpsam/version", "rmpsam/weightsDigest", "rmpsam/promptsDigest"} <= set(provenance)

    text = info(pattern)
    assert text.returncode == OK, text.stderr
    for name in names:
        assert f"{name}: {name}.A" in text.stdout
    assert f"CryptoObject (key {crypto['key']}, 2 ranks): 2 objects" in text.stdout
    assert f"rmpsam/promptsDigest = {provenance['rmpsam/promptsDigest']}" in text.stdout
    # an explicit --layer is still the layer checked: the mattes carry no plate
    line = one_error_line(info(pattern, "--layer", "rgba"))
    assert line.startswith("rmpsam-matte info: frame 1001: layer 'rgba' not found")

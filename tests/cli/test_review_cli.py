"""`rmpsam-matte review`, the installed command in a subprocess, on a real `run` output.

The mp4 and the contact sheet are read back with OpenCV: frame count, size, and at pixels a matte
covers fully, the plate in display sRGB half-tinted with that instance's colour.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from exr_channels import read_channels as channels

from rmpsam_cli.exit_codes import BAD_INPUT, OUTPUT_ERROR, USAGE_ERROR
from rmpsam_plugin.images.colour import linear_to_network_rgb
from rmpsam_plugin.mattes.review import MARKER, TINT_OPACITY, instance_colour

COMMAND = Path(sys.executable).parent / "rmpsam-matte"
FRAMES = range(1001, 1007)
HEIGHT, WIDTH = 96, 160


def review(*arguments) -> subprocess.CompletedProcess:
    return subprocess.run([str(COMMAND), "review", *map(str, arguments)], capture_output=True, text=True, timeout=120)




def expected_interiors(run_output: Path, frame: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per instance: pixels its matte covers (above 0.5), 4 px inside its outline and the frame's
    edge, where no other instance reaches, and the colour the review must show there (BGR, 0..255): the plate in display
    sRGB moved towards the instance's colour by the tint opacity times the matte."""
    names = [i["name"] for i in json.loads((run_output / "shot" / "prompts.json").read_text())["instances"]]
    mattes = channels(run_output / "mattes" / f"m.{frame}.exr")
    plate = channels(run_output / "shot" / f"plate.{frame}.exr")
    display = linear_to_network_rgb(np.stack([plate["R"], plate["G"], plate["B"]], axis=-1)) * 255
    found = []
    for index, name in enumerate(names):
        others = sum(mattes[f"{other}.A"] for other in names if other != name)
        matte = mattes[f"{name}.A"]
        covered = ((matte > 0.5) & (others == 0.0)).astype(np.uint8)
        # The frame's edge counts as outside: a matte reaching it is outlined along it.
        interior = cv2.erode(covered, np.ones((9, 9), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
        colour = np.asarray(instance_colour(index), np.float32)
        found.append((interior, (display + TINT_OPACITY * matte[..., None] * (colour - display))[..., ::-1]))
    return found


def test_mp4_has_every_frame_at_plate_size_tinted_by_instance(run_output, tmp_path):
    result = review(run_output / "mattes" / "m.####.exr", "-o", tmp_path / "review.mp4", "--progress", "none")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "review.mp4")
    capture = cv2.VideoCapture(str(tmp_path / "review.mp4"))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    assert len(frames) == len(FRAMES) and frames[0].shape == (HEIGHT, WIDTH, 3)
    checked = 0
    for frame, image in zip(FRAMES, frames):
        for interior, colour in expected_interiors(run_output, frame):
            if interior.sum() < 20:
                continue
            error = np.abs(image[interior].astype(np.float32) - colour[interior])
            assert np.median(error) < 6, (frame, np.median(error))  # MPEG-4 at its default quality
            checked += 1
    assert checked >= len(FRAMES) // 2  # the tiny network covers some instance fully on most frames


def test_contact_sheet_tiles_frames_with_colours_and_keyframe_markers(run_output, tmp_path):
    sheet_path = tmp_path / "sheet.png"
    result = review(run_output / "mattes" / "m.####.exr", "--prompts", run_output / "shot" / "prompts.json",
                    "-o", sheet_path, "--tile-width", WIDTH, "--columns", 4, "--progress", "none")
    assert result.returncode == 0, result.stderr
    sheet = cv2.imread(str(sheet_path))
    assert sheet.shape == (2 * HEIGHT, 4 * WIDTH, 3)
    checked = 0
    for index, frame in enumerate(FRAMES):
        row, column = divmod(index, 4)
        tile = sheet[row * HEIGHT:(row + 1) * HEIGHT, column * WIDTH:(column + 1) * WIDTH].astype(np.float32)
        for interior, colour in expected_interiors(run_output, frame):
            if interior.sum() < 20:
                continue
            error = np.abs(tile[interior] - colour[interior]).max(axis=-1)
            assert np.median(error) <= 1, (frame, np.median(error))  # the name is drawn over some of them
            checked += 1
        gold = np.abs(tile[:30, :90] - np.asarray(MARKER[::-1], np.float32)).max(axis=-1) <= 2
        assert (gold.sum() > 10) == (frame in (1001, 1004)), (frame, gold.sum())  # keyframes 1001 and 1004
    assert checked >= len(FRAMES) // 2  # the tiny network covers some instance fully on most frames


def test_bad_inputs_are_one_line_with_their_exit_codes(run_output, tmp_path):
    mattes = run_output / "mattes" / "m.####.exr"
    not_ours = review(run_output / "shot" / "plate.####.exr", "-o", tmp_path / "a.png", "--progress", "none")
    assert not_ours.returncode == BAD_INPUT and "is not rmpsam-matte output" in not_ours.stderr
    assert len(not_ours.stderr.strip().splitlines()) == 1
    other_prompts = tmp_path / "other.json"
    document = json.loads((run_output / "shot" / "prompts.json").read_text())
    document["instances"][0]["keyframes"][0]["positive_clicks"] = [[1, 1]]
    other_prompts.write_text(json.dumps(document))
    foreign = review(mattes, "--prompts", other_prompts, "-o", tmp_path / "a.png", "--progress", "none")
    assert foreign.returncode == BAD_INPUT and "not the prompt file these mattes were made with" in foreign.stderr
    assert review(mattes, "-o", tmp_path / "a.gif").returncode == USAGE_ERROR
    (tmp_path / "file").write_text("")
    unwritable = review(mattes, "-o", tmp_path / "file" / "a.png", "--progress", "none")
    assert unwritable.returncode == OUTPUT_ERROR and "cannot create" in unwritable.stderr
    assert not (tmp_path / "a.png").exists()

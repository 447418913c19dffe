"""`rmpsam-matte demo`, the README's first command, on a fresh user's environment."""

from __future__ import annotations

import json
import os
import subprocess

import cv2
import OpenImageIO as oiio
from job_cli import EXECUTABLE, FIRST_FRAME

# What the shipped weights score on this demo shot (seed 0, 5 frames at 384x216, keyframes first
# and last, scored on the 3 frames between), measured with the committed code on the 2-core CPU
# machine: J 0.938, F 0.955, J&F 0.947, dtSSD 3.66. The bounds leave about 0.09 (J, F) and 2.3
# (dtSSD) of margin for numerical noise between machines; a propagation, prompt, resize or
# writer regression that loses or misplaces an object costs far more (one lost object of three
# takes J&F below 0.65). At 192x108 the same network scores J 0.06 even on the keyframes (its
# objects are too small for it), which is why the test does not use that size.
MIN_J, MIN_F, MIN_JF, MAX_DTSSD = 0.85, 0.85, 0.85, 6.0


def test_demo_writes_mattes_and_reports_quality(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "RMPSAM_WEIGHTS"}
    environment["HOME"] = str(tmp_path / "home")  # no user config: the shipped weights are used
    out = tmp_path / "demo"
    result = subprocess.run([str(EXECUTABLE), "demo", "--out", str(out), "--frames", "5", "--size", "384x216",
                             "--threads", "1", "--progress", "json"],
                            capture_output=True, text=True, timeout=600, env=environment)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["event"] == "demo" and report["keyframes"] == [FIRST_FRAME, FIRST_FRAME + 4]
    quality = {key: report[key] for key in ("J", "F", "J&F", "dtSSD")}
    assert report["J"] >= MIN_J and report["F"] >= MIN_F and report["J&F"] >= MIN_JF, quality
    assert 0.0 < report["dtSSD"] <= MAX_DTSSD, quality
    assert abs(report["J&F"] - (report["J"] + report["F"]) / 2) < 1e-3
    for frame in range(FIRST_FRAME, FIRST_FRAME + 5):
        image = oiio.ImageInput.open(str(out / "mattes" / f"demo.{frame}.exr"))
        channels = set(image.spec().channelnames)
        image.close()
        assert {f"{name}.A" for name in report["instances"]} <= channels
        assert any(c.startswith("CryptoObject") for c in channels)
    assert (out / "shot" / "prompts.json").is_file()
    sheet = cv2.imread(report["contact_sheet"])  # 5 frames of 384x216 as 320x180 tiles, 4 to a row
    assert report["contact_sheet"] == str(out / "mattes" / "contact_sheet.png") and sheet.shape == (360, 1280, 3)

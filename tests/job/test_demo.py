"""`rmpsam-matte demo`, the README's first command, on a fresh user's environment."""

from __future__ import annotations

import json
import os
import subprocess

import OpenImageIO as oiio

from job_cli import EXECUTABLE, FIRST_FRAME


def test_demo_writes_mattes_and_reports_quality(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "RMPSAM_WEIGHTS"}
    environment["HOME"] = str(tmp_path / "home")  # no user config: the shipped weights are used
    out = tmp_path / "demo"
    result = subprocess.run([str(EXECUTABLE), "demo", "--out", str(out), "--frames", "5", "--size", "192x108",
                             "--threads", "1", "--progress", "json"],
                            capture_output=True, text=True, timeout=600, env=environment)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["event"] == "demo" and report["keyframes"] == [FIRST_FRAME, FIRST_FRAME + 4]
    assert 0.0 <= report["J"] <= 1.0 and 0.0 <= report["F"] <= 1.0 and report["dtSSD"] >= 0.0
    assert report["J&F"] == round((report["J"] + report["F"]) / 2, 4) or abs(report["J&F"] - (report["J"] + report["F"]) / 2) < 1e-3
    for frame in range(FIRST_FRAME, FIRST_FRAME + 5):
        image = oiio.ImageInput.open(str(out / "mattes" / f"demo.{frame}.exr"))
        channels = set(image.spec().channelnames)
        image.close()
        assert {f"{name}.A" for name in report["instances"]} <= channels
        assert any(c.startswith("CryptoObject") for c in channels)
    assert (out / "shot" / "prompts.json").is_file()

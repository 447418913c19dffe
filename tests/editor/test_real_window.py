"""The editor as a real X11 window: Debian's Xvfb started here, Qt's xcb platform, the README's
screenshot tool (`tools/editor_screenshot.py`) driving the three main states (live mattes on a
keyframe, the run's result, the result picked from the Cryptomatte) and saving each as a PNG.

Needs Debian's `xvfb` and Qt's xcb libraries (`.ci/run` installs them; the README names them).
Without an `Xvfb` binary this test is reported as skipped, saying so: the offscreen tests
beside it still cover the widgets, but not a real window.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
XVFB = shutil.which("Xvfb")


@pytest.fixture
def x_display():
    """A private Xvfb server on a free display number (`-displayfd`), stopped at the end."""
    if XVFB is None:
        pytest.skip("Debian's xvfb is not installed here (apt-get install xvfb and Qt's xcb libraries, as .ci/run does)")
    read_end, write_end = os.pipe()
    server = subprocess.Popen([XVFB, "-displayfd", str(write_end), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 30)
        assert ready, "Xvfb did not start within 30 s"
        number = os.read(read_end, 64).decode().strip()
        assert number.isdigit(), f"Xvfb gave no display number ({number!r})"
        yield f":{number}"
    finally:
        os.close(read_end)
        server.terminate()
        server.wait(timeout=10)


def test_the_editor_draws_its_main_states_in_a_real_x11_window(x_display, tmp_path):
    environment = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb"}
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "editor_screenshot.py"), str(tmp_path)],
                            capture_output=True, text=True, timeout=300, env=environment, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["platform"] == "xcb"
    assert [state["file"] for state in report["states"]] == ["editor.png", "editor-result.png", "editor-cryptomatte.png"]
    pictures = {}
    for state in report["states"]:
        picture = cv2.imread(str(tmp_path / state["file"]), cv2.IMREAD_COLOR)[..., ::-1]  # RGB
        assert picture.shape == (state["size"][1], state["size"][0], 3) == (640, 1100, 3)
        assert state["overlays"] == 2  # both instances' mattes are on screen
        for name, colour in report["instance_colours"].items():  # the instance list's swatches
            assert (picture == colour).all(axis=-1).sum() >= 50, f"{name}'s colour {colour} is not drawn in {state['file']}"
        pictures[state["file"]] = picture.astype(int)
    assert [s["result"] for s in report["states"]] == [False, True, True]
    assert [s["cryptomatte"] for s in report["states"]] == [False, False, True]
    assert [s["frame"] for s in report["states"]] == [1001, 1002, 1002]
    # The viewer (a plate under tinted mattes) differs between the keyframe and the run's frame.
    viewer = (slice(100, 500), slice(400, 1050))
    assert np.abs(pictures["editor.png"][viewer] - pictures["editor-result.png"][viewer]).mean() > 1.0
    assert pictures["editor.png"][viewer].std() > 10

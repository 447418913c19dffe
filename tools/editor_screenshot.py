"""Screenshots of the editor's main states: `python tools/editor_screenshot.py OUT_DIR [--tiny]`.

Uses whatever Qt platform is set: under Xvfb (`xvfb-run -a python tools/editor_screenshot.py
docs/images`) a real X11 window, otherwise the offscreen platform. A small synthetic shot with two
prompted objects on two keyframes, through the shipped model (`--tiny`: the tests' tiny random
network, which shows the tool but not a model's mattes). Three states, each a PNG of the whole
window: live mattes while prompting a keyframe (`editor.png`), the run's written mattes on an
in-between frame (`editor-result.png`) and the same picked from the Cryptomatte
(`editor-cryptomatte.png`). Prints one JSON line saying what was drawn, for the test that runs this.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from PyQt5.QtWidgets import QApplication  # noqa: E402
from shot_fixtures import write_prompted_shot, write_tiny_weights  # noqa: E402

from rmpsam_plugin.editor.main_window import EditorOptions, EditorWindow  # noqa: E402

WINDOW_SIZE = (1100, 640)


def _wait(app, condition, timeout_s=300.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the editor did not settle")
        app.processEvents()
        time.sleep(0.01)


def _state(window: EditorWindow, path: Path) -> dict:
    """Saves the window and says what it showed."""
    image = window.grab()
    image.save(str(path))
    return {"file": path.name, "size": [image.width(), image.height()], "frame": window.frame,
            "overlays": len(window.canvas.overlays), "result": window.show_result.isChecked(),
            "cryptomatte": window.cryptomatte_box.isChecked()}


def main(out: Path, tiny: bool) -> dict:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    out.mkdir(parents=True, exist_ok=True)
    states = []
    with tempfile.TemporaryDirectory() as temporary:
        shot = write_prompted_shot(Path(temporary), seed=3, num_frames=4, keyframes=[0, 2])
        weights = str(write_tiny_weights(Path(temporary))) if tiny else None
        window = EditorWindow(EditorOptions(weights=weights))
        window.resize(*WINDOW_SIZE)
        window.show()
        window.open_plate(str(shot / "plate.####.exr"))
        window.open_prompts(shot / "prompts.json")
        _wait(app, lambda: window.preview.worker.is_ready and not window.preview.busy and len(window.canvas.overlays) == 2)
        window.canvas.fit()
        app.processEvents()
        states.append(_state(window, out / "editor.png"))
        window.run_shot(str(shot / "out" / "m.####.exr"))
        _wait(app, lambda: window.show_result.isChecked())
        window.go_to(1002)
        _wait(app, lambda: len(window.canvas.overlays) == 2)
        states.append(_state(window, out / "editor-result.png"))
        window.cryptomatte_box.setChecked(True)
        _wait(app, lambda: len(window.canvas.overlays) == 2)
        states.append(_state(window, out / "editor-cryptomatte.png"))
        window.store.undo_stack.setClean()  # nothing to keep: no unsaved-edits question
        window.close()
        colours = {entry.name: list(entry.colour) for entry in window.store.state}
    return {"platform": QApplication.platformName(), "weights": "tiny random" if tiny else "shipped",
            "instance_colours": colours, "states": states}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="docs/images", type=Path)
    parser.add_argument("--tiny", action="store_true", help="the tests' tiny random network instead of the shipped model")
    arguments = parser.parse_args()
    print(json.dumps(main(arguments.out, arguments.tiny)))

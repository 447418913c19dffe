"""Screenshots of the editor's main states, for the README: `python tools/editor_screenshot.py OUT_DIR`.

Uses whatever Qt platform is set: under Xvfb (`xvfb-run python tools/editor_screenshot.py docs/images`)
a real X11 window, otherwise the offscreen platform. A small synthetic shot and the tiny random
network of the tests: it shows the tool, not the model's quality.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from PyQt5.QtWidgets import QApplication  # noqa: E402
from shot_fixtures import write_prompted_shot, write_tiny_weights  # noqa: E402

from rmpsam_plugin.editor.main_window import EditorOptions, EditorWindow  # noqa: E402


def _wait(app, condition, timeout_s=300.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the editor did not settle")
        app.processEvents()
        time.sleep(0.01)


def main(out: Path) -> None:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temporary:
        shot = write_prompted_shot(Path(temporary), seed=3, num_frames=4, keyframes=[0, 2])
        window = EditorWindow(EditorOptions(weights=str(write_tiny_weights(Path(temporary)))))
        window.resize(1100, 640)
        window.show()
        window.open_plate(str(shot / "plate.####.exr"))
        window.open_prompts(shot / "prompts.json")
        _wait(app, lambda: window.preview.worker.is_ready and not window.preview.busy and len(window.canvas.overlays) == 2)
        window.canvas.fit()
        app.processEvents()
        window.grab().save(str(out / "editor.png"))
        window.run_shot(str(shot / "out" / "m.####.exr"))
        _wait(app, lambda: window.show_result.isChecked())
        window.go_to(1002)
        _wait(app, lambda: len(window.canvas.overlays) == 2)
        window.grab().save(str(out / "editor-result.png"))
        window.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images"))

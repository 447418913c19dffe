"""Edit-to-overlay latency of the editor on a cached frame: `python -m rmpsam_plugin.editor.bench`.

The real window (offscreen), the real worker thread and the public `VideoSession`, on a synthetic
2048x1080 plate with the released architecture and random weights (as `bench serve` builds
them: latency does not depend on the weights' values). The first click on the frame pays for its
features; then each of N clicks near the objects is timed from the edit (the store's change, as
a mouse release makes it) to the overlay being ready on the UI thread (`PreviewController.shown`),
one edit at a time. Prints one JSON line with median and p90.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtCore import QEventLoop, QTimer  # noqa: E402
from PyQt5.QtWidgets import QApplication  # noqa: E402

from rmpsam_model.config import RMPSAMConfig  # noqa: E402
from rmpsam_model.preprocess import InferenceSize  # noqa: E402
from rmpsam_plugin.bench.serve_bench import (  # noqa: E402
    click_sequence,
    write_plate,
    write_random_weights,
)

from .main_window import EditorOptions, EditorWindow  # noqa: E402

TARGET_MS = 100.0


def _wait(app: QApplication, condition, signals, timeout_s: float = 600.0) -> None:
    """Run Qt's event loop, as the application does, until `condition()` holds; it is checked each
    time one of `signals` fires. (Polling from Python instead would hold the interpreter lock
    against the worker thread every millisecond, which an idle editor never does.)"""
    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    for signal in signals:
        signal.connect(loop.quit)
    try:
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the editor did not answer in time")
            QTimer.singleShot(int(1000 * max(deadline - time.monotonic(), 0)), loop.quit)
            loop.exec_()
    finally:
        for signal in signals:
            signal.disconnect(loop.quit)


def run(edits: int = 50, width: int = 2048, height: int = 1080, long_side: int = 1024) -> dict:
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="rmpsam-bench-editor-") as temporary:
        directory = Path(temporary)
        plate, clicks = write_plate(directory / "plate", width, height)
        weights = write_random_weights(directory / "released.safetensors", RMPSAMConfig.released(),
                                       InferenceSize(long_side, long_side))
        window = EditorWindow(EditorOptions(weights=str(weights), size=long_side))
        window.resize(1280, 800)
        window.show()
        shown: list[float] = []
        try:
            window.open_plate(plate)
            poll = QTimer()
            poll.start(10)  # the plate's first frame arrives through the frame loader's own signals
            _wait(app, lambda: window.preview.worker.is_ready and window.frame in window._frames, [poll.timeout])
            poll.stop()
            answers = [window.preview.shown, window.preview.busyChanged, window.preview.failed]
            window.preview.shown.connect(lambda uid, frame, ms: shown.append(ms))
            frame = window.frame
            points = click_sequence(clicks[frame], edits + 1, width, height)
            for point in points:  # the first one computes the frame's features
                before = len(shown)
                window.on_click(*point, False)
                _wait(app, lambda: len(shown) > before and not window.preview.busy, answers)
                window.store.undo_stack.undo()  # one click per edit, as an artist trying places
                _wait(app, lambda: not window.preview.busy, answers)
            cold, warm = shown[0], shown[1:]
        finally:
            window.store.undo_stack.setClean()  # nothing to keep: no unsaved-edits question
            window.close()
    ordered = sorted(warm)
    return {"plate": [width, height], "network_long_side": long_side, "weights": "released layout, random",
            "edits": len(warm), "cold_first_edit_ms": round(cold, 1),
            "median_ms": round(statistics.median(warm), 1), "p90_ms": round(ordered[round(0.9 * (len(ordered) - 1))], 1),
            "target_ms": TARGET_MS, "meets_target": statistics.median(warm) < TARGET_MS}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=50)
    print(json.dumps(run(parser.parse_args().edits)))

"""The UI thread never waits on the network: with a decode that takes as long as the test
wants, edits return at once, timers keep firing, the busy state shows, and the matte arrives
when the decode ends. A stale result never paints over a newer edit."""

from __future__ import annotations

import threading
import time

import numpy as np
from editor_fixtures import WAIT_MS, wait_idle
from PyQt5.QtCore import QTimer

from rmpsam_plugin.images.reader import read_plate


class SlowSession:
    """Stands in for `VideoSession`: each decode waits until the test releases it."""

    def __init__(self, pattern: str) -> None:
        self.real_shape = (96, 160)
        self.release = threading.Event()
        self.calls: list[tuple] = []

    def has_cached_features(self, frame: int) -> bool:
        return False

    def set_prompts(self, frame, instance, clicks=(), negative=(), boxes=(), mask=None):
        self.calls.append((frame, instance, tuple(clicks)))
        assert self.release.wait(30), "the test never released the decode"
        matte = np.zeros(self.real_shape, np.float32)
        x, y = clicks[-1]
        matte[int(y), int(x)] = 1.0
        return matte


def test_edits_never_wait_for_the_network(qtbot, make_window, shot):
    sessions = []

    def factory(pattern, options):
        return lambda: sessions.append(SlowSession(pattern)) or sessions[-1]

    window = make_window(session_factory=factory)
    assert window.open_plate(str(shot / "plate.####.exr"))
    qtbot.waitUntil(lambda: window.preview.worker.is_ready and window.frame in window._frames, timeout=WAIT_MS)
    session = sessions[0]
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)

    started = time.perf_counter()
    window.on_click(20.5, 30.5, False)
    assert time.perf_counter() - started < 0.1
    qtbot.waitUntil(lambda: len(session.calls) == 1, timeout=WAIT_MS)
    started = time.perf_counter()
    window.on_click(40.5, 50.5, False)  # while the first decode is still running
    assert time.perf_counter() - started < 0.1
    qtbot.waitUntil(lambda: window.preview.busy, timeout=WAIT_MS)
    assert window.busy_label.text() == "busy: computing frame 1001 (first edit on it)"
    assert window.canvas.message.startswith("busy: computing frame 1001")
    qtbot.wait(500)  # the decode is held: the UI thread keeps running its timers meanwhile
    waited = [later - earlier for earlier, later in zip(ticks, ticks[1:])]
    assert len(ticks) >= 20 and max(waited) < 0.1
    assert window.canvas.overlays == []

    session.release.set()
    qtbot.waitUntil(lambda: not window.preview.busy and len(window.canvas.overlays) == 1, timeout=WAIT_MS)
    timer.stop()
    uid = window.store.state[0].uid
    matte = window.preview.matte(uid, 1001)
    assert matte[50, 40] == 1.0 and matte[30, 20] == 0.0  # the newest prompts' matte is the one kept
    assert session.calls[-1][2] == ((20.5, 30.5), (40.5, 50.5))
    assert len(session.calls) == 2  # the first edit (its stale matte dropped) and the newest
    assert window.busy_label.text() == "ready" and window.canvas.message == ""


def test_the_preview_is_what_run_writes_on_the_keyframe(qtbot, make_window, shot):
    """The live matte comes from the public `VideoSession`; on a keyframe it is the matte the
    job stores there (the run's half-float layer, so equal to half precision)."""
    window = make_window()
    assert window.open_plate(str(shot / "plate.####.exr"))
    assert window.open_prompts(shot / "prompts.json")
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: len(window.canvas.overlays) == 2, timeout=WAIT_MS)
    assert window.run_shot(str(shot / "out" / "m.####.exr"))
    with qtbot.waitSignal(window.shot_run.finished, timeout=WAIT_MS * 3) as finished:
        pass
    assert finished.args[0] == 0, finished.args
    for entry in window.store.state:
        written = read_plate(shot / "out" / "m.1001.exr", entry.name).component("A")
        preview = window.preview.matte(entry.uid, 1001)
        assert np.abs(preview.astype(np.float16).astype(np.float32) - written).max() == 0

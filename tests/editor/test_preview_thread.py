"""The UI thread never waits on the network: with a decode that takes as long as the test
wants, edits return at once, timers keep firing, the busy state shows, and the matte arrives
when the decode ends. A stale result never paints over a newer edit."""

from __future__ import annotations

import threading
import time

import numpy as np
from PyQt5.QtCore import QTimer

from editor_fixtures import WAIT_MS
from rmpsam_plugin.editor.inference import VideoSession, load_model


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


def test_the_adapter_decodes_through_the_preview_servers_path(shot, tiny_weights):
    from rmpsam_plugin.server.plate_frames import PlateFrames
    from rmpsam_plugin.server.sessions import DecodeRequest, PreviewSession
    from rmpsam_model.predictor import RMPSAMPredictor

    model = load_model(tiny_weights)
    session = VideoSession.open(str(shot / "plate.####.exr"), model)
    assert not session.has_cached_features(1001)
    matte = session.set_prompts(1001, "a", clicks=[(50.5, 40.5)], negative=[(10.5, 10.5)], boxes=[(60, 20, 100, 70)])
    assert session.has_cached_features(1001) and matte.shape == (96, 160) and matte.dtype == np.float32
    server = PreviewSession(RMPSAMPredictor(model.network, model.inference_size), PlateFrames(str(shot / "plate.####.exr"),
                                                                                             model.inference_size))
    expected = server.decode(DecodeRequest(1001, np.array([[50.5, 40.5]]), np.array([[10.5, 10.5]]),
                                           np.array([[60.0, 20, 100, 70]]))).matte
    assert np.array_equal(matte, expected)
    painted = np.zeros((96, 160), np.float32)
    painted[5:9, 5:9] = 1.0
    assert np.array_equal(session.set_prompts(1001, "b", mask=painted), painted)  # a mask alone is the matte as painted
    both = session.add_prompts(1001, "a", mask=painted)
    assert np.array_equal(both, np.maximum(expected, painted))
    assert [kf.positive_clicks.tolist() for kf in session.prompts.instance("a").keyframes.values()] == [[[50.5, 40.5]]]

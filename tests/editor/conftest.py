"""Editor test set-up: a tiny prompted shot with a tiny random network, and windows that are
always closed (their worker threads stopped) when a test ends."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shot_fixtures import FIRST_FRAME, write_prompted_shot, write_tiny_weights  # noqa: E402

from rmpsam_plugin.exr_output import write_exr  # noqa: E402
from rmpsam_plugin.plate_geometry import Window  # noqa: E402

WAIT_MS = 60_000


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    return write_tiny_weights(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="session")
def shot_template(tmp_path_factory) -> Path:
    """4 frames 1001-1004 at 160x96 and prompts.json with keyframes on 1001 and 1003."""
    return write_prompted_shot(tmp_path_factory.mktemp("shot"), seed=3, num_frames=4, keyframes=[0, 2])


@pytest.fixture
def shot(shot_template, tmp_path) -> Path:
    """A private copy of the shot, free to be written into."""
    return Path(shutil.copytree(shot_template, tmp_path / "shot"))


def write_anamorphic_overscan(directory: Path, frames=(1, 2)) -> str:
    """An 80x60 display window, 2:1 pixel aspect, data window reaching 8 px out on every side."""
    display = Window(0, 0, 80, 60)
    data = Window(-8, -8, 96, 76)
    rng = np.random.default_rng(0)
    for frame in frames:
        channels = {name: (rng.uniform(0, 1, data.shape).astype(np.float32), "half") for name in "RGB"}
        write_exr(directory / f"ana.{frame:04d}.exr", channels, data_window=data, display_window=display,
                  pixel_aspect=2.0, compression="zip", metadata={})
    return str(directory / "ana.####.exr")


@pytest.fixture
def make_window(qtbot, tiny_weights):
    """EditorWindow factory (tiny weights unless a session factory is given); closed at the end."""
    from rmpsam_plugin.editor.main_window import EditorOptions, EditorWindow, default_session_factory

    made = []

    def make(session_factory=default_session_factory, options=None):
        window = EditorWindow(options or EditorOptions(weights=str(tiny_weights)), session_factory)
        qtbot.addWidget(window)
        window.resize(1000, 700)
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        window.close()


def wait_idle(qtbot, window) -> None:
    """Until the network is loaded, every preview decoded and the frame drawn."""
    qtbot.waitUntil(lambda: window.preview is not None and window.preview.worker.is_ready
                    and not window.preview.busy and window.frame in window._frames, timeout=WAIT_MS)


__all__ = ["FIRST_FRAME", "WAIT_MS", "wait_idle", "write_anamorphic_overscan"]

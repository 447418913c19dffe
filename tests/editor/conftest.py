"""Editor test set-up: a tiny prompted shot with a tiny random network, and windows that are
always closed (their worker threads stopped) when a test ends."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shot_fixtures import write_prompted_shot  # noqa: E402


@pytest.fixture(scope="session")
def shot_template(tmp_path_factory) -> Path:
    """4 frames 1001-1004 at 160x96 and prompts.json with keyframes on 1001 and 1003."""
    return write_prompted_shot(tmp_path_factory.mktemp("shot"), seed=3, num_frames=4, keyframes=[0, 2])


@pytest.fixture
def shot(shot_template, tmp_path) -> Path:
    """A private copy of the shot, free to be written into."""
    return Path(shutil.copytree(shot_template, tmp_path / "shot"))


@pytest.fixture
def make_window(qtbot, tiny_weights):
    """EditorWindow factory (tiny weights unless a session factory is given); closed at the end."""
    from rmpsam_plugin.editor.main_window import EditorOptions, EditorWindow, default_session_factory

    made = []

    def make(session_factory=default_session_factory, options=None):
        window = EditorWindow(options or EditorOptions(weights=str(tiny_weights)), session_factory)
        # pytest-qt closes its widgets before fixtures end: nothing to keep, so no unsaved-edits question
        qtbot.addWidget(window, before_close_func=lambda w: w.store.undo_stack.setClean())
        window.resize(1000, 700)
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        window.store.undo_stack.setClean()  # nothing to keep: no unsaved-edits question
        window.close()

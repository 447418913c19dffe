"""Nuke bridge tests: the stand-in `nuke` module on sys.path, a clean Nuke session per test, and a
generated shot with a tiny random network for the tests that run the real CLI.

The shot and weights come from tests/shot_fixtures.py, as for the job and server tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

FAKE_NUKE_DIR = Path(__file__).resolve().parent / "fake_nuke"
if str(FAKE_NUKE_DIR) not in sys.path:
    sys.path.insert(0, str(FAKE_NUKE_DIR))

import nuke  # noqa: E402  (the fake, from FAKE_NUKE_DIR)
from nuke_support import SHOT_FRAMES  # noqa: E402
from shot_fixtures import write_prompted_shot  # noqa: E402


@pytest.fixture(autouse=True)
def nuke_session():
    """A fresh Nuke session per test: no nodes, menus, messages, or queued main-thread calls."""
    nuke.reset()
    yield nuke
    nuke.process_events()



@pytest.fixture(scope="session")
def nuke_shot(tmp_path_factory) -> Path:
    """4 frames 1001-1004 of 160x96, 2 objects, keyframes on 1001 and 1003; prompts.json beside."""
    return write_prompted_shot(tmp_path_factory.mktemp("nuke_shot"), seed=11, num_frames=SHOT_FRAMES, keyframes=[0, 2])

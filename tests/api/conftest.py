"""A generated shot and its prompts for the Python API's tests (the tiny network is `tiny_weights`, tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from shot_fixtures import write_prompted_shot


@pytest.fixture(scope="session")
def api_shot(tmp_path_factory) -> Path:
    """8 frames 1001-1008 at 160x96, 2 objects, keyframes on 1001 and 1005 (`prompts.json`)."""
    return write_prompted_shot(tmp_path_factory.mktemp("api_shot"), seed=5, num_frames=8, keyframes=[0, 4])

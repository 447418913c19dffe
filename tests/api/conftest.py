"""A generated shot, its prompts and a tiny random network for the Python API's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from shot_fixtures import write_prompted_shot, write_tiny_weights


@pytest.fixture(scope="session")
def api_weights(tmp_path_factory) -> Path:
    return write_tiny_weights(tmp_path_factory.mktemp("api_weights"))


@pytest.fixture(scope="session")
def api_shot(tmp_path_factory) -> Path:
    """8 frames 1001-1008 at 160x96, 2 objects, keyframes on 1001 and 1005 (`prompts.json`)."""
    return write_prompted_shot(tmp_path_factory.mktemp("api_shot"), seed=5, num_frames=8, keyframes=[0, 4])

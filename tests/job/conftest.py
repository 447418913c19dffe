"""A generated shot and its prompts, shared by the job tests.

These tests check the mechanics of `rmpsam-matte run` (files, layers, resume, segments, errors),
which do not depend on the network segmenting well, so a tiny random network (`tiny_weights`,
tests/conftest.py) keeps them fast.
Quality is measured with the shipped weights in test_run_quality.py and `bench quality`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from shot_fixtures import write_prompted_shot


@pytest.fixture(scope="session")
def shot_dir(tmp_path_factory) -> Path:
    """8 frames 1001-1008, 2 objects, keyframes on 1001 and 1005."""
    return write_prompted_shot(tmp_path_factory.mktemp("shot"), seed=11, num_frames=8, keyframes=[0, 4])

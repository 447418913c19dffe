"""Shared test set-up: where the team's reference fixtures live, and headless Qt.

The fixtures sit in `../shared/fixtures/` beside the repository. A clone outside the team has no
such folder: tests that need it skip with a message naming what is missing. In CI (`CI=true`) the
folder is always present, so a missing one fails loudly instead of skipping silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"


def _require(path: Path) -> Path:
    if path.exists():
        return path
    message = f"reference fixture missing: {path} (the team's shared/fixtures folder beside the repository)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def official_fixtures() -> Path:
    """`shared/fixtures/official`: the authors' parity checkpoint and reference outputs."""
    return _require(SHARED_FIXTURES / "official")


@pytest.fixture(scope="session")
def cryptomatte_fixtures() -> Path:
    """`shared/fixtures/cryptomatte`: real Cryptomatte files from production renderers."""
    return _require(SHARED_FIXTURES / "cryptomatte")

"""Shared test set-up: where the reference fixtures live, and headless Qt.

The fixtures are part of the repository (`tests/fixtures/`, each folder with its README and
licence), so a clone alone runs every test. A missing fixture file therefore means a broken
checkout, not an optional extra: the test that asks for it fails, naming the file, instead of
skipping and letting a parity or format check pass unseen.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# What each fixture folder must hold: the files tests read (see the folder READMEs).
OFFICIAL_FILES = (
    "parity_tiny.pth",
    "parity_tiny_class_embed.pth",
    "parity_tiny_reference.safetensors",
    "rapsam_r50_state_dict_manifest.json",
    "classes_coco_yt19.json",
)
CRYPTOMATTE_FILES = (
    "cornellBox_CryptoWildcard.0001.exr",
    "multichannel.exr",
    "special_chars.exr",
    "sidecar_manifest.exr",
    "sidecar_manifest.crypto_asset.json",
)


def _require(folder: Path, names: tuple[str, ...]) -> Path:
    """The folder, after checking every file the tests read is there; fails (never skips) if not."""
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        pytest.fail(f"reference fixtures missing from {folder}: {missing} (they are committed in tests/fixtures/)")
    return folder


@pytest.fixture(scope="session")
def official_fixtures() -> Path:
    """`tests/fixtures/official`: the parity checkpoint and reference outputs of the authors' code."""
    return _require(FIXTURES / "official", OFFICIAL_FILES)


@pytest.fixture(scope="session")
def cryptomatte_fixtures() -> Path:
    """`tests/fixtures/cryptomatte`: real Cryptomatte files from production renderers."""
    return _require(FIXTURES / "cryptomatte", CRYPTOMATTE_FILES)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A self-describing weights file of a tiny random network, written once for the whole run:
    the job, API, server, editor and Nuke tests check mechanics, which the weights' values do
    not change (quality is measured with the shipped weights)."""
    from shot_fixtures import write_tiny_weights

    return write_tiny_weights(tmp_path_factory.mktemp("tiny_weights"))

"""Training checkpoints: everything needed to continue a run as if it had never stopped.

A checkpoint holds the model (with BatchNorm statistics), the optimiser moments, the scheduler,
the step, the global torch RNG state and both configs. Per-step randomness (data, prompts, points)
is derived from (seed, step) rather than from a running generator, so restoring the step restores
the stream. Files are our own `torch.save` dicts of tensors and plain values, read back with
`weights_only=True` so even a tampered file cannot run code.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_PATTERN = re.compile(r"^step_(\d+)\.pt$")
KEEP_CHECKPOINTS = 2


def checkpoint_path(directory: Path, step: int) -> Path:
    return directory / f"step_{step:07d}.pt"


def latest_checkpoint(directory: Path) -> Path | None:
    """The checkpoint with the highest step in `directory`, or None."""
    if not directory.is_dir():
        return None
    found = [(int(match.group(1)), path) for path in directory.iterdir() if (match := CHECKPOINT_PATTERN.match(path.name))]
    return max(found)[1] if found else None


def save_checkpoint(directory: Path, step: int, state: dict[str, Any]) -> Path:
    """Write atomically, then delete all but the newest `KEEP_CHECKPOINTS`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = checkpoint_path(directory, step)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        torch.save(state, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    older = sorted(p for p in directory.iterdir() if CHECKPOINT_PATTERN.match(p.name))[:-KEEP_CHECKPOINTS]
    for stale in older:
        stale.unlink()
    return path


def load_checkpoint_state(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)

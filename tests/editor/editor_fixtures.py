"""Helpers the editor tests import (a module name no other test folder uses)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rmpsam_plugin.images.exr_output import write_exr
from rmpsam_plugin.images.geometry import Window

WAIT_MS = 60_000


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


def wait_idle(qtbot, window) -> None:
    """Until the network is loaded, every preview decoded and the frame drawn."""
    qtbot.waitUntil(lambda: window.preview is not None and window.preview.worker.is_ready
                    and not window.preview.busy and window.frame in window._frames, timeout=WAIT_MS)

"""Reading every channel of a single-part scanline EXR through OpenEXR's own Python bindings.

Why beside OpenImageIO, which reads every other plate here: the job reads each frame of a shot
while the network runs, and every millisecond of CPU spent reading is taken from the network on a
small machine. OpenImageIO's wheel decodes a 2K RGBA half ZIP plate in about 68 ms of CPU;
OpenEXR's bindings (libdeflate) decode it in about 35 ms, and converting to float32 here costs less
than OpenImageIO's own conversion (`rmpsam-matte bench io` and the README's numbers).

The bindings read a whole file, every part and every channel, and cannot pick channels, so
`image_reader` uses this only where the layer asked for is the whole file (a scan or a comp's
RGBA plate); a multi-layer render still goes through OpenImageIO, which reads only the channels
it is asked for. Both give bit-identical pixels (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import OpenEXR


class ExrReadError(Exception):
    """OpenEXR could not decode the file's pixels (truncated, corrupt); the message says why."""


def read_channels(path: str | Path, names: Sequence[str], data_shape: tuple[int, int]) -> np.ndarray:
    """(height, width, len(names)) float32 of the named channels, over the file's data window.

    `data_shape` is the data window's (height, width) from the header already read: a channel of
    another shape (subsampled chroma) or a missing one is an error rather than a silent mismatch.
    """
    try:
        with OpenEXR.File(str(path), separate_channels=True) as exr_file:
            channels = {name: channel.pixels for name, channel in exr_file.channels().items()}
    except Exception as error:  # the bindings raise RuntimeError or ValueError for bad data
        raise ExrReadError(str(error).strip() or type(error).__name__) from error
    pixels = np.empty((*data_shape, len(names)), dtype=np.float32)
    for index, name in enumerate(names):
        plane = channels.get(name)
        if plane is None or plane.shape != tuple(data_shape):
            found = None if plane is None else plane.shape
            raise ExrReadError(f"channel '{name}' has shape {found}, expected {tuple(data_shape)}")
        pixels[..., index] = plane  # half -> float32 on assignment, one pass
    return pixels

"""Reading channels of a single-part scanline EXR through OpenEXR's own Python bindings.

Why beside OpenImageIO, which reads every other plate here: the job reads each frame of a shot
while the network runs, and every millisecond of CPU spent reading is taken from the network on a
small machine, and OpenEXR's bindings (libdeflate) decode a half ZIP plate to float in clearly
less CPU than OpenImageIO's wheel does (`rmpsam-matte bench io` times both in its "reads only"
rows; the README's "Libraries and why" quotes them). Both give bit-identical pixels (tested).

The bindings' `InputFile` reads only the channels asked for, from the first part, and raises on
bad data; their newer `File` reads every channel of every part and prints to stdout when a file
is truncated, which would corrupt `--progress json`. A cut-short file is recognised before
decoding (`isComplete`), because OpenEXR's decoder prints a line of its own to stderr; the
caller then lets OpenImageIO report it, in one line as every other plate error. So `image_reader` uses this for single-part
scanline files with half or float channels, and OpenImageIO for everything else (multi-part,
tiled, integer formats).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import OpenEXR

PIXEL_DTYPES = {"half": np.float16, "float": np.float32}


class ExrReadError(Exception):
    """OpenEXR could not decode the file's pixels (corrupt data); the message says why."""


class IncompleteExrError(ExrReadError):
    """The file lacks some of its pixel data (cut short by an interrupted copy or render)."""


def read_channels(path: str | Path, names: Sequence[str], pixel_types: Sequence[str],
                  data_shape: tuple[int, int]) -> np.ndarray:
    """(height, width, len(names)) float32 of the named channels, over the file's data window.

    `pixel_types` ('half' or 'float', per name) and `data_shape` (the data window's height and
    width) come from the header already read; a channel whose data does not match them
    (subsampled chroma) is an error rather than a silent mismatch.
    """
    try:
        exr_file = OpenEXR.InputFile(str(path))
        try:
            if not exr_file.isComplete():  # checked first: decoding a cut file prints to stderr
                raise IncompleteExrError("the file is missing pixel data")
            stored = exr_file.channels(list(names))
        finally:
            exr_file.close()
    except ExrReadError:
        raise
    except Exception as error:  # the bindings raise OSError, or TypeError for unknown channels
        raise ExrReadError(str(error).strip() or type(error).__name__) from error
    pixels = np.empty((*data_shape, len(names)), dtype=np.float32)
    for index, (name, raw, kind) in enumerate(zip(names, stored, pixel_types)):
        plane = np.frombuffer(raw, dtype=PIXEL_DTYPES[kind])
        if plane.size != data_shape[0] * data_shape[1]:
            raise ExrReadError(f"channel '{name}' holds {plane.size} pixels, expected {data_shape[0]}x{data_shape[1]}")
        pixels[..., index] = plane.reshape(data_shape)  # half -> float32 on assignment, one pass
    return pixels

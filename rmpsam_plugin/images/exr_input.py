"""Reading channels of a single-part scanline EXR through OpenEXR's own Python bindings.

Why beside OpenImageIO, which reads every other plate here: the job reads each frame of a shot
while the network runs, and every millisecond of CPU spent reading is taken from the network on a
small machine, and OpenEXR's bindings (libdeflate) decode a half ZIP plate to float in clearly
less CPU than OpenImageIO's wheel does (`rmpsam-matte bench io` times both in its "reads only"
rows; the README's "Libraries and why" quotes them). Both give bit-identical pixels (tested).

The bindings have two readers:
- `InputFile` decodes only the channels asked for, from the first part, and raises on bad data,
  but holds Python's GIL for the whole decode (35 ms of a 2K plate): every other thread of the
  process stops meanwhile, the finishing threads of a job as much as the network's Python;
- `File` decodes every channel of every part, releasing the GIL, so frames read on two threads
  really read in parallel (`tests/io/test_io_reader.py` checks it; `rmpsam-matte bench
  pipeline --network none` measures the job with 1 and 2 workers). It prints a warning to
  stdout when it cannot decode a file: never for a truncated one, which is recognised first
  (below), but a complete file with corrupt data leaves that line among `--progress json`'s
  (the editor and the server skip lines that are not JSON) before the job stops on its error.
So `read_channels` takes `File` when the channels asked for are (nearly) all the file holds
(`decode_all`: an RGBA plate read for its RGB), and `InputFile` when decoding the rest would cost
more than the lock (a beauty layer among a render's AOVs).

A cut-short file is recognised before decoding (`isComplete`), because OpenEXR's decoder prints
a line of its own; the caller then lets OpenImageIO report it, in one line as every other plate
error. So `image_reader` uses this for single-part scanline files with half or float channels,
and OpenImageIO for everything else (multi-part, tiled, integer formats).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import OpenEXR

from rmpsam_plugin.images.half_float import interleaved_float

PIXEL_DTYPES = {"half": np.float16, "float": np.float32}


class ExrReadError(Exception):
    """OpenEXR could not decode the file's pixels (corrupt data); the message says why."""


class IncompleteExrError(ExrReadError):
    """The file lacks some of its pixel data (cut short by an interrupted copy or render)."""


def read_channels(path: str | Path, names: Sequence[str], pixel_types: Sequence[str],
                  data_shape: tuple[int, int], *, decode_all: bool = False) -> np.ndarray:
    """(height, width, len(names)) float32 of the named channels, over the file's data window.

    `pixel_types` ('half' or 'float', per name) and `data_shape` (the data window's height and
    width) come from the header already read; a channel whose data does not match them
    (subsampled chroma) is an error rather than a silent mismatch. `decode_all`: decode every
    channel of the file without holding the GIL (module docstring), for a file that holds
    little besides the channels asked for.
    """
    try:
        exr_file = OpenEXR.InputFile(str(path))
        try:
            if not exr_file.isComplete():  # checked first: decoding a cut file prints
                raise IncompleteExrError("the file is missing pixel data")
            stored = _decoded_without_the_lock(path, names) if decode_all else None
            if stored is None:  # not asked for, or `File` could not decode it: this one raises why
                stored = exr_file.channels(list(names))
        finally:
            exr_file.close()
    except ExrReadError:
        raise
    except Exception as error:  # the bindings raise OSError, or TypeError/KeyError for unknown channels
        raise ExrReadError(str(error).strip() or type(error).__name__) from error
    planes = []
    for name, raw, kind in zip(names, stored, pixel_types):
        plane = np.frombuffer(raw, dtype=PIXEL_DTYPES[kind]).reshape(-1)
        if plane.size != data_shape[0] * data_shape[1]:
            raise ExrReadError(f"channel '{name}' holds {plane.size} pixels, expected {data_shape[0]}x{data_shape[1]}")
        planes.append(plane.reshape(data_shape))
    if set(pixel_types) == {"half"}:  # a plate's usual layout, converted by OpenCV (`half_float`)
        return interleaved_float(planes)
    pixels = np.empty((*data_shape, len(names)), dtype=np.float32)
    for index, plane in enumerate(planes):
        pixels[..., index] = plane
    return pixels


def _decoded_without_the_lock(path: str | Path, names: Sequence[str]) -> list[np.ndarray] | None:
    """The named channels through `File` (num_threads 0: decoded on the calling thread, as
    `InputFile` does); None where it fails. On data it cannot decode, `File` prints a warning to
    stdout and holds no part, so its own error would be "file has 0 parts": the caller decodes
    through `InputFile` instead, whose exception says what is wrong with the data."""
    try:
        decoded = OpenEXR.File(str(path), separate_channels=True, num_threads=0).channels()
        return [decoded[name].pixels for name in names]
    except Exception:
        return None

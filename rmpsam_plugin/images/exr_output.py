"""Writing one single-part scanline EXR from named planes, through OpenEXR's own Python bindings.

Why not OpenImageIO, which reads every plate here: a matte file mixes half channels (plate,
mattes) with 32-bit float ones (Cryptomatte), and OpenImageIO converts such per-channel formats
on a slow path (about twice the time for the project's real frames: README, "Libraries and
why"; `rmpsam-matte bench io` times the writer). OpenEXR's API takes one numpy plane per channel
in the type it is stored as, so nothing is interleaved or converted twice. The file layout is the same
either way (one part, channels sorted by name), so Nuke and every reader see no difference.
OpenEXR releases the GIL while it compresses, so frames written on different threads overlap.

ZIP and ZIPS, the lossless default and its one-line variant, go through `exr_zip_writer` instead:
the same file layout at a sixth of the CPU on matte frames (`bench io`; its docstring says why).
Compression levels (`zip:4`) are not offered.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import OpenEXR

from rmpsam_plugin.images.exr_zip_writer import LINES_PER_CHUNK, write_zip_exr
from rmpsam_plugin.images.geometry import Window
from rmpsam_plugin.images.half_float import to_half

COMPRESSIONS = {
    "none": OpenEXR.NO_COMPRESSION,
    "rle": OpenEXR.RLE_COMPRESSION,
    "zips": OpenEXR.ZIPS_COMPRESSION,
    "zip": OpenEXR.ZIP_COMPRESSION,
    "piz": OpenEXR.PIZ_COMPRESSION,
    "pxr24": OpenEXR.PXR24_COMPRESSION,
    "b44": OpenEXR.B44_COMPRESSION,
    "b44a": OpenEXR.B44A_COMPRESSION,
    "dwaa": OpenEXR.DWAA_COMPRESSION,
    "dwab": OpenEXR.DWAB_COMPRESSION,
}
PIXEL_DTYPES = {"half": np.float16, "float": np.float32}


def _box(window: Window) -> tuple[np.ndarray, np.ndarray]:
    """OpenEXR's inclusive (min, max) corners of a window."""
    return (np.array([window.x, window.y], dtype=np.int32),
            np.array([window.x_end - 1, window.y_end - 1], dtype=np.int32))


def write_exr(path: str | Path, channels: Mapping[str, tuple[np.ndarray, str]], *, data_window: Window,
              display_window: Window, pixel_aspect: float, compression: str,
              metadata: Mapping[str, object]) -> None:
    """Write `channels` (name -> (plane covering `data_window`, 'half' or 'float')) to `path`.

    `metadata` values become EXR string, int or float attributes. Raises `OSError` (ZIP, ZIPS) or
    `RuntimeError` with OpenEXR's message (other compressions) when the file cannot be written,
    `ValueError` for an unknown compression, pixel type or a plane of the wrong shape, naming the
    channel.
    """
    if compression not in COMPRESSIONS:
        raise ValueError(f"unknown EXR compression {compression!r}; one of {', '.join(COMPRESSIONS)}")
    planes = {}
    for name, (plane, kind) in channels.items():
        if kind not in PIXEL_DTYPES:
            raise ValueError(f"channel {name}: pixel type must be one of {sorted(PIXEL_DTYPES)}, not {kind!r}")
        if np.shape(plane) != data_window.shape:
            raise ValueError(f"channel {name}: plane of shape {np.shape(plane)} for a {data_window.shape} data window")
        plane = np.asarray(plane)
        half_of_float = kind == "half" and plane.dtype == np.float32  # a passthrough plate's channel
        planes[name] = to_half(plane) if half_of_float else np.ascontiguousarray(plane, dtype=PIXEL_DTYPES[kind])
    write = write_zip_exr if compression in LINES_PER_CHUNK else write_with_openexr
    write(str(path), planes, compression=compression, data_window=data_window, display_window=display_window,
          pixel_aspect=pixel_aspect, metadata=metadata)


def write_with_openexr(path: str, planes: Mapping[str, np.ndarray], *, compression: str, data_window: Window,
                       display_window: Window, pixel_aspect: float, metadata: Mapping[str, object]) -> None:
    """`write_exr`'s planes, already checked and typed, through OpenEXR's own writer (any compression;
    `rmpsam-matte bench io` also times it on ZIP against `write_zip_exr`)."""
    header = {
        **metadata,
        "compression": COMPRESSIONS[compression],
        "type": OpenEXR.scanlineimage,
        "lineOrder": OpenEXR.INCREASING_Y,
        "dataWindow": _box(data_window),
        "displayWindow": _box(display_window),
        "pixelAspectRatio": float(pixel_aspect),
    }
    with OpenEXR.File(header, dict(planes)) as exr_file:
        exr_file.write(path)

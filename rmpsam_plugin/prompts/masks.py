"""Mask prompts: an existing matte image (EXR, PNG, TIFF... through OpenImageIO) on a keyframe.

The matte lives in the image's display window, like every prompt. A mask rendered from Nuke with
a tight bounding box (EXR data window smaller than the display window) is placed where its data
window says, zero outside; data outside the display window is dropped. Only the first subimage
(part) is read.

Only a regular file of at most `MAX_MASK_FILE_BYTES` is opened, and only when its windows are at
most `MAX_MASK_PIXELS` (`input_files.py`): a FIFO would hang the job, and a small compressed file
can claim a window that would take all the memory to decode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from rmpsam_plugin.printable import printable

from .input_files import (
    MAX_MASK_FILE_BYTES,
    MAX_MASK_PIXELS,
    UnusableFileError,
    check_input_file,
)
from .model import Keyframe


class MaskError(ValueError):
    """A mask image that cannot be used; the message names the file."""


@dataclass(frozen=True)
class MaskInfo:
    """What the checks need to know of a mask image without reading its pixels."""

    width: int
    height: int
    channel_index: int


def inspect_mask(path: Path, channel: str | None) -> MaskInfo:
    """Open `path`'s header: its display-window size and the index of the matte channel."""
    image = _open(path)
    try:
        spec = image.spec()
    finally:
        image.close()
    return MaskInfo(spec.full_width, spec.full_height, _channel_index(spec, channel, path))


def load_mask(keyframe: Keyframe) -> np.ndarray:
    """The keyframe's mask as float32 (height, width) of its display window, in [0, 1].

    Values are clipped to [0, 1] and NaN becomes 0: filtered roto overshoots slightly, and the
    network pools features under the matte, where one NaN would poison the whole instance.
    """
    path = keyframe.mask_path
    if path is None:
        raise ValueError(f"keyframe {keyframe.frame} has no mask")
    image = _open(path)
    try:
        spec = image.spec()
        index = _channel_index(spec, keyframe.mask_channel, path)
        pixels = image.read_image(0, 0, index, index + 1, oiio.FLOAT)
        if pixels is None:
            raise MaskError(f"cannot read the pixels of mask image {printable(path)}: {image.geterror()}")
    finally:
        image.close()
    data = np.asarray(pixels, dtype=np.float32).reshape(spec.height, spec.width)
    matte = np.zeros((spec.full_height, spec.full_width), np.float32)
    _paste(matte, data, spec.x - spec.full_x, spec.y - spec.full_y)
    return np.clip(np.nan_to_num(matte, nan=0.0), 0.0, 1.0)


def _open(path: Path) -> oiio.ImageInput:
    try:
        check_input_file(path, MAX_MASK_FILE_BYTES)
    except UnusableFileError as error:
        raise MaskError(f"mask image {error.reason}: {printable(path)}") from None
    image = oiio.ImageInput.open(str(path))
    if image is None:
        raise MaskError(f"cannot read mask image {printable(path)}: {oiio.geterror() or 'unknown format'}")
    spec = image.spec()
    largest = max(spec.width * spec.height, spec.full_width * spec.full_height)
    if largest > MAX_MASK_PIXELS:
        image.close()
        raise MaskError(f"mask image {printable(path)} claims {largest:,} pixels, over the cap of {MAX_MASK_PIXELS:,}")
    return image


def _channel_index(spec: oiio.ImageSpec, channel: str | None, path: Path) -> int:
    """The matte channel's index. Without `channel` the image must have exactly one channel:
    guessing among R, G, B and A would silently pick the wrong matte as often as the right one."""
    names = list(spec.channelnames)
    if channel is None:
        if len(names) != 1:
            raise MaskError(
                f"mask image {printable(path)} has {len(names)} channels ({printable(', '.join(names))}); "
                "set mask_channel to the one that holds the matte"
            )
        return 0
    if channel not in names:
        raise MaskError(f"mask image {printable(path)} has no channel {channel!r}; it has {printable(', '.join(names))}")
    return names.index(channel)


def _paste(frame: np.ndarray, data: np.ndarray, left: int, top: int) -> None:
    """Copy `data` into `frame` with its top-left corner at (left, top), cropping what falls outside."""
    rows = slice(max(top, 0), min(top + data.shape[0], frame.shape[0]))
    cols = slice(max(left, 0), min(left + data.shape[1], frame.shape[1]))
    if rows.start < rows.stop and cols.start < cols.stop:
        frame[rows, cols] = data[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left]

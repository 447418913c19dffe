"""The files a prompt file brings in are read only when they are regular files of bounded size.

Why: a prompt path of `/dev/zero` made a job read until the kernel killed it at 23 GB, and a FIFO
made `validate` and `run` wait forever for a writer. So the kind and size are checked before a
file is opened (opening a FIFO blocks), and a prompt file is checked again on its descriptor,
opened non-blocking, and read no further than its cap, so a file swapped or grown in between
cannot get round the check either.

Caps: a prompt file is JSON of a few kilobytes (a heavily prompted shot, a few hundred), capped
at 2 MiB; a mask image is at most plate-sized, the largest plate taken as 16384 x 16384 pixels.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_PROMPT_FILE_BYTES = 2 * 1024 * 1024
"""2 MiB: about 10,000 keyframes of clicks and boxes, and checked in well under a second."""
MAX_MASK_PIXELS = 16384 * 16384
"""Largest display or data window of a mask image, in pixels."""
MAX_MASK_FILE_BYTES = MAX_MASK_PIXELS * 4 * 4
"""4 GiB: such a mask with four float channels, uncompressed."""

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class UnusableFileError(ValueError):
    """A file that is missing, not a regular file, over its cap or unreadable. `reason` completes
    "<the file> ...", e.g. "not found" or "is a FIFO (named pipe), not a regular file"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def check_input_file(path: Path, max_bytes: int) -> None:
    """Raise `UnusableFileError` unless `path` is a regular file of at most `max_bytes` (symbolic
    links followed). Does not open it."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise UnusableFileError("not found") from None
    except OSError as error:
        raise UnusableFileError(f"cannot be read ({error.strerror})") from None
    _check_status(status, max_bytes)


def read_input_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of `path`, a regular file of at most `max_bytes`; `UnusableFileError` otherwise."""
    check_input_file(path, max_bytes)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise UnusableFileError(f"cannot be read ({error.strerror})") from None
    with os.fdopen(descriptor, "rb") as file:
        _check_status(os.fstat(descriptor), max_bytes)
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnusableFileError(_too_large(len(data), max_bytes))
    return data


def _check_status(status: os.stat_result, max_bytes: int) -> None:
    for is_kind, kind in _KINDS:
        if is_kind(status.st_mode):
            raise UnusableFileError(f"is {kind}, not a regular file")
    if not stat.S_ISREG(status.st_mode):
        raise UnusableFileError("is not a regular file")
    if status.st_size > max_bytes:
        raise UnusableFileError(_too_large(status.st_size, max_bytes))


def _too_large(size: int, max_bytes: int) -> str:
    return f"is {size:,} bytes, over the cap of {max_bytes:,} bytes ({_binary_units(max_bytes)})"


def _binary_units(size: int) -> str:
    return f"{size // 1024**3} GiB" if size >= 1024**3 else f"{size // 1024**2} MiB"

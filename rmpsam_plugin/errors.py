"""Errors of the image path that a user can act on, each naming the file and frame at fault.

A render-farm log shows one line per failure, so every message here is complete on its own:
what is wrong, which frame, which file. The command layer turns `InputError` subclasses into
exit code 3 (bad input) and `OutputError` into exit code 4 (output problem) without a traceback;
anything else escaping is a bug.
"""

from __future__ import annotations

from pathlib import Path


class MatteToolError(Exception):
    """Base of every error the tool reports to a user rather than as a bug.

    `path` and `frame` are kept as attributes (not only in the text) so callers such as the job
    runner can record which frame failed and resume from it.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, frame: int | None = None) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None
        self.frame = frame


class InputError(MatteToolError):
    """Something the user gave cannot be used; fixing the input fixes the run."""


class SequenceError(InputError):
    """A sequence pattern matches nothing, or its frames are missing or disagree in size."""


class PlateError(InputError):
    """One plate file cannot be read or does not hold what was asked of it."""


class LayerNotFoundError(PlateError):
    """The requested layer is not in the file; `available` lists the layers that are."""

    def __init__(self, message: str, *, available: list[str], path: str | Path | None = None,
                 frame: int | None = None) -> None:
        super().__init__(message, path=path, frame=frame)
        self.available = available


class ColourError(InputError):
    """A colour space name that the OpenColorIO configuration does not know."""


class OutputError(MatteToolError):
    """An output file or directory cannot be written."""

"""Errors of the image path that a user can act on, each naming the file and frame at fault.

A render-farm log shows one line per failure, so every message here is complete on its own:
what is wrong, which frame, which file. Each class carries the exit code `rmpsam-matte` ends with
for it (`exit_code`: 3 bad input, 4 output problem), so a script calling `run_job` and a farm
calling the command act on the same number; anything else escaping is a bug (exit 1).
"""

from __future__ import annotations

from pathlib import Path


class MatteToolError(Exception):
    """Base of every error the tool reports to a user rather than as a bug.

    `path` and `frame` are kept as attributes (not only in the text) so callers such as the job
    runner can record which frame failed and resume from it.
    """

    exit_code = 1

    def __init__(self, message: str, *, path: str | Path | None = None, frame: int | None = None) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None
        self.frame = frame


class InputError(MatteToolError):
    """Something the user gave cannot be used; fixing the input fixes the run."""

    exit_code = 3


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

    exit_code = 4


class WeightsError(InputError):
    """A weights file that cannot be used (`rmpsam_model.checkpoint_errors.CheckpointError`, as a job reports it)."""

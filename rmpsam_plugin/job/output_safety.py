"""Refuse, before anything is written, an output that would replace one of the job's inputs.

`run PLATE -o PLATE` once replaced a shot's plates with mattes and exited 0. The same happens
with other spellings of the same files (`dir/./plate.%04d.exr`, a symlinked folder, a hard
link), so paths are compared after resolving them (`os.path.realpath`) and, for files that
exist, by identity (device and inode, what `os.path.samefile` compares). Inputs are every frame
of the plate sequence (not only the frames this run writes: a `--segment` of frames 1-10 could
still land on the plate's frames 11-20 through another pattern), every keyframe mask and the
prompt file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rmpsam_plugin.errors import InputError


class OutputOverwritesInputError(InputError):
    """An output frame would land on a file the job reads."""


@dataclass(frozen=True)
class _InputFile:
    role: str  # "plate frame 1001", "mask of car on frame 1010", "prompt file"
    path: Path


def refuse_outputs_over_inputs(outputs: Iterable[tuple[int, Path]], inputs: Iterable[tuple[str, Path]]) -> None:
    """Raise `OutputOverwritesInputError` naming both paths if any output frame is an input file.

    outputs: (frame, path) of every frame the run may write; inputs: (role, path) of every file it reads.
    """
    by_real_path: dict[str, _InputFile] = {}
    by_identity: dict[tuple[int, int], _InputFile] = {}
    for role, path in inputs:
        entry = _InputFile(role, Path(path))
        by_real_path.setdefault(os.path.realpath(path), entry)
        identity = _identity(path)
        if identity is not None:
            by_identity.setdefault(identity, entry)
    for frame, path in outputs:
        clash = by_real_path.get(os.path.realpath(path))
        if clash is None:
            identity = _identity(path)
            clash = by_identity.get(identity) if identity is not None else None
        if clash is not None:
            raise OutputOverwritesInputError(
                f"output frame {frame} ({path}) is the same file as the {clash.role} ({clash.path}): "
                f"refusing to overwrite an input; choose another output pattern", path=path, frame=frame)


def _identity(path: str | Path) -> tuple[int, int] | None:
    """(device, inode) of an existing file; None when there is none (nothing to overwrite by a link)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino

"""Exceptions raised while finding, reading and checking weights files.

Every message names the file (and the state-dict key where there is one) and fits on one line,
so the command line can print it as is and a render-farm log shows what to fix. Callers that do
not care which problem it was catch `CheckpointError`.
"""

from __future__ import annotations


class CheckpointError(Exception):
    """Base class: a weights or class-embedding file cannot be used."""


class WeightsNotFoundError(CheckpointError, FileNotFoundError):
    """No weights file where the path, environment variable or config file points (or none set)."""


class WeightsConfigError(CheckpointError):
    """The user's config file exists but cannot be read as the expected JSON object."""


class NotACheckpointError(CheckpointError):
    """The file is not a torch zip checkpoint, a pickle or a safetensors file, or is corrupt."""


class UnsupportedCheckpointError(CheckpointError):
    """A real checkpoint in a variant this loader deliberately does not read (legacy torch format,
    tensors with conjugate/negative-view metadata)."""


class NonTensorEntryError(CheckpointError):
    """Something other than a tensor sits where a tensor belongs; often a pickled call the safe
    loader refused to run."""


class StateDictMismatchError(CheckpointError):
    """The state dict does not fit the network: missing keys, unexpected keys, differing shapes.

    The lists are kept on the exception so a caller (or `weights info`) can report them in full.
    """

    def __init__(
        self,
        message: str,
        missing: list[str],
        unexpected: list[str],
        shape_mismatches: list[tuple[str, tuple[int, ...], tuple[int, ...]]],
    ) -> None:
        super().__init__(message)
        self.missing = missing
        self.unexpected = unexpected
        self.shape_mismatches = shape_mismatches


class ClassEmbeddingMismatchError(CheckpointError):
    """The class-embedding table's layout or width does not match the network's class projection."""

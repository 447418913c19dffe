"""What a weights file is, in one record: what `rmpsam-matte weights info` prints.

A pipeline TD handed a `.pth` wants to know, before a farm job fails on it: is it the released
model (compared key by key with the shipped manifest), and if not, what size of network it
holds (inferred from the shapes), plus the digest the mattes' headers will carry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rmpsam_model.checkpoint import checkpoint_digest, load_checkpoint
from rmpsam_model.checkpoint_architecture import infer_config_fields
from rmpsam_model.checkpoint_errors import StateDictMismatchError
from rmpsam_model.state_dict_check import check_state_dict, released_manifest_shapes, shapes_of


@dataclass(frozen=True)
class CheckpointSummary:
    path: str
    format: str
    """`mmengine-pickle`, `state-dict-pickle` or `safetensors` (see `checkpoint.py`)."""
    file_size: int
    sha256: str
    keys: int
    parameter_count: int
    """Every number the state dict stores: weights and normalisation statistics."""
    released_architecture: bool
    """Exactly the keys and shapes of the released `rapsam_r50_12e.pth`."""
    differences_from_released: dict[str, int]
    """Counts of missing keys, unexpected keys and shape mismatches against the released manifest."""
    inferred_config: dict[str, object]
    """`RMPSAMConfig` fields read back from the shapes (`checkpoint_architecture`)."""
    metadata: dict[str, str] = field(default_factory=dict)
    """A safetensors file's header metadata (e.g. the digest of the file it was converted from)."""


def summarize_checkpoint(path: str | Path) -> CheckpointSummary:
    """Load `path` safely and describe it; raises `CheckpointError` if it cannot be loaded."""
    checkpoint = load_checkpoint(path)
    differences = {"missing": 0, "unexpected": 0, "shape_mismatches": 0}
    try:
        check_state_dict(checkpoint.state_dict, released_manifest_shapes(), source=checkpoint.path)
    except StateDictMismatchError as mismatch:
        differences = {
            "missing": len(mismatch.missing),
            "unexpected": len(mismatch.unexpected),
            "shape_mismatches": len(mismatch.shape_mismatches),
        }
    return CheckpointSummary(
        path=str(checkpoint.path),
        format=checkpoint.format,
        file_size=checkpoint.path.stat().st_size,
        sha256=checkpoint_digest(checkpoint.path),
        keys=len(checkpoint.state_dict),
        parameter_count=sum(tensor.numel() for tensor in checkpoint.state_dict.values()),
        released_architecture=not any(differences.values()),
        differences_from_released=differences,
        inferred_config=infer_config_fields(shapes_of(checkpoint.state_dict)),
        metadata=checkpoint.metadata,
    )

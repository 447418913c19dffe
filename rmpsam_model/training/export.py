"""Write trained weights as one self-describing safetensors file (read by `rmpsam_model.shipped`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import safetensors
import safetensors.torch
import torch

from rmpsam_model.checkpoint_errors import NotACheckpointError, WeightsNotFoundError
from rmpsam_model.network import RMPSAM
from rmpsam_model.preprocess import InferenceSize
from rmpsam_model.shipped import (
    CLASS_EMBEDDING_KEY,
    CLASS_NAMES_METADATA,
    CONFIG_METADATA,
    INFERENCE_SIZE_METADATA,
    config_to_metadata,
)


def save_weights(
    model: RMPSAM,
    class_table: torch.Tensor,
    class_names: list[str],
    path: str | Path,
    inference_size: InferenceSize,
    extra_metadata: dict[str, str] | None = None,
    half: bool = False,
) -> Path:
    """The model's state dict, the class table under `class_embedding`, the config and names as
    metadata. `half` stores floating tensors as float16 (half the size; the loader upcasts).
    Written beside `path` and renamed, so a reader never sees a partial file."""
    path = Path(path)
    tensors = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    if CLASS_EMBEDDING_KEY in tensors:
        raise ValueError(f"the network has a '{CLASS_EMBEDDING_KEY}' key; the class table needs another name")
    tensors[CLASS_EMBEDDING_KEY] = class_table.detach().cpu().float().contiguous()
    if half:
        tensors = {key: value.half() if value.is_floating_point() else value for key, value in tensors.items()}
    metadata = {
        "format": "pt",
        CONFIG_METADATA: config_to_metadata(model.config),
        CLASS_NAMES_METADATA: json.dumps(list(class_names)),
        INFERENCE_SIZE_METADATA: json.dumps([inference_size.short_side, inference_size.max_long_side]),
        **(extra_metadata or {}),
    }
    return _write_atomically(tensors, metadata, path)


def save_half(src: str | Path, dst: str | Path, *, overwrite: bool = False) -> Path:
    """`src`, a safetensors weights file, again with its floating tensors as float16 and its
    metadata kept: half the size, as the shipped weights are stored (the loader upcasts). For a
    run trained without `--half`. Raises `FileExistsError` if `dst` exists and not `overwrite`."""
    src, dst = Path(src), Path(dst)
    if dst.exists() and not overwrite:
        raise FileExistsError(f"{dst}: already exists; overwrite it with --force (overwrite=True)")
    try:
        with safetensors.safe_open(str(src), framework="pt") as weights_file:
            metadata = weights_file.metadata() or {}
            tensors = {key: weights_file.get_tensor(key) for key in weights_file.keys()}
    except FileNotFoundError:
        raise WeightsNotFoundError(f"{src}: no such weights file") from None
    except Exception as error:  # safetensors' own error type: a file that is not safetensors at all
        raise NotACheckpointError(f"{src}: not a safetensors weights file ({error})") from None
    tensors = {key: value.half() if value.is_floating_point() else value for key, value in tensors.items()}
    return _write_atomically(tensors, metadata, dst)


def _write_atomically(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: Path) -> Path:
    """Written beside `path` and renamed, so a reader never sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        partial.write_bytes(safetensors.torch.save(tensors, metadata=metadata))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path

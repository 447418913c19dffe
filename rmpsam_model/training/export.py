"""Write trained weights as one self-describing safetensors file (read by `rmpsam_model.shipped`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import safetensors.torch
import torch

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
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        partial.write_bytes(safetensors.torch.save(tensors, metadata=metadata))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path

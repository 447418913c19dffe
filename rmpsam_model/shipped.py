"""Self-describing weights files, and the small model the project ships.

The released checkpoint needs its architecture and class table from elsewhere; weights the project
trains carry everything in one safetensors file: the network's state dict under its usual keys,
the class-embedding table under `class_embedding` (a name no network key has, so the file still
loads with `load_state_dict(strict=True)` after that one key is taken out), and in the metadata
the `RMPSAMConfig` as JSON, the class names and the inference size it was trained for.

`load_shipped_model()` is the default the demo, tests and CLI use when no released weights are
configured: `rmpsam_model/weights/rmpsam_synthetic_small.safetensors`, a small network trained
only on the project's synthetic shapes (see `weights/MODEL_CARD.md`).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors import safe_open

from rmpsam_model.checkpoint_errors import NotACheckpointError, WeightsNotFoundError
from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.network import RMPSAM
from rmpsam_model.preprocess import InferenceSize

SHIPPED_WEIGHTS = Path(__file__).resolve().parent / "weights" / "rmpsam_synthetic_small.safetensors"

CLASS_EMBEDDING_KEY = "class_embedding"
CONFIG_METADATA = "rmpsam_config"
CLASS_NAMES_METADATA = "class_names"
INFERENCE_SIZE_METADATA = "inference_size"


def config_to_metadata(config: RMPSAMConfig) -> str:
    return json.dumps(asdict(config), sort_keys=True)


def config_from_metadata(text: str) -> RMPSAMConfig:
    values = json.loads(text)
    values["blocks_per_stage"] = tuple(values["blocks_per_stage"])
    return RMPSAMConfig(**values)


def inference_size_from_metadata(metadata: dict[str, str]) -> InferenceSize:
    """The size the weights were trained at: predicting at it gives the measured quality."""
    if INFERENCE_SIZE_METADATA not in metadata:
        return InferenceSize()
    short_side, max_long_side = json.loads(metadata[INFERENCE_SIZE_METADATA])
    return InferenceSize(short_side, max_long_side)


def read_metadata(path: str | Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})


def load_weights_file(path: str | Path) -> tuple[RMPSAM, list[str]]:
    """A self-describing safetensors file -> (float32 model in eval mode with its class table
    installed, class names). Tensors stored as float16 are upcast to float32."""
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"weights file not found: {path}")
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata() or {})
        if CONFIG_METADATA not in metadata:
            raise NotACheckpointError(f"{path}: no '{CONFIG_METADATA}' metadata; not a self-describing RMP-SAM weights file")
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    tensors = {key: value.float() if value.is_floating_point() else value for key, value in tensors.items()}
    model = RMPSAM(config_from_metadata(metadata[CONFIG_METADATA]))
    class_table = tensors.pop(CLASS_EMBEDDING_KEY, None)
    model.load_state_dict(tensors)
    if class_table is not None:
        model.set_class_embedding(class_table)
    return model.eval(), json.loads(metadata.get(CLASS_NAMES_METADATA, "[]"))


def load_shipped_model() -> tuple[RMPSAM, list[str]]:
    """The project's own small synthetic-scene model and its class names."""
    return load_weights_file(SHIPPED_WEIGHTS)


def shipped_inference_size() -> InferenceSize:
    return inference_size_from_metadata(read_metadata(SHIPPED_WEIGHTS))

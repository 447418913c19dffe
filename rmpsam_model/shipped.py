"""Self-describing weights files, and the small model the project ships.

The released checkpoint needs its architecture and class table from elsewhere; weights the project
trains carry everything in one safetensors file: the network's state dict under its usual keys,
the class-embedding table under `class_embedding` (a name no network key has, so the file still
loads with `load_state_dict(strict=True)` after that one key is taken out), and in the metadata
the `RMPSAMConfig` as JSON, the class names and the inference size it was trained for.

The metadata is checked before anything is built: it must be well-formed, and the network it
describes must be the one the file's tensors are shaped for, so metadata asking for a huge
network is refused with a one-line `NotACheckpointError` instead of allocating it.

`load_shipped_model()` is the default the demo, tests and CLI use when no released weights are
configured: `rmpsam_model/weights/rmpsam_synthetic_small.safetensors`, a small network trained
only on the project's synthetic shapes (see `weights/MODEL_CARD.md`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path

import torch
from safetensors import safe_open

from rmpsam_model.checkpoint import load_checkpoint
from rmpsam_model.checkpoint_architecture import required_config_fields
from rmpsam_model.checkpoint_errors import NotACheckpointError
from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.network import RMPSAM
from rmpsam_model.preprocess import InferenceSize
from rmpsam_model.state_dict_check import check_state_dict, shapes_of

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


def inference_size_from_metadata(metadata: dict[str, str], source: object = "weights") -> InferenceSize:
    """The size the weights were trained at: predicting at it gives the measured quality.
    Raises `NotACheckpointError` naming `source` when the entry is not two positive integers."""
    if INFERENCE_SIZE_METADATA not in metadata:
        return InferenceSize()
    sides = _json_metadata(metadata, INFERENCE_SIZE_METADATA, source)
    if not (isinstance(sides, list) and len(sides) == 2 and all(_is_positive_int(side) for side in sides)):
        raise NotACheckpointError(f"{source}: '{INFERENCE_SIZE_METADATA}' metadata is not [short side, long side]")
    return InferenceSize(*sides)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The file's safetensors metadata; `NotACheckpointError` when it is not a readable safetensors file."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except Exception as error:  # safetensors reports a corrupt header with its own types
        raise NotACheckpointError(f"{path}: not a readable safetensors file ({_first_line(error)})") from error


def load_weights_file(path: str | Path) -> tuple[RMPSAM, list[str]]:
    """A self-describing safetensors file -> (float32 model in eval mode with its class table
    installed, class names). Tensors stored as float16 are upcast to float32."""
    path = Path(path)
    checkpoint = load_checkpoint(path)
    metadata = checkpoint.metadata
    if CONFIG_METADATA not in metadata:
        raise NotACheckpointError(f"{path}: no '{CONFIG_METADATA}' metadata; not a self-describing RMP-SAM weights file")
    tensors = {key: value.float() if value.is_floating_point() else value for key, value in checkpoint.state_dict.items()}
    class_table = tensors.pop(CLASS_EMBEDDING_KEY, None)
    model = RMPSAM(_checked_config(metadata, tensors, path))
    check_state_dict(tensors, model, source=path)
    model.load_state_dict(tensors)
    if class_table is not None:
        model.set_class_embedding(class_table)
    class_names = _json_metadata(metadata, CLASS_NAMES_METADATA, path) if CLASS_NAMES_METADATA in metadata else []
    if not (isinstance(class_names, list) and all(isinstance(name, str) for name in class_names)):
        raise NotACheckpointError(f"{path}: '{CLASS_NAMES_METADATA}' metadata is not a list of names")
    return model.eval(), class_names


def load_shipped_model() -> tuple[RMPSAM, list[str]]:
    """The project's own small synthetic-scene model and its class names."""
    return load_weights_file(SHIPPED_WEIGHTS)


def shipped_inference_size() -> InferenceSize:
    return inference_size_from_metadata(read_metadata(SHIPPED_WEIGHTS))


def _checked_config(metadata: dict[str, str], tensors: dict[str, torch.Tensor], path: Path) -> RMPSAMConfig:
    """The metadata's configuration, refused unless well-formed and the one the tensors fit:
    compared before the network is built, so a file cannot make the tool allocate more than it holds."""
    values = _json_metadata(metadata, CONFIG_METADATA, path)
    known = {field.name for field in fields(RMPSAMConfig)}
    if not isinstance(values, dict) or not set(values) <= known:
        raise NotACheckpointError(f"{path}: '{CONFIG_METADATA}' metadata is not an RMP-SAM configuration")
    blocks = values.get("blocks_per_stage", [1, 1, 1, 1])
    numbers = [value for name, value in values.items() if name != "blocks_per_stage"]
    if not (isinstance(blocks, list) and all(map(_is_positive_int, blocks + numbers))):
        raise NotACheckpointError(f"{path}: '{CONFIG_METADATA}' metadata holds a size that is not a positive integer")
    try:
        config = config_from_metadata(metadata[CONFIG_METADATA])
    except ValueError as error:
        raise NotACheckpointError(f"{path}: '{CONFIG_METADATA}' metadata: {error}") from error
    for name, from_tensors in required_config_fields(shapes_of(tensors), path).items():
        if getattr(config, name) != from_tensors:
            raise NotACheckpointError(
                f"{path}: '{CONFIG_METADATA}' metadata gives {name} {getattr(config, name)}, "
                f"but the file's tensors are shaped for {from_tensors}"
            )
    return config


def _json_metadata(metadata: dict[str, str], key: str, source: object) -> object:
    try:
        return json.loads(metadata[key])
    except (ValueError, RecursionError):
        raise NotACheckpointError(f"{source}: '{key}' metadata is not valid JSON") from None


def _is_positive_int(value: object) -> bool:
    return type(value) is int and value >= 1


def _first_line(error: Exception) -> str:
    return f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"

"""Which network a job runs: `--weights PATH`, else the configured released weights, else the
small synthetic model shipped with the tool (so a fresh install works with no download)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rmpsam_model.checkpoint import checkpoint_digest, load_state_dict
from rmpsam_model.checkpoint_architecture import required_config_fields
from rmpsam_model.checkpoint_errors import WeightsNotFoundError
from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.network import RMPSAM
from rmpsam_model.preprocess import InferenceSize
from rmpsam_model.shipped import (
    CONFIG_METADATA,
    SHIPPED_WEIGHTS,
    inference_size_from_metadata,
    load_weights_file,
    read_metadata,
)
from rmpsam_model.state_dict_check import check_state_dict, shapes_of
from rmpsam_model.weights_location import resolve_weights_path


@dataclass
class LoadedWeights:
    model: RMPSAM
    path: Path
    digest: str
    inference_size: InferenceSize
    class_names: list[str]


def load_job_weights(explicit: Path | None) -> LoadedWeights:
    """The network of the chosen weights file. Anything wrong with the file, down to metadata
    describing another network than its tensors hold, is a one-line `CheckpointError`."""
    path = _choose(explicit)
    if path.suffix == ".safetensors" and CONFIG_METADATA in read_metadata(path):
        model, class_names = load_weights_file(path)
        size = inference_size_from_metadata(read_metadata(path), path)
    else:
        state_dict = load_state_dict(path)
        model = RMPSAM(RMPSAMConfig(**required_config_fields(shapes_of(state_dict), path)))
        check_state_dict(state_dict, model, source=path)
        model.load_state_dict(state_dict)
        class_names, size = [], InferenceSize()
    return LoadedWeights(model.eval(), path, checkpoint_digest(path), size, class_names)


def _choose(explicit: Path | None) -> Path:
    if explicit is not None:
        return resolve_weights_path(explicit)
    try:
        return resolve_weights_path(None)
    except WeightsNotFoundError:
        return SHIPPED_WEIGHTS

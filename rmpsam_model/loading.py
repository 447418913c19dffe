"""`load_model`: which network to run, loaded once, ready for inference.

Which weights: `weights=PATH`, else the configured released weights (`RMPSAM_WEIGHTS`, then
`~/.config/rmpsam/config.json`: `weights_location`), else the small synthetic model shipped in
the package, so a fresh install runs with no download. Anything wrong with the file, down to
metadata describing another network than its tensors hold, is a one-line `CheckpointError`.

Ready for inference means BatchNorm folded into the convolutions (`RMPSAM.fuse_for_inference`):
the same outputs to float rounding, in less time on every part (`rmpsam-matte bench network`
measures the eager and fused network side by side). Training keeps the unfused form
(`fused=False`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rmpsam_model.checkpoint import checkpoint_digest, load_state_dict
from rmpsam_model.checkpoint_architecture import required_config_fields
from rmpsam_model.checkpoint_errors import WeightsNotFoundError
from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.network import RMPSAM
from rmpsam_model.preprocess import InferenceSize
from rmpsam_model.shipped import CONFIG_METADATA, SHIPPED_WEIGHTS, inference_size_from_metadata, load_weights_file, read_metadata
from rmpsam_model.state_dict_check import check_state_dict, shapes_of
from rmpsam_model.weights_location import resolve_weights_path


@dataclass
class LoadedModel:
    """The network and what a job needs to know of its weights file."""

    model: RMPSAM
    path: Path
    digest: str  # of the weights file: recorded in every matte's header, keys the resume cache
    inference_size: InferenceSize  # the size the weights were trained at
    class_names: list[str]


def load_model(weights: str | Path | None = None, device: str = "cpu", fused: bool = True) -> LoadedModel:
    """The chosen network (module docstring), in eval mode on `device`."""
    path = _choose(Path(weights) if weights is not None else None)
    if path.suffix == ".safetensors" and CONFIG_METADATA in read_metadata(path):
        model, class_names = load_weights_file(path)
        size = inference_size_from_metadata(read_metadata(path), path)
    else:
        state_dict = load_state_dict(path)
        model = RMPSAM(RMPSAMConfig(**required_config_fields(shapes_of(state_dict), path)))
        check_state_dict(state_dict, model, source=path)
        model.load_state_dict(state_dict)
        class_names, size = [], InferenceSize()
    model = model.eval().requires_grad_(False)
    if fused:
        model.fuse_for_inference()
    return LoadedModel(model.to(device), path, checkpoint_digest(path), size, class_names)


def _choose(explicit: Path | None) -> Path:
    if explicit is not None:
        return resolve_weights_path(explicit)
    try:
        return resolve_weights_path(None)
    except WeightsNotFoundError:
        return SHIPPED_WEIGHTS

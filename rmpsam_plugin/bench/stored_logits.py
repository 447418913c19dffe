"""`bench pipeline --network none`: a stand-in network that answers instantly with stored logits.

On a GPU node the network costs the CPU next to nothing, and what sets the frame rate is the
CPU side: reading plates, the network image, the stabiliser, edge refinement, the Cryptomatte
and the EXR write. To measure that side alone, the job's propagation engine is replaced by this
stand-in. It asks for every frame's network image in the order the default tracker's engine does
(one pass, first to last: `PropagationEngine._both_directions`), so plates are read, converted and
kept exactly as in a real job, and then returns the
shot's true mattes as stride-4 logits: the content a good network gives, thin soft edges around
solid interiors. Random weights would give noise that no plate has (instances overlapping on a
third of the frame), and the finishing costs depend on content: the Cryptomatte's ranks and the
EXR's compression see every pixel.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch

from rmpsam_model.preprocess import InferenceGeometry
from rmpsam_plugin.images.geometry import PlateGeometry

CERTAIN_LOGIT = 9.0
"""Logit of a pixel the stand-in is sure of (sigmoid 0.99988): a decoder's confident interior."""


def truth_logits(mattes: np.ndarray, geometry: PlateGeometry, network_geometry: InferenceGeometry) -> torch.Tensor:
    """(K, H, W) true coverage over the frame window -> (K, h/4, w/4) logits as the decoder lays them
    out: the network image's resized area at stride 4, padded like the network input."""
    resized_h, resized_w = network_geometry.resized_hw
    padded_h, padded_w = network_geometry.padded_hw
    logits = np.full((len(mattes), padded_h // 4, padded_w // 4), -CERTAIN_LOGIT, dtype=np.float32)
    for plane, matte in zip(logits, mattes):
        network = geometry.image_to_network(np.asarray(matte, np.float32)[..., None]).reshape(geometry.network_hw)
        coverage = cv2.resize(network, (resized_w // 4, resized_h // 4), interpolation=cv2.INTER_AREA)
        probability = np.clip(coverage, 1.0 / (1.0 + np.exp(CERTAIN_LOGIT)), 1.0 / (1.0 + np.exp(-CERTAIN_LOGIT)))
        plane[: resized_h // 4, : resized_w // 4] = np.log(probability / (1.0 - probability))
    return torch.from_numpy(logits)


class StoredLogitsEngine:
    """In place of `PropagationEngine` (the same `run`): reads as its one pass reads, answers from memory."""

    def __init__(self, logits: dict[int, dict[str, torch.Tensor]], network_image: Callable[[int], np.ndarray],
                 shot_range: tuple[int, int]) -> None:
        """`logits`: {frame: {instance: (h/4, w/4) logits}} for every frame of `shot_range`."""
        self.logits = logits
        self.network_image = network_image
        self.shot_range = shot_range

    def run(self, first: int, last: int, margin: int = 0) -> dict[int, dict[str, torch.Tensor]]:
        lo, hi = max(self.shot_range[0], first - margin), min(self.shot_range[1], last + margin)
        for frame in range(lo, hi + 1):  # each frame once, decoded forward and backward in turn
            self.network_image(frame)
        return {frame: dict(self.logits[frame]) for frame in range(lo, hi + 1)}

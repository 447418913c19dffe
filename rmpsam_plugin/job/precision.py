"""`--precision int8|float32`: which arithmetic the network's backbone runs in (`rmpsam_model.int8`).

int8 needs activation ranges measured on images like those the weights were trained on. The tool
has such images without any plate: its synthetic shot generator, with seeds from the training
stream. The same few frames every time, so one weights file always gets the same int8 model and
the model cache (per weights digest) stays valid.
"""

from __future__ import annotations

import torch

from rmpsam_model.int8 import PRECISIONS, use_int8_backbone
from rmpsam_model.loading import LoadedModel
from rmpsam_model.preprocess import InferenceGeometry, InferenceSize, prepare_image
from rmpsam_plugin.images.colour import linear_to_network_rgb
from rmpsam_plugin.synthetic.shot import generate_shot
from rmpsam_plugin.training_data import TRAIN_SEED_BASE

DEFAULT_PRECISION = "float32"
CALIBRATION_FRAMES = 4


def calibration_images(size: InferenceSize, count: int = CALIBRATION_FRAMES) -> list[torch.Tensor]:
    """`count` training-stream synthetic frames at the inference size, as the network sees them
    (landscape, the long side at `size.max_long_side`)."""
    height, width = size.short_side, size.max_long_side
    geometry = InferenceGeometry.for_image(height, width, size)
    images = []
    for index in range(count):
        shot = generate_shot(TRAIN_SEED_BASE + index, 1, height, width, 1 + index % 4, shutter=0.0, blur_samples=1)
        images.append(prepare_image(linear_to_network_rgb(shot.frames[0]), geometry)[None])
    return images


def with_precision(weights: LoadedModel, precision: str) -> LoadedModel:
    """`weights` with its backbone in `precision` (changed in place: load a second copy to keep both)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "int8":
        use_int8_backbone(weights.model, weights.digest, calibration_images(weights.inference_size))
    return weights

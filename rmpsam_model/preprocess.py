"""Image preparation for the network and the way back (docs/network.md, Input and Post-processing).

The network sees RGB in 0..255 scale, normalised per channel, resized keeping aspect to an
inference size and zero-padded at the bottom/right to a multiple of 32. Everything a caller gives
or gets back is in original-image pixels; `InferenceGeometry` owns the arithmetic between the two
so prompts, masks and kernels agree on where a pixel is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)
SIZE_DIVISOR = 32


@dataclass(frozen=True)
class InferenceSize:
    """Target size of the resized (unpadded) image: the short side becomes `short_side` unless
    that would push the long side past `max_long_side` (the authors' 800/1333 rule)."""

    short_side: int = 576
    max_long_side: int = 1024

    def scale_for(self, height: int, width: int) -> float:
        short, long = min(height, width), max(height, width)
        return min(self.short_side / short, self.max_long_side / long)


@dataclass(frozen=True)
class InferenceGeometry:
    """Where an original image of `original_hw` lands in the padded network input."""

    original_hw: tuple[int, int]
    resized_hw: tuple[int, int]  # `img_shape` of the released code
    padded_hw: tuple[int, int]

    @classmethod
    def for_image(cls, height: int, width: int, size: InferenceSize) -> "InferenceGeometry":
        scale = size.scale_for(height, width)
        resized = (max(1, int(round(height * scale))), max(1, int(round(width * scale))))
        padded = tuple(-(-side // SIZE_DIVISOR) * SIZE_DIVISOR for side in resized)
        return cls((height, width), resized, padded)

    @property
    def xy_scale(self) -> tuple[float, float]:
        """Original pixels -> resized pixels, per axis (rounding makes them differ slightly)."""
        return self.resized_hw[1] / self.original_hw[1], self.resized_hw[0] / self.original_hw[0]

    def boxes_to_network(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Boxes in original pixels -> boxes in resized-image pixels."""
        sx, sy = self.xy_scale
        return np.asarray(boxes_xyxy, dtype=np.float32) * np.array([sx, sy, sx, sy], dtype=np.float32)

    def logits_to_original(self, logits: torch.Tensor) -> torch.Tensor:
        """Mask logits at stride 4 (..., h/4, w/4) -> logits at the original resolution.

        As released: bilinear to the padded input size, crop to `img_shape`, bilinear to the
        original size. Logits (not probabilities) are resized so a threshold at 0 matches the
        authors' binary masks and a sigmoid gives the soft matte.
        """
        lead = logits.shape[:-2]
        flat = logits.reshape(1, -1, *logits.shape[-2:]).float()
        padded = F.interpolate(flat, size=self.padded_hw, mode="bilinear", align_corners=False)
        cropped = padded[..., : self.resized_hw[0], : self.resized_hw[1]]
        if self.resized_hw == self.original_hw:  # bilinear at scale 1 is the identity: skip a full-size pass
            return cropped.reshape(*lead, *self.original_hw)
        original = F.interpolate(cropped, size=self.original_hw, mode="bilinear", align_corners=False)
        return original.reshape(*lead, *self.original_hw)


def prepare_image(image: np.ndarray, geometry: InferenceGeometry) -> torch.Tensor:
    """An RGB image (H, W, 3), uint8 0..255 or float 0..1 display-referred, -> (3, Hp, Wp)
    normalised, resized and zero-padded network input (padding after normalisation, as released)."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {image.shape}")
    if image.shape[:2] != geometry.original_hw:
        raise ValueError(f"image is {image.shape[:2]}, geometry was planned for {geometry.original_hw}")
    rgb = image.astype(np.float32) if image.dtype == np.uint8 else image.astype(np.float32) * 255.0
    tensor = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None]
    if geometry.resized_hw != geometry.original_hw:
        tensor = F.interpolate(tensor, size=geometry.resized_hw, mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(PIXEL_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(PIXEL_STD).view(1, 3, 1, 1)
    normalised = (tensor - mean) / std
    pad_bottom = geometry.padded_hw[0] - geometry.resized_hw[0]
    pad_right = geometry.padded_hw[1] - geometry.resized_hw[1]
    return F.pad(normalised, (0, pad_right, 0, pad_bottom))[0]

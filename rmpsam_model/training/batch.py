"""What a data source hands the trainer: network-ready images and their per-instance targets.

The trainer never sees files or generators, only this record (docs/architecture.md, Packages and layers: the network
package knows nothing of EXR or synthetic shots). A data source is any callable
`source(step) -> TrainingBatch`; indexing by step is what makes a resumed run see exactly the
batches the uninterrupted one would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass
class TrainingBatch:
    """images   (B, 3, H, W) normalised network input (H, W multiples of 32; padding already zero)
    mattes      per image a (K_i, H, W) float tensor of soft instance coverage in [0, 1]
    classes     per image a (K_i,) int64 tensor of class indices into the class table
    pairs       (keyframe image, later image) index pairs: two frames of one shot whose mattes list
                the same instances in the same order, for the clip loss (`objectives`); may be empty
    """

    images: torch.Tensor
    mattes: list[torch.Tensor]
    classes: list[torch.Tensor]
    pairs: tuple[tuple[int, int], ...] = ()
    content_hw: tuple[int, int] | None = None
    """The resized image inside the padding, (h, w); None when there is no padding. Prompt boxes are
    encoded relative to it, as the predictor encodes them (`InferenceGeometry.resized_hw`)."""

    def __post_init__(self) -> None:
        if not (len(self.mattes) == len(self.classes) == self.images.shape[0]):
            raise ValueError("one mattes and one classes entry per image is required")
        for mattes, classes in zip(self.mattes, self.classes):
            if mattes.shape[1:] != self.images.shape[2:] or mattes.shape[0] != classes.shape[0]:
                raise ValueError(f"mattes {tuple(mattes.shape)} / classes {tuple(classes.shape)} do not fit "
                                 f"images {tuple(self.images.shape)}")
        for first, second in self.pairs:
            if self.mattes[first].shape[0] != self.mattes[second].shape[0]:
                raise ValueError(f"paired images {first} and {second} have different instance counts")

    @property
    def image_hw(self) -> tuple[int, int]:
        """The size prompt boxes are encoded against: the content inside the padding."""
        return self.content_hw or (int(self.images.shape[2]), int(self.images.shape[3]))

    def to(self, device: torch.device | str) -> TrainingBatch:
        return TrainingBatch(
            self.images.to(device),
            [m.to(device) for m in self.mattes],
            [c.to(device) for c in self.classes],
            self.pairs,
            self.content_hw,
        )


DataSource = Callable[[int], TrainingBatch]
"""`source(step)` -> the batch for that optimisation step (deterministic in `step`)."""

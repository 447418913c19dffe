"""Prompts simulated from ground truth, as torch ops on the training device.

A prompt query is trained against the instance it was drawn from (no matching needed). Clicks
are random pixels well inside the instance (the matte eroded by a few pixels, so a click never
sits on an anti-aliased edge it could be blamed for), written as the released 6-pixel box with
label 1; boxes are the instance's bounding box with its edges jittered, mostly outward as an
artist draws them, label 0 (docs/network.md, Prompt queries and Training recipe; the published run used clicks only,
the product needs both). Coordinates are pixels of the network input, x right, y down, pixel
(row i, col j) spanning [j, j + 1) x [i, i + 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

CLICK_HALF_SIZE = 3.0  # the released click box (x-3, y-3, x+3, y+3)
CLICK_LABEL = 1
BOX_LABEL = 0
MIN_INSTANCE_PIXELS = 16
"""Instances smaller than this (after thresholding at 0.5) are never prompted."""
CLICK_EROSION_RADIUS = 2


@dataclass
class SampledPrompts:
    """boxes (P, 4) xyxy pixels, labels (P,) 1 = click / 0 = box, targets (P,) instance indices."""

    boxes: torch.Tensor
    labels: torch.Tensor
    targets: torch.Tensor


def promptable_instances(mattes: torch.Tensor) -> torch.Tensor:
    """Indices of the instances in `mattes` (K, H, W) large enough to prompt."""
    return torch.nonzero((mattes > 0.5).flatten(1).sum(dim=1) >= MIN_INSTANCE_PIXELS).flatten()


def bounding_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Tight xyxy pixel-edge boxes of the non-empty bool masks (M, H, W) -> (M, 4) float."""
    height, width = masks.shape[1:]
    rows = masks.any(dim=2)
    cols = masks.any(dim=1)
    row_index = torch.arange(height, device=masks.device)
    col_index = torch.arange(width, device=masks.device)
    y1 = torch.where(rows, row_index, height).amin(dim=1)
    y2 = torch.where(rows, row_index, -1).amax(dim=1) + 1
    x1 = torch.where(cols, col_index, width).amin(dim=1)
    x2 = torch.where(cols, col_index, -1).amax(dim=1) + 1
    return torch.stack([x1, y1, x2, y2], dim=1).float()


def jitter_boxes(boxes: torch.Tensor, jitter: float, image_hw: tuple[int, int],
                 generator: torch.Generator | None) -> torch.Tensor:
    """Move each edge by a share of the box size drawn from U(-jitter / 2, jitter), outward
    positive, then clip to the image."""
    size = torch.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, dim=1)
    share = torch.rand(boxes.shape, device=boxes.device, generator=generator) * 1.5 * jitter - 0.5 * jitter
    moved = boxes + torch.tensor([-1.0, -1.0, 1.0, 1.0], device=boxes.device) * share * size
    height, width = image_hw
    limits = torch.tensor([width, height, width, height], device=boxes.device, dtype=boxes.dtype)
    return torch.minimum(moved.clamp(min=0.0), limits)


def random_click_boxes(masks: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One click per bool mask (M, H, W), uniformly among its pixels at least
    `CLICK_EROSION_RADIUS` from its edge (the whole mask when erosion empties it) -> (M, 4)."""
    kernel = 2 * CLICK_EROSION_RADIUS + 1
    outside = (~masks).float().unsqueeze(1)
    eroded = F.max_pool2d(outside, kernel, stride=1, padding=CLICK_EROSION_RADIUS)[:, 0] == 0
    eroded = torch.where(eroded.flatten(1).any(dim=1).view(-1, 1, 1), eroded, masks)
    width = masks.shape[2]
    # The arg-max of uniform noise over the allowed pixels is a uniform pick among them (and much
    # cheaper than multinomial over every pixel).
    noise = torch.rand(eroded.shape, device=masks.device, generator=generator)
    flat_index = (noise * eroded).flatten(1).argmax(dim=1)
    x = (flat_index % width).float() + 0.5
    y = torch.div(flat_index, width, rounding_mode="floor").float() + 0.5
    centres = torch.stack([x, y, x, y], dim=1)
    return centres + torch.tensor([-1.0, -1.0, 1.0, 1.0], device=masks.device) * CLICK_HALF_SIZE


def sample_prompts(
    mattes: torch.Tensor,
    count: int,
    click_fraction: float,
    box_jitter: float,
    generator: torch.Generator | None = None,
    paired: bool = False,
) -> SampledPrompts | None:
    """`count` prompts for one image's instance mattes (K, H, W); None when no instance is large
    enough. Instances are visited in a random order and cycled, so every promptable instance gets
    a prompt before any gets a second; which prompts are clicks is random (`click_fraction`).

    `paired` prompts each of `count // 2` instances twice, as an artist prompts a keyframe: a box
    (the first half) and a click (the second half, same instances in the same order), so the
    objective can score their union, the matte the job makes of them (`keyframe_decode.combine`)."""
    candidates = promptable_instances(mattes)
    if candidates.numel() == 0:
        return None
    order = candidates[torch.randperm(candidates.numel(), device=mattes.device, generator=generator)]
    if paired:
        half = max(count // 2, 1)
        instances = order.repeat(-(-half // order.numel()))[:half]
        targets = torch.cat([instances, instances])
        is_click = torch.arange(2 * half, device=mattes.device) >= half
    else:
        targets = order.repeat(-(-count // order.numel()))[:count]
        is_click = torch.rand(count, device=mattes.device, generator=generator) < click_fraction
    masks = mattes[targets] > 0.5
    boxes = jitter_boxes(bounding_boxes(masks), box_jitter, tuple(mattes.shape[1:]), generator)
    if is_click.any():
        boxes[is_click] = random_click_boxes(masks[is_click], generator)
    labels = torch.where(is_click, CLICK_LABEL, BOX_LABEL).long()
    return SampledPrompts(boxes, labels, targets)

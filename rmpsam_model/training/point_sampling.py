"""Mask losses are computed on a few sampled points per mask, not on every pixel.

Following Mask2Former / PointRend (the recipe RMP-SAM trains with): draw `oversample_ratio * N`
random points, keep the `importance_ratio * N` where the prediction is least certain (logit
closest to 0) and fill the rest with fresh random points. Boundaries, where the loss matters, get
most of the points, and the cost no longer grows with the image size.

Coordinates are (x, y) in [0, 1] over the whole (padded) image, so one point set reads the stride-4
prediction and the full-resolution target at the same place.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def point_sample(maps: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear values of `maps` (M, H, W) at `points` (M, N, 2) (x, y in [0, 1]) -> (M, N)."""
    grid = (2.0 * points - 1.0).unsqueeze(1)  # (M, 1, N, 2), grid_sample's [-1, 1] with align_corners False
    return F.grid_sample(maps.unsqueeze(1), grid, mode="bilinear", align_corners=False)[:, 0, 0]


def uncertain_points(
    logits: torch.Tensor,
    num_points: int,
    oversample_ratio: float,
    importance_ratio: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """(M, N, 2) points for the masks `logits` (M, h, w), biased towards |logit| near 0."""
    count = logits.shape[0]
    num_sampled = int(num_points * oversample_ratio)
    num_uncertain = int(importance_ratio * num_points)
    candidates = torch.rand(count, num_sampled, 2, device=logits.device, generator=generator)
    uncertainty = -point_sample(logits.detach(), candidates).abs()
    chosen = uncertainty.topk(num_uncertain, dim=1).indices
    points = torch.gather(candidates, 1, chosen.unsqueeze(-1).expand(-1, -1, 2))
    random_points = torch.rand(count, num_points - num_uncertain, 2, device=logits.device, generator=generator)
    return torch.cat([points, random_points], dim=1)

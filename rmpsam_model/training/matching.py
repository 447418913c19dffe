"""Which object query answers which ground-truth instance: a Hungarian assignment per image.

Costs are the loss terms themselves (docs/network.md, Training recipe): classification (minus the predicted
probability of the instance's class), sigmoid cross-entropy and dice on shared random points.
The assignment uses `scipy.optimize.linear_sum_assignment`, SciPy being a numeric dependency the
project already has; it runs on a small (queries x instances) matrix on the CPU.
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment

from rmpsam_model.training.losses import pairwise_dice, pairwise_sigmoid_ce
from rmpsam_model.training.point_sampling import point_sample


def hungarian_match(cost: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(Q, K) cost, Q >= K -> (query indices, target indices), each (K,), target indices sorted."""
    queries, targets = linear_sum_assignment(cost.detach().cpu().numpy())
    return torch.as_tensor(queries, dtype=torch.long), torch.as_tensor(targets, dtype=torch.long)


@torch.no_grad()
def match_queries(
    mask_logits: torch.Tensor,
    class_logits: torch.Tensor,
    target_mattes: torch.Tensor,
    target_classes: torch.Tensor,
    num_points: int,
    weights: tuple[float, float, float],
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One image: mask_logits (Q, h, w), class_logits (Q, C + 1), target_mattes (K, H, W),
    target_classes (K,) -> matched (query indices, target indices). `weights` are
    (class, mask cross-entropy, dice) as in the loss."""
    if target_mattes.shape[0] == 0:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty
    class_weight, ce_weight, dice_weight = weights
    points = torch.rand(1, num_points, 2, device=mask_logits.device, generator=generator)
    predicted = point_sample(mask_logits, points.expand(mask_logits.shape[0], -1, -1))
    truth = point_sample(target_mattes, points.expand(target_mattes.shape[0], -1, -1))
    class_cost = -class_logits.float().softmax(dim=-1)[:, target_classes]
    cost = (
        class_weight * class_cost
        + ce_weight * pairwise_sigmoid_ce(predicted.float(), truth.float())
        + dice_weight * pairwise_dice(predicted.float(), truth.float())
    )
    return hungarian_match(cost)

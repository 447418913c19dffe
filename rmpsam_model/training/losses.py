"""The loss terms of docs/network.md (Training recipe), each on plain tensors so tests can check them by hand.

Mask terms compare logits and soft targets at sampled points (`point_sampling`): sigmoid
cross-entropy, and dice on the sigmoid probabilities with +1 smoothing as in Mask2Former. Soft
targets (the matte's coverage rather than a 0/1 mask) keep anti-aliased and motion-blurred edges
honest: a pixel half covered is asked for probability 0.5.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sigmoid_ce_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(M, N) logits and targets in [0, 1] -> (M,) mean binary cross-entropy per mask."""
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(dim=1)


def dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(M, N) -> (M,) `1 - (2 sum(p t) + 1) / (sum p + sum t + 1)` with p = sigmoid(logits)."""
    probabilities = logits.sigmoid()
    numerator = 2.0 * (probabilities * targets).sum(dim=1)
    denominator = probabilities.sum(dim=1) + targets.sum(dim=1)
    return 1.0 - (numerator + 1.0) / (denominator + 1.0)


def pairwise_sigmoid_ce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Matching cost: (Q, N) logits against (K, N) targets -> (Q, K) mean cross-entropy."""
    positive = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits), reduction="none")
    negative = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="none")
    return (positive @ targets.T + negative @ (1.0 - targets).T) / logits.shape[1]


def pairwise_dice(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Matching cost: (Q, N) logits against (K, N) targets -> (Q, K) dice loss."""
    probabilities = logits.sigmoid()
    numerator = 2.0 * probabilities @ targets.T
    denominator = probabilities.sum(dim=1, keepdim=True) + targets.sum(dim=1).unsqueeze(0)
    return 1.0 - (numerator + 1.0) / (denominator + 1.0)


def classification_loss(class_logits: torch.Tensor, targets: torch.Tensor, no_object_weight: float) -> torch.Tensor:
    """Cross-entropy over classes + "no object" (the last column), that column weighted
    `no_object_weight` so the many unmatched queries do not drown the matched ones.
    class_logits (Q, C + 1), targets (Q,) with C meaning "no object"."""
    weights = class_logits.new_ones(class_logits.shape[1])
    weights[-1] = no_object_weight
    return F.cross_entropy(class_logits, targets, weight=weights)


def mask_iou(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """IoU of `logits > 0` with `targets > 0.5`, (M, h, w) each -> (M,); 1 when both are empty."""
    predicted = logits > 0
    truth = targets > 0.5
    intersection = (predicted & truth).flatten(1).sum(dim=1).float()
    union = (predicted | truth).flatten(1).sum(dim=1).float()
    return torch.where(union > 0, intersection / union.clamp(min=1.0), torch.ones_like(union))


def iou_regression_loss(predicted_iou: torch.Tensor, actual_iou: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the network's IoU estimate (M,) against the measured IoU (M,)."""
    return F.mse_loss(predicted_iou, actual_iou.detach())

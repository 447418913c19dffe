"""Optimiser and learning-rate schedule (docs/network.md, Training recipe): AdamW, a linear warm-up, then
x0.1 steps; the backbone's learning rate scaled separately (x0.1 when it is pretrained)."""

from __future__ import annotations

import bisect

import torch

from rmpsam_model.network import RMPSAM
from rmpsam_model.training.config import TrainingConfig

WARMUP_START_FACTOR = 0.001


def build_optimizer(model: RMPSAM, config: TrainingConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on weight matrices and conv kernels only: biases, norm scales and
    embeddings are not pulled towards zero (the usual detection-transformer practice)."""
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        is_backbone = name.startswith("backbone.")
        decays = parameter.ndim > 1 and "embedding" not in name and not name.endswith("kernels.weight")
        groups.setdefault((is_backbone, decays), []).append(parameter)
    parameter_groups = [
        {
            "params": parameters,
            "lr": config.learning_rate * (config.backbone_lr_multiplier if is_backbone else 1.0),
            "weight_decay": config.weight_decay if decays else 0.0,
        }
        for (is_backbone, decays), parameters in sorted(groups.items())
    ]
    return torch.optim.AdamW(parameter_groups, lr=config.learning_rate)


def learning_rate_factor(step: int, config: TrainingConfig) -> float:
    """Multiplier of the base learning rate at `step` (0-based): warm-up, then x0.1 per milestone."""
    warmup = 1.0
    if step < config.warmup_steps:
        progress = step / config.warmup_steps
        warmup = WARMUP_START_FACTOR + (1.0 - WARMUP_START_FACTOR) * progress
    milestones = sorted(int(fraction * config.steps) for fraction in config.decay_at)
    return warmup * 0.1 ** bisect.bisect_right(milestones, step)


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainingConfig) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: learning_rate_factor(step, config))

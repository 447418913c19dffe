"""The training objective: prompt queries and object queries decoded on one batch, every decoder
stage and the adapter supervised (deep supervision), the loss terms of docs/network.md, Training recipe.

Prompt queries (the path the product relies on) are built per image from simulated clicks and
boxes and decoded through the same stages and prompt adapter as `RMPSAM.decode_prompts`, but with
different prompts on each image; each is trained against the instance it was drawn from, plus a
regression of its IoU estimate on the IoU it actually achieved. Object queries are matched to the
instances with the Hungarian algorithm and trained on class and mask.

Two optional terms train what the job does with prompts rather than each prompt alone
(`TrainingConfig.union_weight`, `clip_weight`): an instance prompted with a box and a click is
matted as their union, and the `clip` tracker decodes a keyframe's queries over the keyframe and a
later frame stacked along the height (docs/network.md, Training recipe).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from rmpsam_model.decoder import DecodeOutput, independent_queries_mask
from rmpsam_model.network import RMPSAM
from rmpsam_model.training.batch import TrainingBatch
from rmpsam_model.training.config import TrainingConfig
from rmpsam_model.training.losses import (
    classification_loss,
    dice_loss,
    iou_regression_loss,
    mask_iou,
    sigmoid_ce_loss,
)
from rmpsam_model.training.matching import match_queries
from rmpsam_model.training.point_sampling import point_sample, uncertain_points
from rmpsam_model.training.prompt_sampling import CLICK_LABEL, promptable_instances, sample_prompts


@dataclass
class StepLosses:
    """Weighted loss terms (summed over stages) whose sum is optimised, and unweighted monitors."""

    terms: dict[str, torch.Tensor] = field(default_factory=dict)
    monitors: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> torch.Tensor:
        return sum(self.terms.values())

    def add(self, name: str, value: torch.Tensor) -> None:
        self.terms[name] = self.terms[name] + value if name in self.terms else value


def training_losses(model: RMPSAM, batch: TrainingBatch, config: TrainingConfig, generator: torch.Generator) -> StepLosses:
    """Forward the batch through backbone, neck and both query paths; return the losses."""
    features = model.extract_features(batch.images)
    losses = StepLosses()
    _prompt_losses(model, features, batch, config, generator, losses)
    if config.object_path_weight > 0:
        _object_losses(model, features, batch, config, generator, losses)
    return losses


def decode_prompt_batch(model: RMPSAM, features: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor,
                        image_hw: tuple[int, int]) -> DecodeOutput:
    """`decode_prompts` with different prompts per image: boxes (B, P, 4), labels (B, P)."""
    head = model.panoptic_head
    batch, count = labels.shape
    queries = head.prompt_queries(boxes.reshape(-1, 4), labels.reshape(-1), image_hw).view(batch, count, -1)
    output = head.run_stages(features, queries, attention_mask=independent_queries_mask(count, features.device))
    return head.adapt_prompts(features, output)


def _mask_terms(logits: torch.Tensor, targets: torch.Tensor, config: TrainingConfig,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean sigmoid CE and dice over masks (M, h, w) vs soft targets (M, H, W) at uncertain points."""
    points = uncertain_points(logits, config.num_points, config.oversample_ratio, config.importance_ratio, generator)
    predicted = point_sample(logits, points)
    truth = point_sample(targets, points)
    return sigmoid_ce_loss(predicted, truth).mean(), dice_loss(predicted, truth).mean()


def _prompt_losses(model, features, batch, config, generator, losses: StepLosses) -> None:
    paired = config.union_weight > 0
    sampled = [
        sample_prompts(mattes, config.prompts_per_image, config.click_fraction, config.box_jitter, generator, paired)
        for mattes in batch.mattes
    ]
    keep = [index for index, prompts in enumerate(sampled) if prompts is not None]
    if not keep:
        return
    boxes = torch.stack([sampled[i].boxes for i in keep])
    labels = torch.stack([sampled[i].labels for i in keep])
    targets = torch.stack([batch.mattes[i][sampled[i].targets] for i in keep])
    output = decode_prompt_batch(model, features[keep], boxes, labels, batch.image_hw)
    achieved, union_achieved = _supervise_prompts(output, targets, config, generator, losses, "prompt", 1.0, paired)
    # Monitors from the final (adapter) output: the quality the product would get.
    is_click = labels.flatten() == CLICK_LABEL
    if is_click.any():
        losses.monitors["click_iou"] = float(achieved[is_click].mean())
    if (~is_click).any():
        losses.monitors["box_iou"] = float(achieved[~is_click].mean())
    if union_achieved is not None:
        losses.monitors["union_iou"] = float(union_achieved.mean())
    if config.clip_weight > 0:
        _clip_losses(model, features, batch, sampled, config, generator, losses)


def _clip_losses(model, features, batch, sampled, config, generator, losses: StepLosses) -> None:
    """The `clip` tracker's decode, trained: the keyframe's prompt queries decoded over its
    features and a later frame's stacked along the height (`RMPSAMPredictor.decode_queries_across`),
    each query asked for its instance on both frames at once."""
    pairs = [(first, second) for first, second in batch.pairs if sampled[first] is not None]
    if not pairs:
        return
    firsts, seconds = [first for first, _ in pairs], [second for _, second in pairs]
    stacked = torch.cat([features[firsts], features[seconds]], dim=2)
    boxes = torch.stack([sampled[first].boxes for first in firsts])
    labels = torch.stack([sampled[first].labels for first in firsts])
    targets = torch.stack([
        torch.cat([batch.mattes[first][sampled[first].targets], batch.mattes[second][sampled[first].targets]], dim=1)
        for first, second in pairs
    ])
    output = decode_prompt_batch(model, stacked, boxes, labels, batch.image_hw)
    achieved, union_achieved = _supervise_prompts(output, targets, config, generator, losses, "clip",
                                                  config.clip_weight, config.union_weight > 0)
    losses.monitors["clip_iou"] = float((achieved if union_achieved is None else union_achieved).mean())


def _supervise_prompts(output: DecodeOutput, targets: torch.Tensor, config: TrainingConfig, generator: torch.Generator,
                       losses: StepLosses, name: str, weight: float, paired: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Mask, dice and IoU-estimate terms of every stage of a prompt decode against `targets`
    (B, P, H, W); with `paired` (box queries in the first half, clicks on the same instances in
    the second) also the terms of their per-pixel maximum, the union the job writes, weighted
    `union_weight`. Returns the final stage's IoU per query and, when paired, per union."""
    flat_targets = targets.flatten(0, 1)
    low_res_truth = F.interpolate(flat_targets.unsqueeze(1), size=output.masks.shape[-2:], mode="area")[:, 0]
    union_achieved = None
    for masks, iou in zip(output.stage_masks, output.stage_iou):
        logits = masks.flatten(0, 1)
        ce, dice = _mask_terms(logits, flat_targets, config, generator)
        achieved = mask_iou(logits.detach(), low_res_truth)
        losses.add(f"{name}_mask_ce", weight * config.mask_ce_weight * ce)
        losses.add(f"{name}_dice", weight * config.dice_weight * dice)
        losses.add(f"{name}_iou_estimate", weight * config.iou_weight * iou_regression_loss(iou.flatten(), achieved))
        if paired:
            half = masks.shape[1] // 2
            union = torch.maximum(masks[:, :half], masks[:, half:]).flatten(0, 1)
            union_targets = targets[:, :half].flatten(0, 1)
            ce, dice = _mask_terms(union, union_targets, config, generator)
            losses.add(f"{name}_union_ce", weight * config.union_weight * config.mask_ce_weight * ce)
            losses.add(f"{name}_union_dice", weight * config.union_weight * config.dice_weight * dice)
            union_truth = low_res_truth.view(*targets.shape[:2], *low_res_truth.shape[-2:])[:, :half].flatten(0, 1)
            union_achieved = mask_iou(union.detach(), union_truth)
    return achieved, union_achieved


def _object_losses(model, features, batch, config, generator, losses: StepLosses) -> None:
    output = model.decode_objects(features)
    if output.cls is None:
        raise RuntimeError("object-query training needs a class table: call model.set_class_embedding first")
    instances = [_classified(promptable_instances(m), c) for m, c in zip(batch.mattes, batch.classes)]
    mattes = [m[keep] for m, keep in zip(batch.mattes, instances)]
    classes = [c[keep] for c, keep in zip(batch.classes, instances)]
    weight = config.object_path_weight
    for masks, class_logits in zip(output.stage_masks, output.stage_cls):
        no_object = class_logits.shape[-1] - 1
        class_targets = torch.full(class_logits.shape[:2], no_object, dtype=torch.long, device=features.device)
        matched_logits, matched_truth = [], []
        for image, (image_mattes, image_classes) in enumerate(zip(mattes, classes)):
            query_index, target_index = match_queries(
                masks[image], class_logits[image], image_mattes, image_classes, config.matching_points,
                (config.class_weight, config.mask_ce_weight, config.dice_weight), generator,
            )
            query_index, target_index = query_index.to(features.device), target_index.to(features.device)
            class_targets[image, query_index] = image_classes[target_index]
            matched_logits.append(masks[image, query_index])
            matched_truth.append(image_mattes[target_index])
        cls = classification_loss(class_logits.flatten(0, 1), class_targets.flatten(), config.no_object_weight)
        losses.add("object_class", weight * config.class_weight * cls)
        matched = torch.cat(matched_logits)
        if matched.shape[0]:
            ce, dice = _mask_terms(matched, torch.cat(matched_truth), config, generator)
            losses.add("object_mask_ce", weight * config.mask_ce_weight * ce)
            losses.add("object_dice", weight * config.dice_weight * dice)


def _classified(instances: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """The instances with a known class (a negative index means unknown: prompts only)."""
    return instances[classes[instances] >= 0]

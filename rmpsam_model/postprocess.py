"""Instance and panoptic results from the 100 object queries (docs/network.md, Post-processing).

This follows Mask2Former's standard fusion, which the released model uses: class probabilities are
a softmax over the classes plus the "no object" column; instance results keep the top-k
(query, class) pairs scored by class probability times the mean foreground probability inside the
mask; panoptic results keep confident queries, assign each pixel to the query with the highest
score-weighted probability, and drop segments mostly covered by others.

All functions take one image's outputs: logits (N, h, w) already mapped to the resolution the
caller wants, class logits (N, C + 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class InstanceResult:
    masks: torch.Tensor  # (K, h, w) bool
    scores: torch.Tensor  # (K,) class probability x mean mask probability, descending
    labels: torch.Tensor  # (K,) class index
    query_indices: torch.Tensor  # (K,) which object query produced each instance


@dataclass
class PanopticResult:
    segment_map: torch.Tensor  # (h, w) int64, 0 = void, segment ids from 1
    segments: list[dict]  # {"id", "label", "is_thing", "score", "query_index", "area"}


def instance_results(mask_logits: torch.Tensor, class_logits: torch.Tensor, top_k: int = 100) -> InstanceResult:
    num_classes = class_logits.shape[1] - 1
    probabilities = class_logits.float().softmax(-1)[:, :num_classes]
    scores, flat_index = probabilities.flatten().topk(min(top_k, probabilities.numel()))
    query_indices = torch.div(flat_index, num_classes, rounding_mode="floor")
    labels = flat_index % num_classes
    foreground = mask_logits[query_indices].float().sigmoid()
    binary = foreground > 0.5
    mask_scores = (foreground * binary).flatten(1).sum(1) / (binary.flatten(1).sum(1) + 1e-6)
    final_scores, order = (scores * mask_scores).sort(descending=True)
    return InstanceResult(binary[order], final_scores, labels[order], query_indices[order])


def panoptic_result(
    mask_logits: torch.Tensor,
    class_logits: torch.Tensor,
    is_thing: list[bool],
    object_threshold: float = 0.8,
    overlap_threshold: float = 0.8,
) -> PanopticResult:
    num_classes = class_logits.shape[1] - 1
    scores, labels = class_logits.float().softmax(-1).max(-1)
    keep = (labels != num_classes) & (scores > object_threshold)
    kept_queries = keep.nonzero().flatten()
    height, width = mask_logits.shape[-2:]
    segment_map = torch.zeros((height, width), dtype=torch.int64)
    segments: list[dict] = []
    if kept_queries.numel() == 0:
        return PanopticResult(segment_map, segments)

    probabilities = mask_logits[kept_queries].float().sigmoid()
    owner = (scores[kept_queries].view(-1, 1, 1) * probabilities).argmax(0)
    stuff_segment_of_label: dict[int, int] = {}
    for position, query in enumerate(kept_queries.tolist()):
        label = int(labels[query])
        claimed = owner == position
        own_area = int((probabilities[position] >= 0.5).sum())
        segment_pixels = claimed & (probabilities[position] >= 0.5)
        area = int(segment_pixels.sum())
        if area == 0 or own_area == 0 or area / own_area < overlap_threshold:
            continue
        if not is_thing[label] and label in stuff_segment_of_label:
            segment_id = stuff_segment_of_label[label]
            segments[segment_id - 1]["area"] += area
        else:
            segment_id = len(segments) + 1
            segments.append(
                {
                    "id": segment_id,
                    "label": label,
                    "is_thing": bool(is_thing[label]),
                    "score": float(scores[query]),
                    "query_index": query,
                    "area": area,
                }
            )
            if not is_thing[label]:
                stuff_segment_of_label[label] = segment_id
        segment_map[segment_pixels] = segment_id
    return PanopticResult(segment_map, segments)

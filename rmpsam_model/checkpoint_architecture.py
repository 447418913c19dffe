"""Read a network's sizes back from the shapes in its state dict.

A weights file does not say which configuration it was trained with, but every width and count
of `RMPSAMConfig` except the attention head count shows in some tensor's shape. Inferring them
lets `weights info` describe a file that is not the released size (the parity fixture, a
narrower retrained model) and lets the class-embedding check know the width the network's class
branch projects into without building the network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rmpsam_model.checkpoint_errors import NotACheckpointError

Shapes = Mapping[str, tuple[int, ...]]

CLASS_PROJECTION_KEY = "panoptic_head.panoptic_cls.0.weight"
"""The last layer of the class branch: its output rows are the width D of the class-embedding space."""


def class_embedding_width(shapes: Shapes) -> int | None:
    """D of the (classes, prototypes, D) table the network compares its queries with."""
    shape = shapes.get(CLASS_PROJECTION_KEY)
    return shape[0] if shape else None


def _count_indices(shapes: Shapes, pattern: str) -> int:
    """How many distinct N appear in keys matching `pattern` (a regex with one `(\\d+)` group)."""
    compiled = re.compile(pattern)
    return len({match.group(1) for key in shapes if (match := compiled.fullmatch(key))})


def _rows(shapes: Shapes, key: str, axis: int = 0) -> int | None:
    shape = shapes.get(key)
    return shape[axis] if shape is not None and len(shape) > axis else None


def infer_config_fields(shapes: Shapes) -> dict[str, object]:
    """The `RMPSAMConfig` fields the shapes determine, named as in the config (None where a key
    that reveals a field is absent). `num_heads` and `num_classes` leave no trace in the weights."""
    blocks = tuple(_count_indices(shapes, rf"backbone\.layer{stage}\.(\d+)\.conv1\.weight") for stage in range(1, 5))
    return {
        "backbone_width": _rows(shapes, "backbone.conv1.weight"),
        "blocks_per_stage": blocks if all(blocks) else None,
        "aggregation_width": _rows(shapes, "neck.deconv.conv_a2.weight"),
        "decoder_width": _rows(shapes, "panoptic_head.kernels.weight", axis=1),
        "num_queries": _rows(shapes, "panoptic_head.kernels.weight"),
        "num_stages": _count_indices(shapes, r"panoptic_head\.mask_heads\.(\d+)\..+") or None,
        "ffn_width": _rows(shapes, "panoptic_head.mask_heads.0.ffn.layers.0.0.weight"),
        "text_dim": class_embedding_width(shapes),
    }


def required_config_fields(shapes: Shapes, source: object) -> dict[str, object]:
    """`infer_config_fields`, refusing weights that leave any of those fields unknown: every
    RMP-SAM state dict reveals them all, and a network built from guesses would not fit anyway
    (and could be far larger than the file)."""
    fields = infer_config_fields(shapes)
    unknown = [name for name, value in fields.items() if value is None]
    if unknown:
        raise NotACheckpointError(
            f"{source}: not RMP-SAM weights: no tensor gives the network's {', '.join(unknown)}"
        )
    return fields

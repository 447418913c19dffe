"""Everything a training run depends on, in one JSON-serialisable record.

The run's JSON is written beside its checkpoints, so a resumed run can refuse to continue under
different settings and a shipped weights file can say exactly how it was made. Two presets cover
the product's two uses: `from_scratch` (small network on synthetic shots, full learning rate
everywhere, BatchNorm learning batch statistics) and `finetune` (released-format weights, the
published recipe's learning rates, BatchNorm frozen because a studio's batches are tiny).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace

from rmpsam_model.config import RMPSAMConfig

BATCHNORM_TRAIN = "train"
"""BatchNorm normalises with batch statistics and updates its running averages (from scratch)."""
BATCHNORM_FROZEN = "frozen"
"""BatchNorm stays in eval mode with its stored statistics; its affine weights still learn."""


@dataclass(frozen=True)
class TrainingConfig:
    """Optimiser, schedule, loss weights and sampling counts of one run (docs/network.md, Training recipe)."""

    steps: int = 2000
    batch_size: int = 8
    learning_rate: float = 1e-3
    backbone_lr_multiplier: float = 1.0
    """The published recipe uses 0.1 for a pretrained backbone; 1.0 when it starts from random."""
    weight_decay: float = 0.05
    warmup_steps: int = 100
    decay_at: tuple[float, ...] = (8 / 12, 11 / 12)
    """Fractions of `steps` where the learning rate is multiplied by 0.1 (epochs 8 and 11 of 12)."""
    grad_clip_norm: float = 1.0
    batchnorm: str = BATCHNORM_TRAIN

    prompts_per_image: int = 8
    click_fraction: float = 0.5
    """Share of prompt queries that are clicks (the rest are boxes)."""
    box_jitter: float = 0.1
    """Box edges move by up to this share of the box size (mostly outward, as an artist draws)."""
    num_points: int = 1024
    """Points per mask for the sampled mask losses (12,544 published, for 1280x736 crops)."""
    oversample_ratio: float = 3.0
    importance_ratio: float = 0.75
    matching_points: int = 256
    """Random points per mask for the Hungarian matching cost."""

    class_weight: float = 2.0
    no_object_weight: float = 0.1
    mask_ce_weight: float = 5.0
    dice_weight: float = 5.0
    iou_weight: float = 10.0
    object_path_weight: float = 1.0
    """Scales all object-query losses; below 1 the shared features favour the prompt path."""
    union_weight: float = 0.0
    """Above 0, prompts come in pairs (a box and a click on one instance) and the mask terms of
    their per-pixel maximum, the matte the job makes of an artist's keyframe, are added at this weight."""
    clip_weight: float = 0.0
    """Above 0, the keyframe prompts of each paired image (`TrainingBatch.pairs`) are also decoded
    over its frame and the later one stacked, as the `clip` tracker does, with mask terms at this weight."""

    checkpoint_every: int = 100
    log_every: int = 10
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.batchnorm not in (BATCHNORM_TRAIN, BATCHNORM_FROZEN):
            raise ValueError(f"batchnorm must be '{BATCHNORM_TRAIN}' or '{BATCHNORM_FROZEN}', got {self.batchnorm!r}")
        if self.steps < 1 or self.batch_size < 1 or self.prompts_per_image < 1:
            raise ValueError("steps, batch_size and prompts_per_image must be positive")
        if not 0.0 <= self.click_fraction <= 1.0:
            raise ValueError(f"click_fraction must be in [0, 1], got {self.click_fraction}")

    @classmethod
    def from_scratch(cls, **overrides) -> TrainingConfig:
        """A random network on synthetic shots. The classification weight is cut to 0.05: the
        released class logits are cosines times 1000 (logit scale 100, stage temperature 0.1), so
        at weight 2 their cross-entropy gradients are about a thousand times the mask terms' and,
        through the gradient-norm clip, would starve the shared layers of the prompt path."""
        return replace(cls(learning_rate=8e-4, warmup_steps=50, class_weight=0.05, object_path_weight=0.5), **overrides)

    @classmethod
    def finetune(cls, **overrides) -> TrainingConfig:
        """The published optimiser settings for pretrained weights (lr 1e-4, backbone x0.1)."""
        base = cls(learning_rate=1e-4, backbone_lr_multiplier=0.1, batchnorm=BATCHNORM_FROZEN, warmup_steps=20)
        return replace(base, **overrides)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainingConfig:
        values = json.loads(text)
        known = {f.name for f in fields(cls)}
        values["decay_at"] = tuple(values.get("decay_at", ()))
        return cls(**{key: value for key, value in values.items() if key in known})


SMALL_NETWORK = RMPSAMConfig(
    backbone_width=16,
    blocks_per_stage=(1, 1, 2, 1),
    aggregation_width=32,
    decoder_width=128,
    num_queries=20,
    ffn_width=512,
    text_dim=64,
    num_classes=6,
)
"""The network trained from scratch on synthetic shots (the shipped weights): about a tenth of a
ResNet-18 backbone and a 128-wide decoder, so it trains on two CPU cores in about an hour."""

NETWORK_PRESETS = {"small": SMALL_NETWORK, "parity-tiny": RMPSAMConfig.parity_tiny()}



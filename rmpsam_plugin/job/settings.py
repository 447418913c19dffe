"""Everything a run depends on, in one value that the plan, the runner and the resume key share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rmpsam_plugin.job.precision import DEFAULT_PRECISION
from rmpsam_plugin.mattes.overlaps import DEFAULT_OVERLAP
from rmpsam_plugin.propagation.keyframe_decode import NEGATIVE_RULE
from rmpsam_plugin.propagation.trackers import DEFAULT_TRACKER


@dataclass(frozen=True)
class RunSettings:
    plate: str
    prompts: Path | None  # None only in prompt-free mode (auto_classes), until instances are found
    output: str
    frames: tuple[int, int] | None = None  # None: the whole sequence
    segment: tuple[int, int] | None = None  # only these frames (a farm work unit)
    instances: tuple[str, ...] | None = None  # None: every instance of the prompt file
    size: int | None = None  # long side of the network image; None: what the weights were trained at
    device: str = "cpu"
    threads: int | None = None
    feature_cache_gib: float = 4.0  # network features kept for the backward pass (and, with --auto, from detection)
    layer: str = "rgba"
    colour_space: str | None = None
    cryptomatte: bool = True
    passthrough: bool = False
    weights: Path | None = None  # None: the configured weights, else the shipped synthetic model
    tracker: str = DEFAULT_TRACKER
    blend: str = "linear"
    refine_edges: bool = True
    temporal: bool = True
    overlap: str = DEFAULT_OVERLAP  # where instances overlap: independent or exclusive (mattes.overlaps)
    compression: str = "zip"
    pixel_type: str = "half"
    auto_classes: tuple[str, ...] | None = None  # prompt-free mode: find instances of these classes
    min_score: float = 0.5  # prompt-free mode: least detection confidence
    precision: str = DEFAULT_PRECISION  # the backbone's arithmetic: float32, or int8 on the CPU (job.precision)

    def result_key(self) -> dict[str, object]:
        """The settings that change mattes (not where or how fast they are computed), and the rule
        for negative clicks, which is not an option but changed once (`NEGATIVE_RULE`)."""
        return {
            "negative_clicks": NEGATIVE_RULE,
            "size": self.size,
            "layer": self.layer,
            "colour_space": self.colour_space,
            "tracker": self.tracker,
            "blend": self.blend,
            "refine_edges": self.refine_edges,
            "temporal": self.temporal,
            "overlap": self.overlap,
            "precision": self.precision,
        }

    def result_header(self) -> str:
        """`result_key` as every written frame's `rmpsam/settings` attribute holds it: resume, the
        farm's check task and a `VideoSession`'s frames compare this very string."""
        return json.dumps(self.result_key(), sort_keys=True, separators=(",", ":"))

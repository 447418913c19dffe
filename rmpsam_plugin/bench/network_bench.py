"""Network speed on this machine, against the float32 floor measured in the same run.

The floor is the network's FLOP count (counted by torch's own `FlopCounterMode` on the real
module tree, so it cannot drift from the code) divided by the dense float32 matmul rate this
machine reaches right now. Quoting time as a multiple of that floor keeps numbers comparable
across machines and honest on a busy one: both sides are measured minutes apart.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from rmpsam_model.bfloat16 import use_bfloat16_products
from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.int8 import use_int8_backbone
from rmpsam_model.network import RMPSAM
from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_model.preprocess import InferenceSize
from rmpsam_plugin.job.precision import calibration_images


@dataclass
class PartTiming:
    name: str
    seconds: float
    gflop: float


def median_seconds(function: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def dense_matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """Best float32 GFLOP/s of a square matmul: the rate the floor is quoted against."""
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats + 1))
    return 2 * size**3 / best / 1e9


def _timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def counted_gflop(function: Callable[[], object]) -> float:
    counter = FlopCounterMode(display=False)
    with counter:
        function()
    return counter.get_total_flops() / 1e9


def build_random_model(config: RMPSAMConfig, fused: bool) -> RMPSAM:
    """The network with random weights, as the benchmark runs it (no checkpoint needed)."""
    torch.manual_seed(0)
    model = RMPSAM(config).eval().requires_grad_(False)
    model.set_class_embedding(torch.nn.functional.normalize(torch.randn(config.num_classes, 2, config.text_dim), dim=-1))
    if fused:
        model.fuse_for_inference()
    return model


def time_network_parts(model: RMPSAM, images: torch.Tensor, repeats: int) -> list[PartTiming]:
    """Backbone, neck and object decoder separately, on one (1, 3, height, width) frame."""
    # no_grad rather than inference_mode: torch's FLOP counter cannot hook inference tensors.
    with torch.no_grad():
        stages = model.backbone(images)
        features = model.neck(stages)
        parts = [
            ("backbone", lambda: model.backbone(images)),
            ("neck", lambda: model.neck(stages)),
            ("decoder (100 queries)", lambda: model.decode_objects(features)),
        ]
        return [PartTiming(name, median_seconds(fn, repeats), counted_gflop(fn)) for name, fn in parts]


def time_click_on_cached_features(model: RMPSAM, height: int, width: int, repeats: int) -> float:
    """One click answered end to end by the predictor, features already cached."""
    predictor = RMPSAMPredictor(model, InferenceSize(short_side=min(height, width), max_long_side=max(height, width)))
    predictor.set_image(np.random.default_rng(0).random((height, width, 3), dtype=np.float32))
    click = [[width * 0.5, height * 0.5]]
    return median_seconds(lambda: predictor.predict_prompts(points=click), repeats=max(repeats, 10), warmup=2)


@dataclass
class NetworkBenchmark:
    threads: int
    height: int
    width: int
    matmul_gflops: float
    eager: list[PartTiming]
    fused: list[PartTiming]
    click_seconds: float
    int8_backbone_seconds: float | None = None  # the same frame through the int8 backbone (`rmpsam_model.int8`)
    # The neck and decoder with bfloat16 products (`rmpsam_model.bfloat16`), timed only on CPUs with bfloat16 units.
    bfloat16_parts: list[PartTiming] | None = None

    @property
    def total_gflop(self) -> float:
        return sum(part.gflop for part in self.fused)

    @property
    def floor_seconds(self) -> float:
        return self.total_gflop / self.matmul_gflops

    def rows(self) -> list[list[str]]:
        rows = []
        for eager, fused in zip(self.eager, self.fused):
            floor = fused.gflop / self.matmul_gflops
            rows.append(
                [
                    fused.name,
                    f"{fused.gflop:.1f}",
                    f"{floor * 1e3:.0f}",
                    f"{eager.seconds * 1e3:.0f}",
                    f"{fused.seconds * 1e3:.0f}",
                    f"{fused.seconds / floor:.2f}x",
                ]
            )
        eager_total = sum(part.seconds for part in self.eager)
        fused_total = sum(part.seconds for part in self.fused)
        rows.append(
            [
                "whole frame",
                f"{self.total_gflop:.1f}",
                f"{self.floor_seconds * 1e3:.0f}",
                f"{eager_total * 1e3:.0f}",
                f"{fused_total * 1e3:.0f}",
                f"{fused_total / self.floor_seconds:.2f}x",
            ]
        )
        if self.int8_backbone_seconds is not None:
            backbone = self.fused[0]
            rows.append(["backbone, int8", f"{backbone.gflop:.1f}", f"{backbone.gflop / self.matmul_gflops * 1e3:.0f}", "",
                         f"{self.int8_backbone_seconds * 1e3:.0f}",
                         f"{self.int8_backbone_seconds / (backbone.gflop / self.matmul_gflops):.2f}x"])
            rows.append(["whole frame, int8 backbone", f"{self.total_gflop:.1f}", f"{self.floor_seconds * 1e3:.0f}", "",
                         f"{self.int8_frame_seconds * 1e3:.0f}", f"{self.int8_frame_seconds / self.floor_seconds:.2f}x"])
        for part in self.bfloat16_parts or []:
            floor = part.gflop / self.matmul_gflops
            rows.append([f"{part.name}, bf16 products", f"{part.gflop:.1f}", f"{floor * 1e3:.0f}", "",
                         f"{part.seconds * 1e3:.0f}", f"{part.seconds / floor:.2f}x"])
        if self.int8_bfloat16_frame_seconds is not None:
            rows.append(["whole frame, int8-bf16", f"{self.total_gflop:.1f}", f"{self.floor_seconds * 1e3:.0f}", "",
                         f"{self.int8_bfloat16_frame_seconds * 1e3:.0f}",
                         f"{self.int8_bfloat16_frame_seconds / self.floor_seconds:.2f}x"])
        return rows

    @property
    def int8_bfloat16_frame_seconds(self) -> float | None:
        """`--precision int8-bf16`: the int8 backbone, then the neck and decoder with bfloat16 products."""
        if self.int8_backbone_seconds is None or self.bfloat16_parts is None:
            return None
        return self.int8_backbone_seconds + sum(part.seconds for part in self.bfloat16_parts)

    @property
    def int8_frame_seconds(self) -> float:
        """int8 backbone, then the float32 neck and decoder as timed in the same run."""
        return self.int8_backbone_seconds + sum(part.seconds for part in self.fused[1:])


def time_int8_backbone(config: RMPSAMConfig, images: torch.Tensor, repeats: int) -> float:
    """The fused random network's backbone quantised (calibrated on synthetic frames of the frame's
    size, in a temporary cache: random weights have no file to key it by), timed on `images`."""
    model = build_random_model(config, fused=True)
    height, width = images.shape[-2:]
    with tempfile.TemporaryDirectory(prefix="rmpsam-int8-bench-") as cache:
        use_int8_backbone(model, "random", calibration_images(InferenceSize(height, width)), Path(cache))
        with torch.no_grad():
            return median_seconds(lambda: model.backbone(images), repeats)


def time_bfloat16_parts(config: RMPSAMConfig, images: torch.Tensor, repeats: int) -> list[PartTiming]:
    """The neck and object decoder of the fused random network with bfloat16 products, on `images`;
    their FLOPs are float32's (the same products, in another type)."""
    model = use_bfloat16_products(build_random_model(config, fused=True))
    with torch.no_grad():
        stages = model.backbone(images)
        features = model.neck(stages)
        parts = [("neck", lambda: model.neck(stages)), ("decoder (100 queries)", lambda: model.decode_objects(features))]
        return [PartTiming(name, median_seconds(fn, repeats), counted_gflop(fn)) for name, fn in parts]


def run_network_benchmark(
    config: RMPSAMConfig, height: int = 576, width: int = 1024, repeats: int = 3, threads: int | None = None,
    int8: bool = False, bfloat16: bool = False,
) -> NetworkBenchmark:
    """`int8`: also the int8 backbone (`--precision int8`) on the same frame, timed after the float32
    parts; `bfloat16`: also the neck and decoder with bfloat16 products (`--precision int8-bf16`), which
    the caller asks for only on a CPU with bfloat16 units (elsewhere they time PyTorch's conversions)."""
    if threads is not None:
        torch.set_num_threads(threads)
    matmul_before = dense_matmul_gflops()
    images = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    eager = time_network_parts(build_random_model(config, fused=False), images, repeats)
    fused_model = build_random_model(config, fused=True)
    fused = time_network_parts(fused_model, images, repeats)
    click = time_click_on_cached_features(fused_model, height, width, repeats)
    int8_seconds = time_int8_backbone(config, images, repeats) if int8 else None
    bfloat16_parts = time_bfloat16_parts(config, images, repeats) if bfloat16 else None
    # The rate is measured before and after and the better one kept, so a burst of load from
    # elsewhere during one measurement does not flatter the ratio.
    matmul_rate = max(matmul_before, dense_matmul_gflops())
    return NetworkBenchmark(torch.get_num_threads(), height, width, matmul_rate, eager, fused, click, int8_seconds,
                            bfloat16_parts)

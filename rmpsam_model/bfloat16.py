"""bfloat16 products for the parts of the network that do not need float32's precision.

Why: with the backbone in int8 (`rmpsam_model.int8`) the float32 neck and decoder are two thirds
of a frame. CPUs with bfloat16 dot-product units (AVX-512 BF16, AMX) multiply bfloat16 at about
twice float32's rate and accumulate in float32; the neck's convolutions and the decoder's mask
products over every pixel are nearly all of that work.

Which parts, by measurement (README, "bfloat16 products"; `rmpsam-matte bench quality
--compare-precision --precision int8-bf16` on the shipped weights, prompt masks against float32's):
- in bfloat16: the per-tap products of the three deformable convolutions, their 2x transposed
  convolutions, the neck's 3x3 output convolution, the decoder's mask products (kernels .
  features) and mask pooling (features summed under each hard mask), and the prompt adapter's
  key and value projections of every pixel (a third of their 70 ms a frame at the released
  size). With the int8 backbone, prompt masks agree with float32's nearly as well as with the
  int8 backbone alone (mean IoU 0.9811 against 0.9816 on 16:9 frames). Unlike int8, whose one scale per tensor could not hold the
  deformable per-tap maps (+-10,000, cancelling when the nine taps are summed), bfloat16 rounds
  each value relative to its own size;
- in float32: the offset convolutions (sampling positions: bfloat16 there cost 0.0015 of mask
  IoU), the lateral 1x1 convolutions (0.001, for 14 ms), the bilinear sampling, the final projection with
  its coordinate channels, and the queries' own attention and feed-forward layers (small).
Each bfloat16 product takes its inputs rounded to bfloat16 and hands float32 on, so every tensor
between the parts keeps its type and layout.

Without bfloat16 units (AVX2, AVX-512 without BF16) PyTorch still computes bfloat16 products,
through conversions that are slower than float32: `--precision int8-bf16` is refused there
(`rmpsam_plugin.job.precision.check_precision`), never silently slow.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

# /proc/cpuinfo flags of CPUs that multiply bfloat16 natively: AVX-512 BF16 (Cooper Lake, Zen 4 and
# later) and AMX's bfloat16 tiles (Sapphire Rapids and later).
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


def bfloat16_units(cpuinfo: str | None = None) -> str | None:
    """The first of BFLOAT16_FLAGS this CPU has (from /proc/cpuinfo's text, read if not given),
    or None: no such flag, or no /proc/cpuinfo to say (not Linux), where nothing is assumed."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.exists() else ""
    flags = cpuinfo_flags(cpuinfo)
    return next((flag for flag in BFLOAT16_FLAGS if flag in flags), None)


def cpuinfo_flags(cpuinfo: str) -> set[str]:
    """The first processor's `flags` in /proc/cpuinfo's text (empty if it has none); the benches'
    machine line reads them too (`rmpsam_plugin.bench.machine`)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


class BFloat16Product(nn.Module):
    """A convolution computed in bfloat16: input rounded to bfloat16, output back in float32."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer.to(torch.bfloat16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x.to(torch.bfloat16)).to(x.dtype)


def use_bfloat16_products(model: nn.Module) -> nn.Module:
    """Switch a fused `RMPSAM`'s bfloat16 parts (module docstring) in place; returns `model`.
    Calling it again changes nothing."""
    deconv = model.neck.deconv
    for layer in (deconv.deform_conv1, deconv.deform_conv2, deconv.deform_conv3):
        # The deformable conv computes its per-tap products in its weight's type (`deform_conv`).
        layer.dcn.weight = nn.Parameter(layer.dcn.weight.detach().to(torch.bfloat16), requires_grad=False)
        if not isinstance(layer.up_sample, BFloat16Product):
            layer.up_sample = BFloat16Product(layer.up_sample)
    if not isinstance(deconv.output_conv, BFloat16Product):
        deconv.output_conv = BFloat16Product(deconv.output_conv)
    model.panoptic_head.product_dtype = torch.bfloat16
    return model


def uses_bfloat16_products(model: nn.Module) -> bool:
    return getattr(model.panoptic_head, "product_dtype", None) == torch.bfloat16

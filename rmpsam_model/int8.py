"""An int8 backbone for CPUs: the ResNet run by ONNX Runtime with int8 weights and uint8 activations.

The backbone is about half of a frame's float32 work, and float32 PyTorch already runs it near the
float32 floor; int8 convolutions on VNNI CPUs do the same work in well under half the time
(/work/shared/measurements.md: 228 ms against 525-650 ms fused float32 at 1024x576). The neck
(deformable convolutions) and the decoders stay float32 in PyTorch.

Quantisation recipe, the one that measured fast: ONNX export of the fused backbone, ONNX Runtime's
pre-processing, static quantisation in the QOperator format with uint8 activations and per-channel
int8 weights. int8 activations and the QDQ format hit slow paths on the same machine. Without
AVX-512 VNNI (or AVX-VNNI / AMX) ONNX Runtime still runs these u8s8 kernels, through slower
instruction sequences, and pure AVX2 can saturate intermediate sums (`reduce_range` exists for
that; it is not used here, where VNNI is).

Activation ranges come from calibration images the caller gives (the tool renders a few frames of
its shipped synthetic shots: deterministic, so a weights file always gets the same int8 model).
The quantised model is cached per weights digest, calibration size and calibration images under
`$RMPSAM_INT8_CACHE` (default `~/.cache/rmpsam/int8`), so only the first run pays for it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

# int8-bf16: the int8 backbone, and bfloat16 products in the neck and decoder (`rmpsam_model.bfloat16`).
PRECISIONS = ("float32", "int8", "int8-bf16")
CACHE_ENVIRONMENT = "RMPSAM_INT8_CACHE"
_STAGES = ("c2", "c3", "c4", "c5")
GRAPH_LAYOUT = "nhwc"  # the layout of the graph's stage outputs, part of the cache key


def int8_cache_dir() -> Path:
    explicit = os.environ.get(CACHE_ENVIRONMENT)
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rmpsam" / "int8"


class Int8Backbone(nn.Module):
    """Drop-in for `ResNet`: same input, same four stages out, computed by an ONNX Runtime session."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        super().__init__()
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.path = path
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        array = np.ascontiguousarray(images.detach().float().cpu().numpy())
        stages = self.session.run(list(_STAGES), {"images": array})
        # The graph hands out (B, H, W, C): viewed as (B, C, H, W) that is channels-last, the layout
        # the float backbone hands the neck (`RMPSAM.extract_features`), without a copy.
        return [torch.from_numpy(stage).permute(0, 3, 1, 2) for stage in stages]


class _ChannelsLastStages(nn.Module):
    """The backbone as exported: each stage transposed to (B, H, W, C).

    Why: ONNX Runtime runs the quantised convolutions channels-last inside, and an NCHW output
    made it transpose every stage back, only for PyTorch to transpose them again for the
    channels-last neck: 75 ms of a 1024x576 frame's 220 (2026-12-04, this machine). With
    the transpose in the graph the two cancel, and the stages come out in the neck's layout."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        return [stage.permute(0, 2, 3, 1) for stage in self.backbone(images)]


def quantised_backbone_path(backbone: nn.Module, digest: str, calibration: Sequence[torch.Tensor],
                            cache_dir: Path | None = None) -> Path:
    """The int8 ONNX model of `backbone` (fused, float32), built on first use and then reused.

    `calibration`: normalised (1, 3, H, W) images as `prepare_image` makes them, all one size;
    `digest` names the weights they belong to; the cache key is that digest, the size, a digest of
    the calibration images themselves (a change of calibration recipe never reuses a model built by
    the old one) and the graph's output layout (`GRAPH_LAYOUT`, nor does a change of layout).
    `cache_dir` replaces `int8_cache_dir()` (benches with random weights use a temporary one)."""
    height, width = calibration[0].shape[-2:]
    name = f"{digest}-{width}x{height}-{calibration_digest(calibration)}-{GRAPH_LAYOUT}.onnx"
    path = (cache_dir or int8_cache_dir()) / name
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rmpsam-int8-") as temporary:
        built = _quantise(backbone, [image.float() for image in calibration], Path(temporary))
        staged = path.with_name(f".{path.name}.{os.getpid()}.partial")
        staged.write_bytes(built.read_bytes())
        os.replace(staged, path)  # two processes building at once both end with a whole file
    return path


def calibration_digest(calibration: Sequence[torch.Tensor]) -> str:
    """12 hex digits of SHA-256 over the calibration images' float32 bytes, in order."""
    hasher = hashlib.sha256()
    for image in calibration:
        hasher.update(np.ascontiguousarray(image.detach().float().cpu().numpy()).tobytes())
    return hasher.hexdigest()[:12]


def _quantise(backbone: nn.Module, calibration: list[torch.Tensor], folder: Path) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    float_path, prepared_path, int8_path = folder / "float.onnx", folder / "prepared.onnx", folder / "int8.onnx"
    exportable = _ChannelsLastStages(backbone.to(memory_format=torch.contiguous_format))  # plain layout weights
    try:
        torch.onnx.export(exportable, (calibration[0],), str(float_path), input_names=["images"],
                          output_names=list(_STAGES), opset_version=17, dynamo=False,
                          dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"},
                                        **{name: {0: "batch", 1: f"{name}_h", 2: f"{name}_w"} for name in _STAGES}})
    finally:
        backbone.to(memory_format=torch.channels_last)
    quant_pre_process(str(float_path), str(prepared_path), skip_symbolic_shape=True)

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self._frames = iter([{"images": image.numpy()} for image in calibration])

        def get_next(self):
            return next(self._frames, None)

    quantize_static(str(prepared_path), str(int8_path), Frames(), quant_format=QuantFormat.QOperator,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
    return int8_path


def use_int8_backbone(model: nn.Module, digest: str, calibration: Sequence[torch.Tensor],
                      cache_dir: Path | None = None) -> nn.Module:
    """Swap `model.backbone` (a fused `RMPSAM`'s) for its int8 ONNX Runtime twin; returns `model`.
    Everything downstream (neck, decoders, the predictor's caches) is unchanged."""
    if isinstance(model.backbone, Int8Backbone):
        return model
    model.backbone = Int8Backbone(quantised_backbone_path(model.backbone, digest, calibration, cache_dir))
    return model

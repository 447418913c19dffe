"""`--precision float32|int8|int8-bf16`: which arithmetic the network runs in.

- float32: everything, the default (README, "Precision", says why);
- int8: the backbone quantised, run by ONNX Runtime (`rmpsam_model.int8`), the rest float32;
- int8-bf16: int8's backbone, and the neck's and decoder's largest products in bfloat16
  (`rmpsam_model.bfloat16` lists them); only on CPUs with bfloat16 units.

int8 needs activation ranges measured on images like those the weights were trained on. The tool
has such images without any plate: its synthetic shot generator, with seeds from the training
stream. The same few frames every time, so one weights file always gets the same int8 model and
the model cache (per weights digest) stays valid.

Where the option is taken: `rmpsam-matte run --precision` (`RunSettings.precision`, part of the
settings that change mattes: every frame's `rmpsam/settings` header and the resume key), `run_job(
precision=...)`, `VideoSession(..., precision=...)` and `rmpsam-matte serve --precision`. int8 and
int8-bf16 run the backbone on the CPU (ONNX Runtime), so they are refused with any other device,
and without the `int8` extra installed; int8-bf16 also on a CPU without bfloat16 units
(`check_precision`, an `InputError`: exit code 3).
"""

from __future__ import annotations

import importlib.util

import torch

from rmpsam_model.bfloat16 import BFLOAT16_FLAGS, bfloat16_units, use_bfloat16_products, uses_bfloat16_products
from rmpsam_model.int8 import PRECISIONS, Int8Backbone, use_int8_backbone
from rmpsam_model.loading import LoadedModel, load_model
from rmpsam_model.preprocess import InferenceGeometry, InferenceSize, prepare_image
from rmpsam_plugin.errors import InputError
from rmpsam_plugin.images.colour import linear_to_network_rgb
from rmpsam_plugin.synthetic.shot import generate_shot
from rmpsam_plugin.training_data import TRAIN_SEED_BASE

DEFAULT_PRECISION = "float32"
CALIBRATION_FRAMES = 8
CALIBRATION_ASPECT = 16 / 9


def calibration_images(size: InferenceSize, count: int = CALIBRATION_FRAMES) -> list[torch.Tensor]:
    """`count` training-stream synthetic frames as the network sees a 16:9 plate: the short side at
    `size.short_side`, the long side 16/9 of it (at most `size.max_long_side`).

    Why this shape and count: activation ranges measured on the frames a job really feeds the
    backbone. Calibrating on 4 frames as wide as `max_long_side` allowed (4:1 with the shipped
    weights) gave int8 prompt masks a mean IoU of 0.9747 against float32's on 16:9 frames; 8 frames
    of plate shape give 0.9801 (`rmpsam-matte bench quality --compare-precision --aspect 1.78`)."""
    height = size.short_side
    width = min(size.max_long_side, round(height * CALIBRATION_ASPECT))
    geometry = InferenceGeometry.for_image(height, width, size)
    images = []
    for index in range(count):
        shot = generate_shot(TRAIN_SEED_BASE + index, 1, height, width, 1 + index % 4, shutter=0.0, blur_samples=1)
        images.append(prepare_image(linear_to_network_rgb(shot.frames[0]), geometry)[None])
    return images


def with_precision(weights: LoadedModel, precision: str) -> LoadedModel:
    """`weights` in `precision` (changed in place: load a second copy to keep both). It does not
    check the CPU (`check_precision` does, for users): bfloat16 is computed everywhere, slowly
    without bfloat16 units, which is how its parity is tested on any machine."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision in ("int8", "int8-bf16"):
        use_int8_backbone(weights.model, weights.digest, calibration_images(weights.inference_size))
    if precision == "int8-bf16":
        use_bfloat16_products(weights.model)
    return weights


def check_precision(precision: str, device: str = "cpu", cpuinfo: str | None = None) -> None:
    """Refuse what cannot run, before any work: an unknown precision, int8 on a device other than
    the CPU (its backbone is ONNX Runtime's CPU kernels), int8 without the `int8` extra, int8-bf16
    on a CPU without bfloat16 units (`cpuinfo`: /proc/cpuinfo's text, read if not given), where
    bfloat16 would be slower than float32."""
    if precision not in PRECISIONS:
        raise InputError(f"--precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "float32":
        return
    if not str(device).startswith("cpu"):
        raise InputError(f"--precision {precision} runs the backbone on the CPU (ONNX Runtime's int8 kernels) and "
                         f"cannot be combined with --device {device}: use --precision float32 on a GPU, or --device cpu")
    missing = [name for name in ("onnxruntime", "onnx") if importlib.util.find_spec(name) is None]
    if missing:
        raise InputError(f"--precision {precision} needs {' and '.join(missing)}, which are not installed: "
                         f"pip install 'rmpsam-matte[int8]' (the int8 extra), or use --precision float32")
    if precision == "int8-bf16" and bfloat16_units(cpuinfo) is None:
        raise InputError(f"--precision int8-bf16 needs a CPU with bfloat16 units ({' or '.join(BFLOAT16_FLAGS)} in "
                         f"/proc/cpuinfo) and this one has none: there bfloat16 is slower than float32; "
                         f"use --precision int8")


def precision_of(weights: LoadedModel) -> str:
    """The precision `weights` runs in now, as `with_precision` set it."""
    return model_precision(weights.model)


def model_precision(model: torch.nn.Module) -> str:
    """The precision of a fused `RMPSAM`: int8 once its backbone is ONNX Runtime's, int8-bf16 once
    its products are bfloat16 as well."""
    if not isinstance(getattr(model, "backbone", None), Int8Backbone):
        return "float32"
    return "int8-bf16" if uses_bfloat16_products(model) else "int8"


def model_in_precision(weights: LoadedModel | None, precision: str, weights_path=None) -> LoadedModel:
    """The network a job or session runs: `weights` as given (it must already be in `precision`: a
    model shared by several callers is not changed behind their backs), else `weights_path` loaded
    (`load_model`: configured, else shipped, when None) and put in `precision`."""
    if weights is None:
        return with_precision(load_model(weights_path), precision)
    if precision_of(weights) != precision:
        raise InputError(f"the model given runs in {precision_of(weights)}, the job asks for precision {precision}: "
                         f"pass precision={precision_of(weights)!r}, or a model from "
                         f"with_precision(load_model(...), {precision!r})")
    return weights

"""bfloat16 products (`rmpsam_model.bfloat16`, `--precision int8-bf16`) against float32, every suite run.

The arithmetic is checked on any CPU (PyTorch computes bfloat16 everywhere, slowly without bfloat16
units); which CPUs may use it is `check_precision`'s, checked here on /proc/cpuinfo texts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from precision_parity import SIZE, features_and_box_masks, relative_feature_error_and_mask_ious

from rmpsam_model.bfloat16 import BFloat16Product, bfloat16_units, use_bfloat16_products, uses_bfloat16_products
from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.deform_conv import modulated_deform_conv2d
from rmpsam_model.loading import load_model
from rmpsam_model.mask_head import masks_from_kernels, pool_under_masks
from rmpsam_model.network import RMPSAM
from rmpsam_plugin.errors import InputError
from rmpsam_plugin.job.precision import check_precision, model_precision, with_precision

MASK_IOU_MIN = 0.98  # issue 15's agreement target, as for int8
BFLOAT16_STEP = 2.0**-8  # bfloat16 keeps 8 significant bits: a rounded value is within this fraction of its own

AVX512_BF16_CPU = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni avx512_bf16\n"
AMX_CPU = "processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_tile amx_bf16 amx_int8\n"
AVX2_CPU = "processor\t: 0\nmodel name\t: Intel Xeon\nflags\t\t: fpu sse2 avx2 fma\n"


def test_bfloat16_units_are_read_from_the_cpu_flags():
    assert bfloat16_units(AVX512_BF16_CPU) == "avx512_bf16"
    assert bfloat16_units(AMX_CPU) == "amx_bf16"
    assert bfloat16_units(AVX2_CPU) is None
    assert bfloat16_units("") is None  # no /proc/cpuinfo: nothing assumed


def test_int8_bf16_is_refused_on_a_cpu_without_bfloat16_units():
    pytest.importorskip("onnxruntime")
    check_precision("int8-bf16", "cpu", cpuinfo=AVX512_BF16_CPU)
    check_precision("int8-bf16", "cpu", cpuinfo=AMX_CPU)
    with pytest.raises(InputError, match=r"int8-bf16 needs a CPU with bfloat16 units \(avx512_bf16 or amx_bf16.*"
                                         r"use --precision int8"):
        check_precision("int8-bf16", "cpu", cpuinfo=AVX2_CPU)
    with pytest.raises(InputError, match="--device cuda"):
        check_precision("int8-bf16", "cuda", cpuinfo=AVX512_BF16_CPU)


def test_mask_products_run_in_the_features_type_and_return_the_kernels_type():
    generator = torch.Generator().manual_seed(0)
    kernels = torch.randn(2, 5, 16, generator=generator)
    features = torch.randn(2, 16, 12, 10, generator=generator)
    exact = masks_from_kernels(kernels, features)
    rounded = masks_from_kernels(kernels, features.bfloat16())
    assert rounded.dtype == torch.float32 and rounded.shape == exact.shape == (2, 5, 12, 10)
    # Each of the 16 terms is rounded twice (kernel, feature) and once more as a bfloat16 result.
    bound = 3 * BFLOAT16_STEP * (kernels.abs()[..., None] * features.flatten(2).abs()[:, None]).sum(2).view_as(exact)
    assert ((rounded - exact).abs() <= bound).all()
    pooled = pool_under_masks(exact, features.bfloat16())
    assert pooled.dtype == torch.float32 and pooled.shape == (2, 5, 16)
    torch.testing.assert_close(pooled, pool_under_masks(exact, features), rtol=2 * BFLOAT16_STEP, atol=0.1)


def test_deformable_per_tap_products_run_in_the_weights_type():
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(1, 8, 9, 11, generator=generator)
    offset = torch.randn(1, 18, 9, 11, generator=generator)
    modulation = torch.rand(1, 9, 9, 11, generator=generator)
    weight = torch.randn(4, 8, 3, 3, generator=generator)
    exact = modulated_deform_conv2d(x, offset, modulation, weight)
    rounded = modulated_deform_conv2d(x, offset, modulation, weight.bfloat16())
    assert rounded.dtype == torch.float32
    relative = float((rounded - exact).abs().mean() / exact.abs().mean())
    assert 0 < relative < 4 * BFLOAT16_STEP, relative  # rounded, not exact, and no worse than bfloat16's step


def test_use_bfloat16_products_switches_the_measured_parts_once():
    model = RMPSAM(RMPSAMConfig.parity_tiny()).fuse_for_inference()
    assert not uses_bfloat16_products(model) and model_precision(model) == "float32"
    use_bfloat16_products(use_bfloat16_products(model))
    deconv = model.neck.deconv
    assert uses_bfloat16_products(model)
    assert isinstance(deconv.output_conv, BFloat16Product) and not isinstance(deconv.output_conv.layer, BFloat16Product)
    for layer in (deconv.deform_conv1, deconv.deform_conv2, deconv.deform_conv3):
        assert isinstance(layer.up_sample, BFloat16Product) and layer.dcn.weight.dtype == torch.bfloat16
        assert layer.dcn_offset.weight.dtype == torch.float32  # sampling positions stay float32
    assert deconv.lateral_conv0.weight.dtype == model.neck.loc_conv.weight.dtype == torch.float32
    images = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        features = model.extract_features(images)
        output = model.decode_objects(features)
    assert features.dtype == output.masks.dtype == torch.float32


@pytest.mark.parametrize("precision", ["bf16 products alone", "int8-bf16"])
def test_bfloat16_masks_match_float32_on_a_held_out_frame(precision, tmp_path, monkeypatch):
    if precision == "int8-bf16":
        pytest.importorskip("onnxruntime")
    monkeypatch.setenv("RMPSAM_INT8_CACHE", str(tmp_path / "int8"))
    reference, reduced = load_model(None), load_model(None)
    reference.inference_size = reduced.inference_size = SIZE
    if precision == "int8-bf16":
        with_precision(reduced, "int8-bf16")
        assert model_precision(reduced.model) == "int8-bf16"
    else:
        use_bfloat16_products(reduced.model)
    error, ious = relative_feature_error_and_mask_ious(*features_and_box_masks([reference, reduced]))
    assert len(ious) >= 2
    assert 0 < error <= 0.1 and np.mean(ious) >= MASK_IOU_MIN, (error, ious)

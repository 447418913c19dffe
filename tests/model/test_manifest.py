"""The module tree's state dict is exactly the released checkpoint's (keys, shapes, dtypes), and other
sizes build the same tree scaled."""

from __future__ import annotations

import json

import torch

from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.network import RMPSAM


def _layout(model: torch.nn.Module) -> dict[str, tuple[list[int], str]]:
    return {
        key: (list(tensor.shape), str(tensor.dtype).removeprefix("torch."))
        for key, tensor in model.state_dict().items()
    }


def test_released_state_dict_matches_manifest(official_fixtures):
    manifest = json.loads((official_fixtures / "rapsam_r50_state_dict_manifest.json").read_text())
    expected = {key: (shape, dtype) for key, (shape, dtype) in manifest.items()}
    ours = _layout(RMPSAM(RMPSAMConfig.released()))
    assert sorted(set(expected) - set(ours)) == []
    assert sorted(set(ours) - set(expected)) == []
    mismatched = {key: (ours[key], expected[key]) for key in expected if ours[key] != expected[key]}
    assert mismatched == {}
    assert len(ours) == 568


def test_class_table_is_not_in_the_state_dict():
    model = RMPSAM(RMPSAMConfig.parity_tiny())
    keys_before = set(model.state_dict())
    model.set_class_embedding(torch.nn.functional.normalize(torch.randn(7, 2, 768), dim=-1))
    assert set(model.state_dict()) == keys_before
    assert model.panoptic_head.class_table.shape == (8, 2, 768)


def test_smaller_custom_size_scales_the_same_tree():
    config = RMPSAMConfig(backbone_width=4, blocks_per_stage=(1, 1, 2, 1), aggregation_width=8, num_queries=10)
    model = RMPSAM(config)
    layout = _layout(model)
    assert config.stage_channels == (16, 32, 64, 128)
    assert layout["backbone.layer3.1.conv2.weight"] == ([16, 16, 3, 3], "float32")
    assert "backbone.layer3.2.conv1.weight" not in layout
    assert layout["neck.deconv.deform_conv1.dcn.weight"] == ([32, 64, 3, 3], "float32")
    assert layout["neck.loc_conv.weight"] == ([256, 10, 1, 1], "float32")
    assert layout["panoptic_head.kernels.weight"] == ([10, 256], "float32")
    with torch.no_grad():
        features = model.extract_features(torch.randn(1, 3, 64, 96))
        output = model.decode_objects(features)
    assert features.shape == (1, 256, 16, 24)
    assert output.masks.shape == (1, 10, 16, 24)
    assert len(output.stage_masks) == config.num_stages + 1
    assert output.cls is None  # no class table installed

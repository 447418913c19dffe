"""Our network reproduces the authors' implementation on the reference fixture, tensor by tensor.

`parity_tiny_reference.safetensors` holds what the released code computed from `parity_tiny.pth`
(see the fixture README). Each group below is recomputed from the checkpoint and compared with
`max|ours - ref| <= 1e-3 * max|ref|` for every tensor in it. Decoder groups start from the
reference feature map, so a decoder mistake is not hidden behind (or blamed on) the neck; one
end-to-end test then runs image -> final masks through our own features.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from rmpsam_model.checkpoint import load_class_embedding, load_state_dict
from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.network import RMPSAM

RELATIVE_TOLERANCE = 1e-3
INPUT_NAMES = {"image.input", "video.input", "prompt.boxes_xyxy", "prompt.labels"}
GROUPS = [
    "image.backbone",
    "image.features",
    *(f"image.stage{index}" for index in range(4)),
    "image.kernels",
    *(f"prompt.stage{index}" for index in range(4)),
    "prompt.kernels",
    "video.features",
    *(f"video.stage{index}" for index in range(4)),
    "video.kernels",
]


def _load_model(fixtures) -> RMPSAM:
    model = RMPSAM(RMPSAMConfig.parity_tiny())
    model.load_state_dict(load_state_dict(fixtures / "parity_tiny.pth"))
    model.set_class_embedding(load_class_embedding(fixtures / "parity_tiny_class_embed.pth"))
    return model


@pytest.fixture(scope="module")
def reference(official_fixtures) -> dict[str, torch.Tensor]:
    return load_file(official_fixtures / "parity_tiny_reference.safetensors")


@pytest.fixture(scope="module")
def img_shape(official_fixtures) -> tuple[int, int]:
    with safe_open(official_fixtures / "parity_tiny_reference.safetensors", "pt") as handle:
        return tuple(json.loads(handle.metadata()["meta"])["img_shape"])


@pytest.fixture(scope="module")
def model(official_fixtures) -> RMPSAM:
    return _load_model(official_fixtures)


def _decode_outputs(prefix: str, output) -> dict[str, torch.Tensor]:
    tensors = {f"{prefix}.kernels": output.kernels}
    for index, (masks, cls, iou) in enumerate(zip(output.stage_masks, output.stage_cls, output.stage_iou)):
        stage = f"{prefix}.stage{index}"
        tensors.update({f"{stage}.masks": masks, f"{stage}.cls": cls, f"{stage}.iou": iou})
    return tensors


@pytest.fixture(scope="module")
def ours(model, reference, img_shape) -> dict[str, torch.Tensor]:
    """Every reference tensor recomputed by our network, under the same names."""
    with torch.no_grad():
        stages = model.backbone(reference["image.input"])
        tensors = {f"image.backbone.{index}": stage for index, stage in enumerate(stages)}
        tensors["image.features"] = model.neck(stages)
        tensors["video.features"] = model.extract_features(reference["video.input"])
        tensors.update(_decode_outputs("image", model.decode_objects(reference["image.features"])))
        prompts = model.decode_prompts(
            reference["image.features"], reference["prompt.boxes_xyxy"], reference["prompt.labels"], img_shape
        )
        tensors.update(_decode_outputs("prompt", prompts))
        tensors.update(_decode_outputs("video", model.decode_clip(reference["video.features"])))
    return tensors


def _relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return (ours - reference).abs().max().item() / reference.abs().max().item()


def _in_group(name: str, group: str) -> bool:
    return name == group or name.startswith(group + ".")


def test_groups_cover_every_reference_output(reference, ours):
    outputs = set(reference) - INPUT_NAMES
    assert {name for name in outputs if not any(_in_group(name, group) for group in GROUPS)} == set()
    assert outputs <= set(ours)


@pytest.mark.parametrize("group", GROUPS)
def test_group_matches_reference(group, reference, ours):
    names = sorted(name for name in reference if _in_group(name, group))
    assert names, f"no reference tensors in group {group}"
    errors = {}
    for name in names:
        assert ours[name].shape == reference[name].shape, name
        errors[name] = _relative_error(ours[name], reference[name])
    assert max(errors.values()) <= RELATIVE_TOLERANCE, errors


def test_image_to_final_masks_end_to_end(model, reference):
    """No reference tensor fed in the middle: image -> backbone -> neck -> decoder -> adapter."""
    with torch.no_grad():
        output = model.decode_objects(model.extract_features(reference["image.input"]))
    assert _relative_error(output.masks, reference["image.stage3.masks"]) <= RELATIVE_TOLERANCE
    assert _relative_error(output.cls, reference["image.stage3.cls"]) <= RELATIVE_TOLERANCE


def test_prompts_are_decoded_independently(model, reference, img_shape):
    """Decoding one prompt alone gives what it got among all six (attention sees only itself)."""
    boxes, labels = reference["prompt.boxes_xyxy"], reference["prompt.labels"]
    with torch.no_grad():
        together = model.decode_prompts(reference["image.features"], boxes, labels, img_shape)
        alone = model.decode_prompts(reference["image.features"], boxes[4:5], labels[4:5], img_shape)
    assert _relative_error(alone.masks[:, 0], together.masks[:, 4]) <= 1e-5


def test_fused_batch_norm_keeps_features(official_fixtures, reference):
    model = _load_model(official_fixtures).fuse_for_inference()
    assert not any(isinstance(module, torch.nn.BatchNorm2d) for module in model.modules())
    with torch.no_grad():
        features = model.extract_features(reference["video.input"])
    assert _relative_error(features, reference["video.features"]) <= RELATIVE_TOLERANCE

"""Nuke bridge tests: the stand-in `nuke` module on sys.path, a clean Nuke session per test, and a
generated shot with a tiny random network for the tests that run the real CLI.

The shot/weights fixtures follow tests/job/conftest.py (same generator, same tiny network), copied
rather than imported: pytest imports every folder's conftest as the module `conftest`, so
importing another folder's one by name is fragile.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

FAKE_NUKE_DIR = Path(__file__).resolve().parent / "fake_nuke"
if str(FAKE_NUKE_DIR) not in sys.path:
    sys.path.insert(0, str(FAKE_NUKE_DIR))

import nuke  # noqa: E402  (the fake, from FAKE_NUKE_DIR)
from nuke_support import FIRST_FRAME, SHOT_FRAMES, SHOT_HEIGHT, SHOT_WIDTH  # noqa: E402


@pytest.fixture(autouse=True)
def nuke_session():
    """A fresh Nuke session per test: no nodes, menus, messages, or queued main-thread calls."""
    nuke.reset()
    yield nuke
    nuke.process_events()


@pytest.fixture(scope="session")
def nuke_tiny_weights(tmp_path_factory) -> Path:
    import torch

    from rmpsam_model.config import RMPSAMConfig
    from rmpsam_model.network import RMPSAM
    from rmpsam_model.preprocess import InferenceSize
    from rmpsam_model.training.export import save_weights

    torch.manual_seed(0)
    config = RMPSAMConfig(backbone_width=8, blocks_per_stage=(1, 1, 1, 1), aggregation_width=16,
                          ffn_width=256, text_dim=32, num_classes=6)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    table = torch.nn.functional.normalize(torch.randn(6, 1, 32), dim=-1)
    return save_weights(RMPSAM(config), table, [f"class{i}" for i in range(6)], path, InferenceSize(96, 160))


@pytest.fixture(scope="session")
def nuke_shot(tmp_path_factory) -> Path:
    """4 frames 1001-1004 of 160x96, 2 objects, keyframes on 1001 and 1003; prompts.json beside."""
    from rmpsam_plugin.prompts import from_dict, save_prompts
    from rmpsam_plugin.synthetic import artist_prompts, generate_shot, write_shot

    directory = tmp_path_factory.mktemp("nuke_shot")
    shot = generate_shot(11, num_frames=SHOT_FRAMES, height=SHOT_HEIGHT, width=SHOT_WIDTH, num_objects=2)
    write_shot(shot, directory, "plate", first_frame=FIRST_FRAME)
    prompts = artist_prompts(shot, [0, 2], first_frame=FIRST_FRAME)
    prompt_set = from_dict({name: {frame: {"positive_clicks": p["positive"], "negative_clicks": p["negative"],
                                           "boxes": p["boxes"]} for frame, p in frames.items()}
                            for name, frames in prompts.items()})
    save_prompts(prompt_set, directory / "prompts.json")
    return directory

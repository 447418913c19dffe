"""Small generated shots and a tiny random network, for the tests that drive the real CLI.

The job, server and Nuke tests check mechanics (files, layers, resume, HTTP, knobs), which do not
depend on the network segmenting well, so a tiny random network keeps them fast. One module (with a
name no other test file uses, so any test folder can import it) builds both for all of them.
"""

from __future__ import annotations

from pathlib import Path

import torch

from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.network import RMPSAM
from rmpsam_model.preprocess import InferenceSize
from rmpsam_model.training.export import save_weights
from rmpsam_plugin.evaluation.scoring import synthetic_prompt_set
from rmpsam_plugin.prompts import save_prompts
from rmpsam_plugin.synthetic import artist_prompts, generate_shot, write_shot

FIRST_FRAME = 1001
SHOT_HEIGHT, SHOT_WIDTH = 96, 160


def write_tiny_weights(directory: Path) -> Path:
    """A self-describing weights file of a tiny random network (6 classes, 96/160 inference size)."""
    torch.manual_seed(0)
    config = RMPSAMConfig(backbone_width=8, blocks_per_stage=(1, 1, 1, 1), aggregation_width=16,
                          ffn_width=256, text_dim=32, num_classes=6)
    table = torch.nn.functional.normalize(torch.randn(6, 1, 32), dim=-1)
    return save_weights(RMPSAM(config), table, [f"class{i}" for i in range(6)], directory / "tiny.safetensors",
                        InferenceSize(96, 160))


def write_prompted_shot(directory: Path, seed: int, num_frames: int, keyframes: list[int]) -> Path:
    """`plate.####.exr` from FIRST_FRAME at 160x96 with 2 objects, and `prompts.json` placed from
    the ground truth on `keyframes` (0-based), in `directory`."""
    shot = generate_shot(seed, num_frames=num_frames, height=SHOT_HEIGHT, width=SHOT_WIDTH, num_objects=2)
    write_shot(shot, directory, "plate", first_frame=FIRST_FRAME)
    prompts = artist_prompts(shot, keyframes, first_frame=FIRST_FRAME)
    save_prompts(synthetic_prompt_set(prompts), directory / "prompts.json")
    return directory

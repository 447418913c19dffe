"""A generated shot, its prompts and a small random-weights network, shared by the job tests.

These tests check the mechanics of `rmpsam-matte run` (files, layers, resume, segments, errors),
which do not depend on the network segmenting well, so a tiny random network keeps them fast.
Quality is measured with the shipped weights in test_run_quality.py and `bench quality`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.network import RMPSAM
from rmpsam_model.preprocess import InferenceSize
from rmpsam_model.training.export import save_weights
from rmpsam_plugin.prompts import save_prompts
from rmpsam_plugin.synthetic import artist_prompts, generate_shot, write_shot

from job_cli import FIRST_FRAME, prompt_set_from_synthetic


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    config = RMPSAMConfig(backbone_width=8, blocks_per_stage=(1, 1, 1, 1), aggregation_width=16,
                          ffn_width=256, text_dim=32, num_classes=6)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    table = torch.nn.functional.normalize(torch.randn(6, 1, 32), dim=-1)
    return save_weights(RMPSAM(config), table, [f"class{i}" for i in range(6)], path, InferenceSize(96, 160))


@pytest.fixture(scope="session")
def shot_dir(tmp_path_factory) -> Path:
    """8 frames 1001-1008, 2 objects, keyframes on 1001 and 1005."""
    directory = tmp_path_factory.mktemp("shot")
    shot = generate_shot(11, num_frames=8, height=96, width=160, num_objects=2)
    write_shot(shot, directory, "plate", first_frame=FIRST_FRAME)
    prompts = artist_prompts(shot, [0, 4], first_frame=FIRST_FRAME)
    save_prompts(prompt_set_from_synthetic(prompts), directory / "prompts.json")
    return directory

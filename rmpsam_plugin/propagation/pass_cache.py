"""On-disk record of every propagation step, so a killed job resumes with identical results.

A forward or backward run over a shot is a chain: each frame's state depends on the previous
one. Saving each step's state (safetensors, written atomically) lets a restarted job load the
chain up to where it stopped instead of recomputing it, and because the saved tensors are the
exact float32 states, the resumed run continues bit-for-bit as the uninterrupted one would.
The cache folder is keyed by everything that changes results (weights, prompts, settings).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from rmpsam_plugin.propagation.keyframe_decode import InstanceState


class PassCache:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, direction: str, instance: str, frame: int) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in instance)
        return self.directory / f"{direction}.{safe}.{frame}.safetensors"

    def load(self, direction: str, instance: str, frame: int) -> InstanceState | None:
        path = self._path(direction, instance, frame)
        if not path.exists():
            return None
        tensors = load_file(path)
        with open(path, "rb") as handle:  # the iou float lives in the header metadata
            header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
        iou = float(header["__metadata__"]["iou"])
        return InstanceState(tensors["queries"], tensors["is_positive"].bool(), tensors["prompt_logits"],
                             tensors["logits"], iou)

    def save(self, direction: str, instance: str, frame: int, state: InstanceState) -> None:
        path = self._path(direction, instance, frame)
        temporary = path.with_suffix(".tmp")
        tensors = {
            "queries": state.queries.contiguous(),
            "is_positive": state.is_positive.to(torch.uint8).contiguous(),
            "prompt_logits": state.prompt_logits.contiguous(),
            # A tracker may hand over logits that are a view of prompt_logits (one query);
            # safetensors refuses tensors sharing memory.
            "logits": state.logits.clone(),
        }
        save_file(tensors, str(temporary), metadata={"iou": repr(state.iou)})
        os.replace(temporary, path)

"""On-disk record of every propagation step, so a killed job resumes with identical results.

A forward or backward run over a shot is a chain: each frame's state depends on the previous
one. Saving each step's state (safetensors, written atomically) lets a restarted job load the
chain up to where it stopped instead of recomputing it, and because the saved tensors are the
exact float32 states, the resumed run continues bit-for-bit as the uninterrupted one would.
The cache folder is keyed by everything that changes results (weights, prompts, settings).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from rmpsam_plugin.errors import OutputError
from rmpsam_plugin.propagation.keyframe_decode import InstanceState


class PassCache:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"cannot create the propagation cache {self.directory}: {error.strerror or error}",
                              path=self.directory) from None

    def _path(self, direction: str, instance: str, frame: int) -> Path:
        """A file name that fits any file system whatever the instance's name: a readable prefix of
        it, and a digest that keeps names differing only in their unsafe characters apart."""
        readable = "".join(c if c.isalnum() or c in "-_" else "_" for c in instance)[:32]
        digest = hashlib.sha256(instance.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        return self.directory / f"{direction}.{readable}.{digest}.{frame}.safetensors"

    def load(self, direction: str, instance: str, frame: int) -> InstanceState | None:
        """The saved state, or None when there is none or it cannot be read (then it is recomputed)."""
        path = self._path(direction, instance, frame)
        if not path.exists():
            return None
        try:
            tensors = load_file(path)
            with open(path, "rb") as handle:  # the iou float lives in the header metadata
                header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
            iou = float(header["__metadata__"]["iou"])
            return InstanceState(tensors["queries"], tensors["is_positive"].bool(), tensors["prompt_logits"],
                                 tensors["logits"], iou)
        except (OSError, ValueError, KeyError, SafetensorError):
            return None

    def save(self, direction: str, instance: str, frame: int, state: InstanceState) -> None:
        """Written under a name of this process's own, then renamed: two runs filling the same
        cache (farm segments of one shot) never see or replace each other's half-written file."""
        path = self._path(direction, instance, frame)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tensors = {
            "queries": state.queries.contiguous(),
            "is_positive": state.is_positive.to(torch.uint8).contiguous(),
            "prompt_logits": state.prompt_logits.contiguous(),
            # A tracker may hand over logits that are a view of prompt_logits (one query);
            # safetensors refuses tensors sharing memory.
            "logits": state.logits.clone(),
        }
        try:
            save_file(tensors, str(temporary), metadata={"iou": repr(state.iou)})
            os.replace(temporary, path)
        except (OSError, SafetensorError) as error:  # a full disk, a quota, a folder gone
            with contextlib.suppress(OSError):
                temporary.unlink()
            reason = getattr(error, "strerror", None) or str(error)
            raise OutputError(f"cannot write the propagation cache in {self.directory} (frame {frame}): {reason}",
                              path=path, frame=frame) from None

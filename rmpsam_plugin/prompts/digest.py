"""A fingerprint of the prompts, written into every output EXR's header.

It answers "were these mattes made from these prompts?" (resume, farm bookkeeping, support), so
it depends on what the prompts mean and on nothing else:

* not on how the file is written: key order, whitespace, 100 vs 100.0, -0.0 vs 0.0, the order of
  keyframes in the file (they are a set keyed by frame), the `plate` block (a description);
* not on where the file or its masks live, nor on how a mask is stored: a mask counts by the
  SHA-256 of the matte the network is given (`load_mask`: float32, display window), so moving a
  shot folder, re-saving a mask with another compression or format, or the timestamp an image
  writer puts in the header keep the digest, and repainting one pixel changes it;
* but on instance order (layer order), names, classes, and the order of clicks and boxes.

The canonical form is compact JSON with sorted keys, hashed with SHA-256; the digest is its
64-character lowercase hex.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from .masks import load_mask
from .model import Keyframe, PromptSet

_DIGEST_FORMAT = "rmpsam-prompts-digest/1"


def prompts_digest(prompt_set: PromptSet) -> str:
    """SHA-256 hex of the canonical form of `prompt_set` (see the module docstring)."""
    canonical = {
        "format": _DIGEST_FORMAT,
        "instances": [
            {
                "name": track.name,
                "class": track.class_name,
                "keyframes": [_keyframe_canonical(keyframe) for keyframe in track.keyframes.values()],
            }
            for track in prompt_set.instances
        ],
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _keyframe_canonical(keyframe: Keyframe) -> dict:
    return {
        "frame": keyframe.frame,
        "positive_clicks": _numbers(keyframe.positive_clicks),
        "negative_clicks": _numbers(keyframe.negative_clicks),
        "boxes": _numbers(keyframe.boxes),
        "mask_sha256": _matte_sha256(keyframe) if keyframe.mask_path is not None else None,
    }


def _numbers(array: np.ndarray) -> list:
    return (array + 0.0).tolist()  # adding 0.0 turns -0.0 into 0.0


def _matte_sha256(keyframe: Keyframe) -> str:
    matte = load_mask(keyframe)
    digest = hashlib.sha256(f"{matte.shape[0]}x{matte.shape[1]}:".encode())
    digest.update(np.ascontiguousarray(matte, dtype="<f4").tobytes())
    return digest.hexdigest()

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
from collections.abc import Mapping

import numpy as np

from .masks import load_mask
from .model import Keyframe, PromptSet

_DIGEST_FORMAT = "rmpsam-prompts-digest/1"


def prompts_digest(prompt_set: PromptSet, masks: Mapping[tuple[str, int], np.ndarray] | None = None) -> str:
    """SHA-256 hex of the canonical form of `prompt_set` (see the module docstring).

    `masks`: mattes held in memory, by (instance name, frame), for keyframes without a mask file
    (`VideoSession`'s masks); each counts as a mask file whose `load_mask` gives that matte would."""
    masks = masks or {}
    canonical = {
        "format": _DIGEST_FORMAT,
        "instances": [
            {
                "name": track.name,
                "class": track.class_name,
                "keyframes": [_keyframe_canonical(keyframe, masks.get((track.name, frame)))
                              for frame, keyframe in track.keyframes.items()],
            }
            for track in prompt_set.instances
        ],
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _keyframe_canonical(keyframe: Keyframe, held_mask: np.ndarray | None = None) -> dict:
    if keyframe.mask_path is not None:
        mask_sha256 = _matte_sha256(load_mask(keyframe))
    elif held_mask is not None:
        mask_sha256 = _matte_sha256(held_mask)
    else:
        mask_sha256 = None
    return {
        "frame": keyframe.frame,
        "positive_clicks": _numbers(keyframe.positive_clicks),
        "negative_clicks": _numbers(keyframe.negative_clicks),
        "boxes": _numbers(keyframe.boxes),
        "mask_sha256": mask_sha256,
    }


def _numbers(array: np.ndarray) -> list:
    return (array + 0.0).tolist()  # adding 0.0 turns -0.0 into 0.0


def _matte_sha256(matte: np.ndarray) -> str:
    digest = hashlib.sha256(f"{matte.shape[0]}x{matte.shape[1]}:".encode())
    digest.update(np.ascontiguousarray(matte, dtype="<f4").tobytes())
    return digest.hexdigest()

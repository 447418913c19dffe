"""Mattes on the wire: 8-bit PNG by default, raw float16 on request, base64 inside JSON.

PNG (8-bit greyscale, fast zlib level) is what a preview needs: a 1920x1080 matte is mostly flat
black and white and compresses to a few tens of kilobytes, and Nuke reads the bytes written to a
`.png` file with a plain Read node, without numpy. 256 levels are plenty to judge an edge by eye.
`float16` keeps the soft values exactly as computed (to half precision) for programs that process
the matte further: little-endian, row-major, top row first, `width * height * 2` bytes.
"""

from __future__ import annotations

import base64

import cv2
import numpy as np

ENCODINGS = ("png", "float16")
_PNG_FAST = [cv2.IMWRITE_PNG_COMPRESSION, 1]


def encode_matte(matte: np.ndarray, encoding: str) -> str:
    """(H, W) float 0..1 -> base64 text in `encoding` ('png' or 'float16')."""
    if encoding == "png":
        levels = np.round(np.clip(matte, 0.0, 1.0) * 255.0).astype(np.uint8)
        ok, data = cv2.imencode(".png", levels, _PNG_FAST)
        if not ok:
            raise RuntimeError("PNG encoding failed")
        raw = data.tobytes()
    elif encoding == "float16":
        raw = np.ascontiguousarray(matte, dtype="<f2").tobytes()
    else:
        raise ValueError(f"unknown matte encoding {encoding!r}; known: {', '.join(ENCODINGS)}")
    return base64.b64encode(raw).decode("ascii")


def decode_matte(text: str, encoding: str, width: int, height: int) -> np.ndarray:
    """The inverse of `encode_matte`, as float32 0..1 (PNG values are multiples of 1/255)."""
    raw = base64.b64decode(text)
    if encoding == "png":
        levels = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
        return levels.astype(np.float32) / 255.0
    if encoding == "float16":
        return np.frombuffer(raw, "<f2").reshape(height, width).astype(np.float32)
    raise ValueError(f"unknown matte encoding {encoding!r}; known: {', '.join(ENCODINGS)}")

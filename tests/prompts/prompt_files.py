"""Helpers for the prompt-file tests: a valid document to start from, and real image files.

A module of its own (not conftest.py) so test modules can import it by a name no other test
folder uses."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

GOOD_DOCUMENT = {
    "schema": "rmpsam-prompts",
    "version": 1,
    "plate": {"pattern": "plates/shot.####.exr", "first_frame": 1001, "last_frame": 1100, "width": 2048, "height": 1080},
    "instances": [
        {
            "name": "car",
            "class": "vehicle",
            "keyframes": [
                {"frame": 1012, "positive_clicks": [[1024.5, 540.25], [1100.0, 560.0]], "negative_clicks": [[10.0, 20.0]]},
                {"frame": 1040, "boxes": [[100.0, 200.0, 400.0, 500.0]]},
            ],
        },
        {"name": "tree", "keyframes": [{"frame": 1030, "positive_clicks": [[5.5, 7.25]]}]},
    ],
}


def good_document() -> dict:
    """A fresh deep copy of `GOOD_DOCUMENT` for a test to break."""
    return copy.deepcopy(GOOD_DOCUMENT)


def write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document, indent=1))
    return path


def write_image(
    path: Path,
    pixels: np.ndarray,
    channels: list[str],
    *,
    display_size: tuple[int, int] | None = None,
    data_origin: tuple[int, int] = (0, 0),
    pixel_type: str = "float",
) -> Path:
    """Write `pixels` (H, W, C) with OpenImageIO; the data window starts at `data_origin` inside a
    display window of `display_size` (width, height), by default the data's own size."""
    height, width, count = pixels.shape
    spec = oiio.ImageSpec(width, height, count, pixel_type)
    spec.channelnames = tuple(channels)
    spec.x, spec.y = data_origin
    spec.full_x, spec.full_y = 0, 0
    spec.full_width, spec.full_height = display_size or (width, height)
    output = oiio.ImageOutput.create(str(path))
    assert output is not None, oiio.geterror()
    assert output.open(str(path), spec), output.geterror()
    assert output.write_image(pixels.astype(np.float32)), output.geterror()
    output.close()
    return path

"""A finished run's EXRs, read back for review: each instance's layer, or its matte as a comp
would pick it from the Cryptomatte (`cryptomatte.extract_matte`, by instance name), as overlays.

Read on the frame loader's thread, one frame at a time as the artist scrubs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rmpsam_plugin.cryptomatte import extract_matte
from rmpsam_plugin.images.layer_names import CRYPTOMATTE_LAYER
from rmpsam_plugin.images.reader import read_plate
from rmpsam_plugin.mattes.writer import output_template

from .display import overlay_image


def result_path(output_pattern: str, frame: int) -> Path:
    return Path(output_template(output_pattern).frame(frame))


def result_mattes(path: Path, frame: int, instances: list[tuple[str, str]], from_cryptomatte: bool) -> list[np.ndarray]:
    """The mattes of `instances` ((name, layer) pairs) in the frame's file, over its display
    window. The job writes the display window (no overscan), so the planes match the plate's."""
    if from_cryptomatte:
        return [extract_matte(path, CRYPTOMATTE_LAYER, [name]) for name, _ in instances]
    return [read_plate(path, layer, frame=frame).component("A") for _, layer in instances]


def result_overlays(path: Path, frame: int, instances: list[tuple[str, str, tuple[int, int, int]]],
                    from_cryptomatte: bool):
    mattes = result_mattes(path, frame, [(name, layer) for name, layer, _ in instances], from_cryptomatte)
    return [overlay_image(matte, colour) for matte, (_, _, colour) in zip(mattes, instances)]

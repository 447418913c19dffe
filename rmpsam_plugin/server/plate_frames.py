"""The plate a preview server answers for: frame numbers -> images the network takes.

A server previews one plate sequence, fixed at start-up, so a client names frames by number and
never sends a path (it could not make the server read files outside the plate). Each frame goes
through the same steps a job applies: read the layer in its display window, convert its colour to
display sRGB, desqueeze and resize to the inference size (`PlateGeometry`), so a preview matte is
the matte the job would compute for that keyframe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rmpsam_model.preprocess import InferenceSize
from rmpsam_plugin.errors import PlateError
from rmpsam_plugin.images.colour import linear_to_network_rgb, to_linear_rgb
from rmpsam_plugin.images.geometry import PlateGeometry
from rmpsam_plugin.images.reader import DEFAULT_LAYER, read_header, read_plate
from rmpsam_plugin.images.sequences import Sequence, find_sequence


@dataclass(frozen=True)
class PlateSummary:
    """What a client needs to place prompts: the frame range and the display window's size."""

    pattern: str
    first_frame: int
    last_frame: int
    missing_frames: tuple[int, ...]
    width: int
    height: int
    pixel_aspect: float

    def as_dict(self) -> dict:
        return {
            "pattern": self.pattern,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "missing_frames": list(self.missing_frames),
            "width": self.width,
            "height": self.height,
            "pixel_aspect": self.pixel_aspect,
        }


class PlateFrames:
    """One plate sequence and how its frames become network input.

    Frame geometry is taken from the first frame present; a frame of another size is refused when
    read (`PlateError`), as a job would refuse it.
    """

    def __init__(self, pattern: str, size: InferenceSize, layer: str = DEFAULT_LAYER,
                 colour_space: str | None = None) -> None:
        self.sequence: Sequence = find_sequence(pattern)
        if not self.sequence.present:
            raise PlateError(f"no frames of {self.sequence.pattern} exist on disk", path=pattern)
        first_present = self.sequence.present[0]
        header = read_header(self.sequence.path(first_present), first_present)
        header.layer(layer, first_present)
        self.layer = layer
        self.colour_space = colour_space
        self.geometry = PlateGeometry.for_plate(header.display_window, header.pixel_aspect, size)
        self.summary = PlateSummary(
            pattern=self.sequence.pattern,
            first_frame=self.sequence.first,
            last_frame=self.sequence.last,
            missing_frames=self.sequence.missing,
            width=header.display_window.width,
            height=header.display_window.height,
            pixel_aspect=header.pixel_aspect,
        )

    def has_frame(self, frame: int) -> bool:
        return frame in self.sequence.present

    def describe_range(self) -> str:
        """'frames 1001-1008' (plus the missing ones), for error messages naming what exists."""
        text = f"frames {self.summary.first_frame}-{self.summary.last_frame}"
        if self.summary.missing_frames:
            text += f" (missing: {', '.join(str(frame) for frame in self.summary.missing_frames)})"
        return text

    def network_image(self, frame: int) -> np.ndarray:
        """Frame `frame` as (h, w, 3) float32 sRGB 0..1 at the network's size, desqueezed."""
        plate = read_plate(self.sequence.path(frame), self.layer, frame=frame)
        if plate.window != self.geometry.display_window or plate.pixel_aspect != self.geometry.pixel_aspect:
            raise PlateError(
                f"frame {frame} is {plate.window.width}x{plate.window.height} (pixel aspect {plate.pixel_aspect:g}) "
                f"but the plate is {self.summary.width}x{self.summary.height} "
                f"(pixel aspect {self.summary.pixel_aspect:g}): {plate.header.path}",
                path=plate.header.path, frame=frame)
        return linear_to_network_rgb(self.geometry.image_to_network(to_linear_rgb(plate, self.colour_space)))

"""Pixels for the screen: plate frames through the display transform, mattes as overlays.

A frame is shown as Nuke's default viewer shows it: the plate converted to scene-linear Rec.709
with OpenColorIO (`colour.to_linear_rgb`, the plate's own colour space or the one given), then
encoded for an sRGB display (`colour.linear_to_network_rgb`, tested against OpenColorIO's sRGB
within 2e-5) and clipped. That is also exactly the image the network is given, so what the artist
judges is what the network sees. Overscan is kept: the whole data window is drawn, and the canvas
outlines the display window.

These functions run on worker threads (QImage is safe off the UI thread; QPixmap is not).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PyQt5.QtGui import QImage

from rmpsam_plugin.images.colour import linear_to_network_rgb, to_linear_rgb
from rmpsam_plugin.images.reader import read_plate

OVERLAY_OPACITY = 0.5


@dataclass(frozen=True)
class DisplayFrame:
    """One frame ready to draw: `image` covers the plate from (`offset_x`, `offset_y`) in
    display-window pixels (negative with overscan); `display_size` is the display window's."""

    frame: int
    image: QImage
    offset_x: int
    offset_y: int
    display_size: tuple[int, int]
    pixel_aspect: float

    @property
    def has_overscan_or_crop(self) -> bool:
        return (self.offset_x, self.offset_y, self.image.width(), self.image.height()) != (0, 0, *self.display_size)


def rgb_image(display_rgb: np.ndarray) -> QImage:
    """(H, W, 3) float 0..1 display values -> an 8-bit RGB QImage that owns its pixels."""
    pixels = np.ascontiguousarray(np.round(np.clip(display_rgb, 0, 1) * 255).astype(np.uint8))
    height, width = pixels.shape[:2]
    return QImage(pixels.data, width, height, 3 * width, QImage.Format_RGB888).copy()


def load_display_frame(path: Path, frame: int, layer: str, colour_space: str | None) -> DisplayFrame:
    """Read `frame` with its overscan and put it through the display transform."""
    plate = read_plate(path, layer, overscan=True, frame=frame)
    display = linear_to_network_rgb(to_linear_rgb(plate, colour_space))
    return DisplayFrame(frame, rgb_image(display), plate.window.x - plate.display_window.x,
                        plate.window.y - plate.display_window.y,
                        (plate.display_window.width, plate.display_window.height), plate.pixel_aspect)


def overlay_image(matte: np.ndarray, colour: tuple[int, int, int], opacity: float = OVERLAY_OPACITY) -> QImage:
    """A (H, W) matte 0..1 -> the instance's colour at `opacity` * matte, premultiplied ARGB."""
    alpha = np.clip(matte, 0, 1).astype(np.float32) * opacity
    height, width = alpha.shape
    pixels = np.empty((height, width, 4), np.uint8)  # QImage's ARGB32 is B, G, R, A in memory
    for channel, value in zip((2, 1, 0), colour):
        pixels[..., channel] = np.round(alpha * value)
    pixels[..., 3] = np.round(alpha * 255)
    return QImage(pixels.data, width, height, 4 * width, QImage.Format_ARGB32_Premultiplied).copy()

"""Where plate pixels are: EXR windows, overscan, pixel aspect, and the network's input size.

An EXR frame has a *display window* (the frame the artist sees) and a *data window* (the pixels
stored), in absolute image coordinates, origin top-left, y down. They differ in both directions:
a data window larger than the display window is overscan; a smaller one is a crop whose missing
pixels are black. Prompts and mattes live in display-window pixels (docs/file-formats.md, Windows), so every array this
package hands around is tagged with the `Window` it covers and moved between windows with
`reframe`, never by guessing offsets.

Anamorphic plates store pixels `pixel_aspect` times wider than tall. The network was trained on
square pixels, so `PlateGeometry` widens (desqueezes) the plate and resizes it to the inference size
in one resampling, and brings mattes back (squeezes) the same way. Pixel coordinates are
continuous with pixel centres at +0.5, the convention of `cv2.resize` and of the network's own
bilinear resizes, so a point and a matte pixel map with the same formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from rmpsam_model.preprocess import InferenceSize


@dataclass(frozen=True)
class Window:
    """A pixel rectangle in absolute image coordinates (OpenImageIO's x, y, width, height)."""

    x: int
    y: int
    width: int
    height: int

    @classmethod
    def data_of(cls, spec) -> "Window":
        """The data window of an `OpenImageIO.ImageSpec`: the pixels the file stores."""
        return cls(spec.x, spec.y, spec.width, spec.height)

    @classmethod
    def display_of(cls, spec) -> "Window":
        """The display window of an `OpenImageIO.ImageSpec`: the frame the artist sees."""
        return cls(spec.full_x, spec.full_y, spec.full_width, spec.full_height)

    @property
    def x_end(self) -> int:
        return self.x + self.width

    @property
    def y_end(self) -> int:
        return self.y + self.height

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width), the numpy shape of a plane covering this window."""
        return self.height, self.width

    def union(self, other: "Window") -> "Window":
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Window(x, y, max(self.x_end, other.x_end) - x, max(self.y_end, other.y_end) - y)

    def intersection(self, other: "Window") -> "Window | None":
        x, y = max(self.x, other.x), max(self.y, other.y)
        x_end, y_end = min(self.x_end, other.x_end), min(self.y_end, other.y_end)
        if x_end <= x or y_end <= y:
            return None
        return Window(x, y, x_end - x, y_end - y)

    def __str__(self) -> str:
        """EXR's inclusive box notation, as `exrheader` and Nuke's metadata viewer print it."""
        return f"({self.x}, {self.y}) - ({self.x_end - 1}, {self.y_end - 1})"


def reframe(pixels: np.ndarray, source: Window, target: Window) -> np.ndarray:
    """`pixels` covering `source` -> a new array covering `target`: cropped where `target` is
    smaller, zero-filled where it is larger. Extra trailing axes (channels) are kept."""
    if pixels.shape[:2] != source.shape:
        raise ValueError(f"array of shape {pixels.shape[:2]} does not cover window {source} {source.shape}")
    result = np.zeros(target.shape + pixels.shape[2:], dtype=pixels.dtype)
    common = source.intersection(target)
    if common is not None:
        result[common.y - target.y: common.y_end - target.y, common.x - target.x: common.x_end - target.x] = \
            pixels[common.y - source.y: common.y_end - source.y, common.x - source.x: common.x_end - source.x]
    return result


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area averaging when shrinking both axes (no aliasing on 4K plates), bilinear otherwise.

    Trailing axes are kept as given: OpenCV drops a single channel axis, callers should not see that.
    """
    if image.shape[:2] == (height, width):
        return image
    shrinking = height <= image.shape[0] and width <= image.shape[1]
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return resized.reshape((height, width) + image.shape[2:])


@dataclass(frozen=True)
class PlateGeometry:
    """Maps display-window pixels of one plate <-> pixels of the image given to the network.

    `frame_window` is the part of the plate the network sees, in absolute coordinates: the display
    window, or display plus overscan. `network_hw` is the size of the square-pixel image handed to
    the predictor; it is computed with the model's own inference-size rule, so a predictor built
    with the same `InferenceSize` finds the image already at size and does not resample it again.
    """

    display_window: Window
    frame_window: Window
    pixel_aspect: float
    network_hw: tuple[int, int]

    @classmethod
    def for_plate(cls, display_window: Window, pixel_aspect: float, size: "InferenceSize",
                  frame_window: Window | None = None) -> "PlateGeometry":
        # Imported here, not at the top: reading and writing plates (info, benchmarks) must not
        # pay for importing torch, which `rmpsam_model.preprocess` needs.
        from rmpsam_model.preprocess import InferenceGeometry

        frame = frame_window or display_window
        desqueezed_width = max(1, int(round(frame.width * pixel_aspect)))
        network_hw = InferenceGeometry.for_image(frame.height, desqueezed_width, size).resized_hw
        return cls(display_window, frame, pixel_aspect, network_hw)

    @property
    def scale_xy(self) -> tuple[float, float]:
        """Network pixels per plate pixel, per axis; x includes the desqueeze."""
        return self.network_hw[1] / self.frame_window.width, self.network_hw[0] / self.frame_window.height

    def _frame_offset(self) -> np.ndarray:
        """Where the frame window starts, in display-window pixels (negative with overscan)."""
        return np.array([self.frame_window.x - self.display_window.x, self.frame_window.y - self.display_window.y],
                        dtype=np.float64)

    def points_to_network(self, points_xy: np.ndarray) -> np.ndarray:
        """(N, 2) display-window pixel coordinates -> network-input pixel coordinates."""
        return (np.asarray(points_xy, dtype=np.float64) - self._frame_offset()) * np.array(self.scale_xy)

    def points_to_display(self, points_xy: np.ndarray) -> np.ndarray:
        """(N, 2) network-input pixel coordinates -> display-window pixel coordinates."""
        return np.asarray(points_xy, dtype=np.float64) / np.array(self.scale_xy) + self._frame_offset()

    def boxes_to_network(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """(N, 4) display-window boxes (x1, y1, x2, y2) -> network-input pixel boxes."""
        corners = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 2)
        return self.points_to_network(corners).reshape(-1, 4)

    def image_to_network(self, image: np.ndarray) -> np.ndarray:
        """An image covering `frame_window` -> the desqueezed image at `network_hw`, one resampling."""
        if image.shape[:2] != self.frame_window.shape:
            raise ValueError(f"image of shape {image.shape[:2]} does not cover the frame window {self.frame_window.shape}")
        return _resize(image, *self.network_hw)

    def matte_to_frame(self, matte: np.ndarray) -> np.ndarray:
        """A plane at `network_hw` (matte or, better, logits) -> squeezed back over `frame_window`.

        Resample logits where you have them: thresholds and sigmoids commute with nothing, and the
        released model resizes logits too (docs/network.md, Post-processing).
        """
        if matte.shape[:2] != self.network_hw:
            raise ValueError(f"matte of shape {matte.shape[:2]} is not at the network size {self.network_hw}")
        return _resize(matte, *self.frame_window.shape)

    def matte_to_window(self, matte: np.ndarray, target: Window) -> np.ndarray:
        """A plane at `network_hw` -> a plane covering `target` (e.g. the output data window)."""
        return reframe(self.matte_to_frame(matte), self.frame_window, target)

"""Dense optical flow between neighbouring frames, and how far to trust it, pixel by pixel.

OpenCV's DIS flow (Kroeger et al., ECCV 2016) is fast enough for every frame of a shot on a CPU
and handles the large motions of VFX plates better than Farneback. Flow is computed on the frames
as the network saw them (display-referred sRGB at the inference size), where a shot's grain and
compression noise are small relative to the edges that matter.

DIS runs with its "fast" preset: through the real job on held-out synthetic shots
(`rmpsam-matte bench propagation`, run with each preset) "medium" scores about the same J&F and
dtSSD at several times the flow's cost (README, "Propagation", has the numbers). Two flows per frame are CPU time the
network does not hide, and on a GPU they would cost more than the network itself.

Trust combines two tests, both standard for motion-compensated video filtering:
- forward-backward consistency: following the flow from A to B and back should return to the
  start; where it does not, the pixel was occluded or disoccluded;
- photometric agreement: the warped neighbour should look like the frame; where it does not, the
  flow is wrong (fast blur, lighting change, a thin structure the flow smoothed over).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

CONSISTENCY_PIXELS = 1.0
"""Forward-backward round-trip error (pixels) at which trust has fallen to exp(-1)."""
PHOTOMETRIC_TOLERANCE = 0.06
"""Grey-level difference (0..1 scale) between a frame and its warped neighbour at which trust has
fallen to exp(-1)."""


@dataclass(frozen=True)
class Correspondence:
    """How to pull a neighbour's values onto a frame: sample the neighbour at (map_x, map_y); trust
    in 0..1 per pixel says how much that sample can stand in for the frame's own."""

    map_x: np.ndarray
    map_y: np.ndarray
    trust: np.ndarray

    def pull(self, neighbour_values: np.ndarray) -> np.ndarray:
        """The neighbour's (H, W) float32 values moved onto this frame's pixels."""
        return cv2.remap(neighbour_values, self.map_x, self.map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def grey_u8(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) float 0..1 or uint8 RGB -> (H, W) uint8 luma, what DIS flow takes."""
    if image.dtype != np.uint8:
        image = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image


class FlowEstimator:
    """One DIS instance reused across a shot (its allocations are per size, not per call)."""

    def __init__(self) -> None:
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)

    def flow(self, frame: np.ndarray, neighbour: np.ndarray) -> np.ndarray:
        """(H, W, 2) float32 displacement d with frame(p) ~ neighbour(p + d)."""
        return self._dis.calc(frame, neighbour, None)

    def correspondences(self, frame: np.ndarray, neighbour: np.ndarray) -> tuple[Correspondence, Correspondence]:
        """(neighbour -> frame, frame -> neighbour) for two uint8 grey images of the same size."""
        towards_neighbour = self.flow(frame, neighbour)
        towards_frame = self.flow(neighbour, frame)
        frame_grey, neighbour_grey = _unit_grey(frame), _unit_grey(neighbour)
        return (
            _correspondence(frame_grey, neighbour_grey, towards_neighbour, towards_frame),
            _correspondence(neighbour_grey, frame_grey, towards_frame, towards_neighbour),
        )


def _unit_grey(grey: np.ndarray) -> np.ndarray:
    return grey.astype(np.float32) * np.float32(1.0 / 255.0)


@functools.lru_cache(maxsize=2)
def _pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pixel's own x and y, made once per frame size (a shot has one) and shared read-only."""
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def _correspondence(frame: np.ndarray, neighbour: np.ndarray, flow: np.ndarray, back_flow: np.ndarray) -> Correspondence:
    """`frame`, `neighbour`: grey 0..1 float32. Arithmetic in place where it can be: at the network
    size every temporary is 2 MB and this runs twice per frame of a shot."""
    height, width = frame.shape
    xs, ys = _pixel_grid(height, width)
    map_x, map_y = xs + flow[..., 0], ys + flow[..., 1]
    returned = cv2.remap(back_flow, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    returned += flow  # the round trip's miss, per axis
    exponent = cv2.magnitude(returned[..., 0], returned[..., 1])
    np.multiply(exponent, np.float32(1.0 / CONSISTENCY_PIXELS), out=exponent)
    np.square(exponent, out=exponent)
    warped = cv2.remap(neighbour, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    warped -= frame  # squared below: its sign does not matter
    np.multiply(warped, np.float32(1.0 / PHOTOMETRIC_TOLERANCE), out=warped)
    np.square(warped, out=warped)
    exponent += warped
    np.negative(exponent, out=exponent)
    trust = np.exp(exponent, out=exponent)
    outside = (map_x < 0) | (map_x > width - 1) | (map_y < 0) | (map_y > height - 1)
    trust[outside] = 0.0
    return Correspondence(map_x, map_y, trust)

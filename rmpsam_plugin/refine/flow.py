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
        return (
            _correspondence(frame, neighbour, towards_neighbour, towards_frame),
            _correspondence(neighbour, frame, towards_frame, towards_neighbour),
        )


def _correspondence(frame: np.ndarray, neighbour: np.ndarray, flow: np.ndarray, back_flow: np.ndarray) -> Correspondence:
    height, width = frame.shape
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    map_x, map_y = xs + flow[..., 0], ys + flow[..., 1]
    returned = cv2.remap(back_flow, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    round_trip = np.hypot(flow[..., 0] + returned[..., 0], flow[..., 1] + returned[..., 1])
    warped = cv2.remap(neighbour.astype(np.float32) / 255.0, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    difference = np.abs(warped - frame.astype(np.float32) / 255.0)
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    trust = np.exp(-((round_trip / CONSISTENCY_PIXELS) ** 2) - (difference / PHOTOMETRIC_TOLERANCE) ** 2) * inside
    return Correspondence(map_x, map_y, trust.astype(np.float32))

"""Smooth motion over continuous time: where an object (or the camera) is at any sub-frame.

Time is measured in frames (frame i is exposed around t = i), and every trajectory is a closed-form
function of t so motion-blur sub-frames, id-buffers and re-renders with overscan all sample the very
same path. Positions wander as a sum of slow sinusoids rather than in straight lines, so objects
stay around the frame in long shots while still moving at a chosen speed; an optional excursion
term sends an object out of frame and back, which propagation has to survive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pose:
    """Position (display pixels, x right, y down), rotation (radians) and size (pixels per outline unit)."""

    x: float
    y: float
    angle: float
    scale_px: float


@dataclass(frozen=True)
class Trajectory:
    """Pose as a closed-form function of time.

    position(t) = centre + sum_i amplitude_i * sin(2 pi t / period_i + phase_i) + excursion * bump(t)
    angle(t)    = angle0 + spin * t
    scale(t)    = scale_px * exp(scale_swing * sin(2 pi t / scale_period + scale_phase))

    where bump(t) = sin(pi t / excursion_frames) (0 when excursion_frames is 0): smooth at every
    t, so the shutter of the first and last frames sees no kink in the motion.
    """

    centre: np.ndarray  # (2,)
    amplitudes: np.ndarray  # (n, 2)
    periods: np.ndarray  # (n,)
    phases: np.ndarray  # (n, 2)
    angle0: float
    spin: float
    scale_px: float
    scale_swing: float
    scale_period: float
    scale_phase: float
    excursion: np.ndarray  # (2,), zeros when the object never leaves on purpose
    excursion_frames: float

    def pose(self, t: float) -> Pose:
        wander = (self.amplitudes * np.sin(2 * np.pi * t / self.periods[:, None] + self.phases)).sum(axis=0)
        position = self.centre + wander + self.excursion * self._bump(t)
        scale = self.scale_px * np.exp(self.scale_swing * np.sin(2 * np.pi * t / self.scale_period + self.scale_phase))
        return Pose(float(position[0]), float(position[1]), self.angle0 + self.spin * t, float(scale))

    @property
    def max_scale_px(self) -> float:
        """The largest size the object reaches at any time: the resolution its sprite needs."""
        return self.scale_px * float(np.exp(abs(self.scale_swing)))

    def _bump(self, t: float) -> float:
        if self.excursion_frames <= 0:
            return 0.0
        return float(np.sin(np.pi * t / self.excursion_frames))


def random_object_trajectory(
    rng: np.random.Generator, height: int, width: int, radius_px: float
) -> Trajectory:
    """A wandering, spinning, breathing object of outline radius `radius_px` in a height x width frame.

    Speed is 0.5..3% of the short side per frame (0.6..8 px of blur per frame at 256 px with a
    half-frame shutter); the wander's periods of 16..64 frames make short shots nearly linear and
    long ones loop around the frame.
    """
    short_side = min(height, width)
    speed = rng.uniform(0.005, 0.03) * short_side
    periods = rng.uniform(16.0, 64.0, 2)
    directions = rng.normal(size=(2, 2))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    amplitudes = directions * (speed * periods / (2 * np.pi))[:, None] / np.sqrt(2)
    amplitudes = np.clip(amplitudes, -0.35 * short_side, 0.35 * short_side)
    return Trajectory(
        centre=np.array([rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.85) * height]),
        amplitudes=amplitudes,
        periods=periods,
        phases=rng.uniform(0, 2 * np.pi, (2, 2)),
        angle0=rng.uniform(0, 2 * np.pi),
        spin=rng.uniform(-0.06, 0.06),
        scale_px=radius_px,
        scale_swing=rng.uniform(0.0, 0.2),
        scale_period=rng.uniform(16.0, 64.0),
        scale_phase=rng.uniform(0, 2 * np.pi),
        excursion=np.zeros(2),
        excursion_frames=0.0,
    )


def leave_and_return_trajectory(
    rng: np.random.Generator, height: int, width: int, radius_px: float, num_frames: int
) -> Trajectory:
    """An object that starts and ends in frame and spends the middle of the shot fully outside it.

    It starts 15..30% of the frame from the side it will leave through, heading within 30 degrees
    of that side's normal, so the trip out is short (a fast whip-out, not a teleport). The
    excursion overshoots the distance at which the object clears the frame by 30%: on the sine
    out-and-back it is fully outside for about the middle 40% of the shot.
    """
    if num_frames < 3:
        raise ValueError("leaving and re-entering the frame needs at least 3 frames")
    base = random_object_trajectory(rng, height, width, radius_px)
    size = np.array([width, height], float)
    side = int(rng.integers(4))  # 0 right, 1 bottom, 2 left, 3 top
    exit_axis, towards_far_side = side % 2, side < 2
    centre = rng.uniform(0.3, 0.7, 2) * size
    inset = rng.uniform(0.15, 0.3) * size[exit_axis]
    centre[exit_axis] = size[exit_axis] - inset if towards_far_side else inset
    angle = side * np.pi / 2 + rng.uniform(-np.pi / 6, np.pi / 6)
    direction = np.array([np.cos(angle), np.sin(angle)])
    # Fully outside = the whole outline beyond one edge: the centre one radius past it, which
    # along the ray takes (radius / |direction component across that edge|) more travel.
    margin = base.max_scale_px + 2.0
    clear = min(
        _distance_to_edge(centre[axis], direction[axis], size[axis]) + margin / max(abs(direction[axis]), 1e-9)
        for axis in (0, 1)
    )
    return Trajectory(
        centre=centre,
        amplitudes=np.zeros((1, 2)),
        periods=np.ones(1),
        phases=np.zeros((1, 2)),
        angle0=base.angle0,
        spin=base.spin,
        scale_px=base.scale_px,
        scale_swing=base.scale_swing,
        scale_period=base.scale_period,
        scale_phase=base.scale_phase,
        excursion=direction * 1.3 * clear,
        excursion_frames=float(num_frames - 1),
    )


def camera_pan(rng: np.random.Generator, max_offset_px: float) -> Trajectory:
    """A slow background pan (translation only) staying within `max_offset_px` of rest."""
    periods = rng.uniform(24.0, 96.0, 2)
    amplitudes = rng.uniform(-0.5, 0.5, (2, 2)) * max_offset_px
    return Trajectory(
        centre=np.zeros(2),
        amplitudes=amplitudes,
        periods=periods,
        phases=rng.uniform(0, 2 * np.pi, (2, 2)),
        angle0=0.0,
        spin=0.0,
        scale_px=1.0,
        scale_swing=0.0,
        scale_period=1.0,
        scale_phase=0.0,
        excursion=np.zeros(2),
        excursion_frames=0.0,
    )


def camera_move(rng: np.random.Generator, max_offset_px: float, short_side: int) -> Trajectory:
    """The plate style's camera: a drifting move with handheld shake, a slight roll and a slight zoom.

    Two slow terms (12..48 frames) carry the move within `max_offset_px` of rest, two fast ones
    (3..8 frames, up to 0.6% of the short side) the shake; the roll is at most +-0.15 degree a
    frame and the zoom breathes by up to +-5%. As a Trajectory the pose reads: (x, y) the offset
    of the view in the backdrop, angle its roll, scale_px its zoom (1 at rest).
    """
    slow_periods = rng.uniform(12.0, 48.0, 2)
    slow = rng.uniform(-0.5, 0.5, (2, 2)) * max_offset_px
    fast_periods = rng.uniform(3.0, 8.0, 2)
    fast = rng.uniform(-1.0, 1.0, (2, 2)) * 0.006 * short_side
    return Trajectory(
        centre=np.zeros(2),
        amplitudes=np.concatenate([slow, fast]),
        periods=np.concatenate([slow_periods, fast_periods]),
        phases=rng.uniform(0, 2 * np.pi, (4, 2)),
        angle0=rng.uniform(-0.02, 0.02),
        spin=rng.uniform(-0.0026, 0.0026),
        scale_px=1.0,
        scale_swing=rng.uniform(0.0, 0.05),
        scale_period=rng.uniform(16.0, 64.0),
        scale_phase=rng.uniform(0, 2 * np.pi),
        excursion=np.zeros(2),
        excursion_frames=0.0,
    )


def camera_travel(trajectory: Trajectory, times: np.ndarray, reach_px: float) -> float:
    """`outline_travel` of a camera: how far, at most, a frame pixel up to `reach_px` from the centre moves.

    A camera's pose scale is a zoom factor, not a size in pixels, so turning and zooming move a
    frame corner by `reach_px` times the change. For a pure pan this equals `outline_travel`.
    """
    poses = [trajectory.pose(float(t)) for t in times]
    travel = 0.0
    for before, after in zip(poses, poses[1:]):
        travel += float(np.hypot(after.x - before.x, after.y - before.y))
        travel += reach_px * max(before.scale_px, after.scale_px) * abs(after.angle - before.angle)
        travel += reach_px * abs(after.scale_px - before.scale_px)
    return travel


def shutter_times(frame_index: int, shutter: float, samples: int) -> np.ndarray:
    """Sub-frame times averaged into one motion-blurred frame.

    `shutter` is the open fraction of the frame interval (0.5 = a 180-degree shutter), centred on
    the frame; one sample or a closed shutter gives the instant `frame_index` (no blur).
    """
    if samples <= 1 or shutter <= 0:
        return np.array([float(frame_index)])
    return frame_index + shutter * (np.linspace(0.0, 1.0, samples) - 0.5)


def outline_travel(trajectory: Trajectory, times: np.ndarray) -> float:
    """How far, at most, a point of the outline (radius 1 unit) moves along `times`, in pixels.

    Sums, per step, the centre's displacement, the arc a rim point sweeps by turning and the
    change of radius: an upper bound that is tight for the translation-dominated motion here.
    """
    poses = [trajectory.pose(float(t)) for t in times]
    travel = 0.0
    for before, after in zip(poses, poses[1:]):
        travel += float(np.hypot(after.x - before.x, after.y - before.y))
        travel += max(before.scale_px, after.scale_px) * abs(after.angle - before.angle)
        travel += abs(after.scale_px - before.scale_px)
    return travel


def _distance_to_edge(position: float, direction: float, extent: float) -> float:
    """Distance along a ray component until it crosses [0, extent]; inf when it runs parallel."""
    if direction > 1e-9:
        return (extent - position) / direction
    if direction < -1e-9:
        return position / -direction
    return float("inf")

"""Every instance, from every keyframe, forward and backward, blended between keyframes.

For a range of frames the engine makes two sweeps over the shot:
- forward: on each frame, an instance with a keyframe there is decoded from its prompts (the
  artist's decode); an instance already running is carried on with the tracker;
- backward: the same from the other side, towards earlier frames.
On a frame between an instance's keyframes a and b the two runs are blended in logit space with
weights (b - t) / (b - a) and (t - a) / (b - a), so each run counts most near its own keyframe and
the result is continuous at both. A run that lost the object (it left the frame) gives way to the
other; where both lost it the matte is empty. Keyframes are exactly the keyframe decode.
`blend="nearest"` instead takes only the run of the nearer keyframe; with the `redecode` tracker
that is the baseline the benchmarks compare against (every frame decoded on its own from the
nearest keyframe's prompts).

Sweeps cover the frames needed to produce [first, last] for every instance (its bracketing
keyframes may lie outside: `Segment.context`), plus `margin` frames either side for filters that
look at neighbours. Features are cached by the predictor between the two sweeps.

The default tracker (`clip`) carries nothing from one frame to the next: a run's state on a frame
depends only on the keyframe it started from. Its two runs are then not two sweeps but one pass
over the range, each frame decoded forward and backward in turn (`_both_directions`), with the
same states, bit for bit, as two sweeps give.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_plugin.propagation.keyframe_decode import (
    MASK_LOGIT,
    InstanceState,
    NetworkPrompts,
    decode_keyframe,
)
from rmpsam_plugin.propagation.pass_cache import PassCache
from rmpsam_plugin.propagation.trackers import DEFAULT_TRACKER, SHARED_DECODES, TRACKERS

ABSENT_LOGIT = -MASK_LOGIT
BLENDS = ("linear", "nearest")


@dataclass
class InstanceKeyframes:
    """One instance's keyframes, already mapped to network pixels."""

    name: str
    keyframes: dict[int, NetworkPrompts]

    def brackets(self, frame: int) -> tuple[int | None, int | None]:
        """(last keyframe <= frame, first keyframe > frame)."""
        before = max((k for k in self.keyframes if k <= frame), default=None)
        after = min((k for k in self.keyframes if k > frame), default=None)
        return before, after


class PropagationEngine:
    """Runs the sweeps for a set of instances over a frame range; see the module docstring."""

    def __init__(
        self,
        predictor: RMPSAMPredictor,
        load_network_image: Callable[[int], np.ndarray],
        instances: list[InstanceKeyframes],
        shot_range: tuple[int, int],
        tracker: str = DEFAULT_TRACKER,
        cache: PassCache | None = None,
        on_step: Callable[[str, int], None] | None = None,
        blend: str = "linear",
    ) -> None:
        if tracker not in TRACKERS:
            raise ValueError(f"unknown tracker {tracker!r}; choose from {', '.join(TRACKERS)}")
        if blend not in BLENDS:
            raise ValueError(f"unknown blend {blend!r}; choose from {', '.join(BLENDS)}")
        self.blend = blend
        self.predictor = predictor
        self.load_network_image = load_network_image
        self.instances = instances
        self.shot_range = shot_range
        self.tracker = TRACKERS[tracker]
        self.shared_decode = SHARED_DECODES.get(tracker)
        self.cache = cache
        self.on_step = on_step or (lambda direction, frame: None)
        self._keyframe_states: dict[tuple[str, int], InstanceState] = {}

    # ---- public ------------------------------------------------------------------------------
    def run(self, first: int, last: int, margin: int = 0) -> dict[int, dict[str, torch.Tensor]]:
        """Blended low-res logits {frame: {instance: (h/4, w/4)}} for frames first-margin..last+margin
        (clipped to the shot)."""
        lo = max(self.shot_range[0], first - margin)
        hi = min(self.shot_range[1], last + margin)
        if self.shared_decode:
            forward, backward = self._both_directions(lo, hi)
        else:
            forward = self._sweep(lo, hi, direction="forward")
            backward = self._sweep(lo, hi, direction="backward")
        return {frame: {inst.name: self._blend(inst, frame, forward, backward) for inst in self.instances}
                for frame in range(lo, hi + 1)}

    # ---- trackers that carry nothing from frame to frame ---------------------------------------
    def _both_directions(self, lo: int, hi: int) -> tuple[dict, dict]:
        """States of every instance on every frame of lo..hi in both directions, frame by frame.

        For a tracker with a shared decode (`clip`), a run's state on a frame depends on the
        keyframe it started from and nothing else, so the two directions need not be two sweeps:
        each frame is decoded forward and backward while its features and the prompt adapter's
        keys of its pixels are cached. Two sweeps computed those keys twice for every frame
        between keyframes (the least recently used are let go: 70 MB a frame at the released
        size), and a sweep decoded every frame from its keyframe to the range, stored or not."""
        forward: dict[tuple[str, int], InstanceState] = {}
        backward: dict[tuple[str, int], InstanceState] = {}
        for frame in range(lo, hi + 1):
            for direction, states in (("forward", forward), ("backward", backward)):
                for name, state in self._from_keyframes(frame, direction).items():
                    states[(name, frame)] = state
                self.on_step(direction, frame)
        return forward, backward

    def _from_keyframes(self, frame: int, direction: str) -> dict[str, InstanceState]:
        """Every started instance's state on `frame` in `direction`: its keyframe state there, else
        its run's from the nearest keyframe behind (forward: before the frame; backward: after),
        instances running from the same keyframe decoded together, each to the bits it would get alone."""
        reached: dict[str, InstanceState] = {}
        waiting: dict[int, list[InstanceKeyframes]] = {}
        for inst in self.instances:
            if frame in inst.keyframes:
                reached[inst.name] = self._keyframe_state(inst, frame)
                continue
            before, after = inst.brackets(frame)
            keyframe = before if direction == "forward" else after
            if keyframe is None:  # no keyframe behind the frame in this direction: the run has not started
                continue
            state = self.cache.load(direction, inst.name, frame) if self.cache else None
            if state is None:
                waiting.setdefault(keyframe, []).append(inst)
            else:
                reached[inst.name] = state
        for keyframe, group in waiting.items():
            self._ensure_frame(frame)
            self._ensure_frame(keyframe)
            decoded = self.shared_decode(self.predictor, [self._keyframe_state(inst, keyframe) for inst in group],
                                         keyframe, frame)
            for inst, state in zip(group, decoded):
                if self.cache:
                    self.cache.save(direction, inst.name, frame, state)
                reached[inst.name] = state
        return reached

    # ---- trackers that carry the previous frame's state --------------------------------------
    def _sweep(self, lo: int, hi: int, direction: str) -> dict[tuple[str, int], InstanceState]:
        """States of every instance on every frame of lo..hi reached in one direction."""
        forward = direction == "forward"
        # A run restarts at every keyframe it meets, so a sweep only has to begin at the keyframe
        # whose run reaches the range's near end: the last one at or before lo going forward, the
        # first one after hi going backward.
        if forward:
            begin = min((k for k in (inst.brackets(lo)[0] for inst in self.instances) if k is not None), default=lo)
            end, step = hi, 1
        else:
            begin = max((k for k in (inst.brackets(hi)[1] for inst in self.instances) if k is not None), default=hi)
            end, step = lo, -1
        states: dict[tuple[str, int], InstanceState] = {}
        running: dict[str, tuple[int, InstanceState]] = {}  # instance -> (its keyframe, previous state)
        for frame in range(begin, end + step, step):
            for name, state in self._advance(frame, direction, running).items():
                if lo <= frame <= hi:
                    states[(name, frame)] = state
            self.on_step(direction, frame)
        return states

    def _advance(self, frame: int, direction: str,
                 running: dict[str, tuple[int, InstanceState]]) -> dict[str, InstanceState]:
        """Every instance's state on `frame` (instances not yet started are left out), `running`
        moved on."""
        reached: dict[str, InstanceState] = {}
        for inst in self.instances:
            if frame in inst.keyframes:
                running[inst.name] = (frame, self._keyframe_state(inst, frame))
                reached[inst.name] = running[inst.name][1]
                continue
            if inst.name not in running:
                continue
            keyframe, previous = running[inst.name]
            state = self.cache.load(direction, inst.name, frame) if self.cache else None
            if state is None:
                self._ensure_frame(frame)
                self._ensure_frame(keyframe)
                state = self.tracker(self.predictor, self._keyframe_state(inst, keyframe), previous, keyframe, frame)
                if self.cache:
                    self.cache.save(direction, inst.name, frame, state)
            running[inst.name] = (keyframe, state)
            reached[inst.name] = state
        return reached

    def _keyframe_state(self, inst: InstanceKeyframes, frame: int) -> InstanceState:
        key = (inst.name, frame)
        if key not in self._keyframe_states:
            cached = self.cache.load("keyframe", inst.name, frame) if self.cache else None
            if cached is None:
                self._ensure_frame(frame)
                cached = decode_keyframe(self.predictor, frame, inst.keyframes[frame])
                if self.cache:
                    self.cache.save("keyframe", inst.name, frame, cached)
            self._keyframe_states[key] = cached
        return self._keyframe_states[key]

    def _ensure_frame(self, frame: int) -> None:
        if not self.predictor.has_frame(frame):
            self.predictor.add_frame(frame, self.load_network_image(frame))

    # ---- blending ----------------------------------------------------------------------------
    def _blend(self, inst: InstanceKeyframes, frame: int, forward: dict, backward: dict) -> torch.Tensor:
        a, b = inst.brackets(frame)
        ahead = forward.get((inst.name, frame))
        behind = backward.get((inst.name, frame))
        if a == frame:
            return ahead.logits
        if self.blend == "nearest" and a is not None and b is not None:
            ahead, behind = (ahead, None) if frame - a <= b - frame else (None, behind)
        runs: list[tuple[float, InstanceState]] = []
        if ahead is not None and ahead.present:
            runs.append(((b - frame) / (b - a) if b is not None else 1.0, ahead))
        if behind is not None and behind.present:
            runs.append(((frame - a) / (b - a) if a is not None else 1.0, behind))
        if not runs:
            template = next(state for state in (ahead, behind, forward.get((inst.name, frame)),
                                                 backward.get((inst.name, frame))) if state is not None).logits
            return torch.full_like(template, ABSENT_LOGIT)
        total = sum(weight for weight, _ in runs)
        return sum(weight / total * state.logits for weight, state in runs)


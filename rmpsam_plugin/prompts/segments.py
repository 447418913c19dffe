"""How a shot splits into segments at keyframes: the unit a render farm runs in parallel.

Definition. Let K be the union of every instance's keyframe frames, k1 < k2 < ... < kn, and let the
shot run from `first` to `last` (either may be unknown). The segments are, in order:

* the leading segment [first, k1 - 1], before any keyframe (omitted when first == k1; open,
  with `first_frame` None, when the shot's first frame is unknown);
* one segment [ki, k(i+1) - 1] for each pair of consecutive keyframes: it starts on a keyframe
  and stops just before the next, so every frame of the shot is in exactly one segment;
* the trailing segment [kn, last] (open, `last_frame` None, when the last frame is unknown).

Dependencies. Inside a segment no instance has a keyframe except possibly on its first frame, so
for every instance the frames of the segment are propagated from the same two of *its own*
keyframes: the last one at or before the segment's first frame and the first one after the
segment's last frame (`Segment.brackets`). With one shared set of keyframes these are the
segment's own bounds and a segment depends on nothing else. When instances are keyframed on
different frames, an instance's bracket can lie outside the segment: its propagation then has to
start at that keyframe (`Segment.context`, the frames a worker must decode), which the farm can
accept as duplicated work or avoid by keyframing all instances on the same frames.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    """Frames `first_frame`..`last_frame` (inclusive; None = open towards an unknown shot end).

    `brackets[name]` = (the instance's last keyframe at or before `first_frame`, its first
    keyframe after `last_frame`); None where the instance has none on that side, in which case it
    is propagated from one side only.
    """

    first_frame: int | None
    last_frame: int | None
    brackets: Mapping[str, tuple[int | None, int | None]]

    @property
    def context(self) -> tuple[int | None, int | None]:
        """The frames a worker decodes to produce this segment: from the earliest bracketing
        keyframe to the latest one (falling back to the segment's own bounds on an open side)."""
        befores = [before for before, _ in self.brackets.values() if before is not None]
        afters = [after for _, after in self.brackets.values() if after is not None]
        start = min(befores + ([self.first_frame] if self.first_frame is not None else []), default=None)
        end = max(afters + ([self.last_frame] if self.last_frame is not None else []), default=None)
        return start, end

    def __len__(self) -> int:
        if self.first_frame is None or self.last_frame is None:
            raise TypeError("an open segment has no length until the shot's frame range is known")
        return self.last_frame - self.first_frame + 1


def split_into_segments(
    keyframes_by_instance: Mapping[str, Sequence[int]], first: int | None, last: int | None
) -> list[Segment]:
    """The segments of a shot, see the module docstring. `keyframes_by_instance` values are sorted."""
    cuts = sorted(set().union(*keyframes_by_instance.values()))
    if not cuts:
        return []
    spans: list[tuple[int | None, int | None]] = []
    if first is None or first < cuts[0]:
        spans.append((first, cuts[0] - 1))
    spans += [(start, next_cut - 1) for start, next_cut in zip(cuts, cuts[1:])]
    spans.append((cuts[-1], last))
    return [
        Segment(start, end, {name: _bracket(frames, start, end) for name, frames in keyframes_by_instance.items()})
        for start, end in spans
    ]


def _bracket(frames: Sequence[int], start: int | None, end: int | None) -> tuple[int | None, int | None]:
    """(last of `frames` <= start, first of `frames` > end); None for an open side or none there."""
    before_index = bisect_right(frames, start) - 1 if start is not None else -1
    after_index = bisect_right(frames, end) if end is not None else len(frames)
    before = frames[before_index] if before_index >= 0 else None
    after = frames[after_index] if after_index < len(frames) else None
    return before, after

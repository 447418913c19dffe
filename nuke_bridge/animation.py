"""Keys on Nuke array knobs (XY_Knob, BBox_Knob): the one place that speaks the animation API.

A viewer handle counts as a prompt on a frame only where it has a key: an animated knob answers
`getValueAt` on every frame (Nuke interpolates between keys), and an interpolated click is not
something the artist placed. So "which frames" comes from the keys of the knob's curves, and
"where" from the value at exactly that frame.

Calls used, as Nuke documents them for `Array_Knob`: `animations()` -> AnimationCurve list,
`AnimationCurve.keys()` -> AnimationKey list with `.x` (the frame), `setAnimated(index)`,
`setValueAt(value, time, index)`, `getValueAt(time, index)`, `isAnimated()`, `isKeyAt(time,
index)`, `removeKeyAt(time, index)`, `clearAnimated()`.
`getKeyList()` would be shorter but only exists in recent Nuke versions.

Expressions: `isAnimated()` is also true for a knob linked by expression (to a Tracker, say), whose
curve has no keys (Foundry's Animation guide: "isAnimated() returns True if there is any sort of
animation in the knob, including expressions"; `hasExpression()` tells them apart). Such a handle
has a value on every frame and no keyframe of its own: prompt_export.py samples it on the frames
where its instance has keys.
"""

from __future__ import annotations

from typing import List, Sequence


def driven_by_expression(knob) -> bool:
    """True when any channel of `knob` follows an expression rather than its keys."""
    return bool(knob.isAnimated() and knob.hasExpression())


def key_frames(knob) -> List[int]:
    """The frames where any channel of `knob` has a key, sorted. A knob that is not animated has
    none, whatever its value: it was never placed on a keyframe; nor has one driven by an
    expression (its keys, if any, are not what Nuke shows)."""
    if not knob.isAnimated() or driven_by_expression(knob):
        return []
    frames = set()
    for curve in knob.animations():
        for key in curve.keys():
            frames.add(int(round(key.x)))
    return sorted(frames)


def values_at(knob, frame: int) -> List[float]:
    """Every channel of `knob` at `frame` (x, y for an XY knob; x, y, r, t for a BBox knob)."""
    return [float(knob.getValueAt(frame, index)) for index in range(knob.arraySize())]


def set_key(knob, frame: int, values: Sequence[float], current_frame: int) -> None:
    """Key every channel of `knob` at `frame`. `setValueAt` only makes a key on an animated
    channel (on a static one it would just move the value), hence `setAnimated` first; but
    `setAnimated` keys the current value on the *current* frame, a click the artist never placed
    there, so that key is removed again when it is not the frame being keyed."""
    for index, value in enumerate(values):
        newly_animated = not knob.isAnimated(index)
        if newly_animated:
            knob.setAnimated(index)
        knob.setValueAt(float(value), frame, index)
        if newly_animated and current_frame != frame and knob.isKeyAt(current_frame, index):
            knob.removeKeyAt(current_frame, index)


def clear_keys(knob) -> None:
    """Drop all animation: the handle takes part in no keyframe any more."""
    if knob.isAnimated():
        knob.clearAnimated()

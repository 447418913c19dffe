"""The checks a schema cannot express: prompts against the plate, and names against each other.

They run on a `PromptSet` built from the schema-valid parts of a file and report every problem
they find. The plate is the one the caller knows (from the sequence), filled in from the file's
own `plate` block where the caller knows less. When both give a size and they differ, the clicks
were placed on another plate and would land in the wrong place, so that is an error too; the
frame range may legitimately differ (a shot gets extended), keyframes are simply checked
against the range that applies.

Geometry rule: a point or box corner must lie inside the frame or on its edge,
0 <= x <= width and 0 <= y <= height, in display-window pixels.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import fields, replace

import numpy as np

from rmpsam_plugin.images.layer_names import exr_layer_name
from rmpsam_plugin.printable import printable

from .errors import PromptIssue
from .masks import MaskError, inspect_mask
from .model import InstanceTrack, Keyframe, PlateInfo, PromptSet

_SIZE_FIELDS = ("width", "height", "pixel_aspect")
# EXR stores the pixel aspect as a 32-bit float: 1.33 reads back as 1.3300000429. Sizes are
# integers, for which this tolerance still means equality.
_ASPECT_TOLERANCE = 1e-6


def semantic_issues(prompt_set: PromptSet, plate: PlateInfo | None) -> list[PromptIssue]:
    """Every semantic problem of `prompt_set` on `plate` (the sequence's, or None)."""
    issues = list(_plate_issues(prompt_set.plate, plate))
    effective = _combined_plate(plate, prompt_set.plate)
    issues += _name_issues(prompt_set.instances)
    for track in prompt_set.instances:
        for keyframe in track.keyframes.values():
            issues += [
                PromptIssue(track.name, keyframe.frame, field, message)
                for field, message in _keyframe_issues(keyframe, effective)
            ]
    return issues


def _combined_plate(known: PlateInfo | None, described: PlateInfo | None) -> PlateInfo:
    """`known` with its unknown fields taken from the file's description. A reversed range
    (already reported) counts as unknown rather than putting every keyframe outside it."""
    known, described = known or PlateInfo(), described or PlateInfo()
    unknown = [f.name for f in fields(PlateInfo) if getattr(known, f.name) is None]
    plate = replace(known, **{name: getattr(described, name) for name in unknown})
    if plate.first_frame is not None and plate.last_frame is not None and plate.first_frame > plate.last_frame:
        plate = replace(plate, first_frame=None, last_frame=None)
    return plate


def _plate_issues(described: PlateInfo | None, known: PlateInfo | None) -> Iterator[PromptIssue]:
    if described is None:
        return
    first, last = described.first_frame, described.last_frame
    if first is not None and last is not None and first > last:
        yield PromptIssue(None, None, "plate", f"first_frame {first} is after last_frame {last}")
    if known is None:
        return
    for name in _SIZE_FIELDS:
        ours, theirs = getattr(described, name), getattr(known, name)
        if ours is not None and theirs is not None and not math.isclose(ours, theirs, rel_tol=_ASPECT_TOLERANCE):
            yield PromptIssue(
                None, None, f"plate.{name}",
                f"the prompts were placed on a plate with {name} {ours}, but the sequence has {theirs}; "
                "the prompts would land in the wrong place",
            )


def _name_issues(instances: list[InstanceTrack]) -> Iterator[PromptIssue]:
    """Duplicate names, and names that only differ in characters an EXR layer name cannot keep."""
    names_seen: set[str] = set()
    first_with_layer: dict[str, str] = {}
    for track in instances:
        if track.name in names_seen:
            yield PromptIssue(track.name, None, "name", "more than one instance has this name; names must be unique")
            continue
        names_seen.add(track.name)
        layer = exr_layer_name(track.name)
        if layer in first_with_layer:
            yield PromptIssue(
                track.name, None, "name",
                f'becomes the EXR layer "{layer}", like instance "{printable(first_with_layer[layer])}": each instance is '
                "written as its own EXR layer, whose name keeps only letters, digits and underscore (no leading "
                "digit), so the two would overwrite each other; rename one",
            )
            continue
        first_with_layer[layer] = track.name


def _keyframe_issues(keyframe: Keyframe, plate: PlateInfo) -> Iterator[tuple[str, str]]:
    """(field, message) for every problem of one keyframe."""
    first, last = plate.first_frame, plate.last_frame
    if (first is not None and keyframe.frame < first) or (last is not None and keyframe.frame > last):
        shown = f"{first if first is not None else '...'}-{last if last is not None else '...'}"
        yield "frame", f"frame {keyframe.frame} is outside the sequence's frame range {shown}"
    for field_name in ("positive_clicks", "negative_clicks"):
        for index, point in enumerate(getattr(keyframe, field_name)):
            if not _inside(point, plate):
                yield f"{field_name}[{index}]", f"{_coordinates(point)} lies outside the {_frame_size(plate)} frame"
    for index, box in enumerate(keyframe.boxes):
        yield from ((f"boxes[{index}]", message) for message in _box_problems(box, plate))
    if keyframe.mask_path is not None:
        yield from (("mask", message) for message in _mask_problems(keyframe, plate))


def _box_problems(box: np.ndarray, plate: PlateInfo) -> Iterator[str]:
    x1, y1, x2, y2 = box
    shown = _coordinates(box)
    if x2 < x1 or y2 < y1:
        flipped = " and ".join(text for bad, text in ((x2 < x1, "x2 < x1"), (y2 < y1, "y2 < y1")) if bad)
        yield f"{shown} has {flipped}; a box is [x1, y1, x2, y2] with the top-left corner first"
    elif x2 == x1 or y2 == y1:
        yield f"{shown} has zero area"
    if not (_inside(box[:2], plate) and _inside(box[2:], plate)):
        yield f"{shown} reaches outside the {_frame_size(plate)} frame"


def _mask_problems(keyframe: Keyframe, plate: PlateInfo) -> Iterator[str]:
    try:
        info = inspect_mask(keyframe.mask_path, keyframe.mask_channel)
    except MaskError as error:
        yield str(error)
        return
    size, plate_size = (info.width, info.height), (plate.width, plate.height)
    if None not in plate_size and size != plate_size:
        yield f"mask image {printable(keyframe.mask_path)} is {size[0]}x{size[1]} but the plate is {_frame_size(plate)}"


def _inside(point: np.ndarray, plate: PlateInfo) -> bool:
    x, y = point
    within_width = plate.width is None or x <= plate.width
    within_height = plate.height is None or y <= plate.height
    return x >= 0 and y >= 0 and within_width and within_height


def _frame_size(plate: PlateInfo) -> str:
    return f"{plate.width if plate.width is not None else '?'}x{plate.height if plate.height is not None else '?'}"


def _coordinates(values: np.ndarray) -> str:
    return "(" + ", ".join(repr(float(value)) for value in values) + ")"

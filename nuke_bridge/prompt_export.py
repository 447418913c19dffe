"""The node's knobs <-> the prompt file's JSON (the same document `rmpsam-matte run --prompts`
reads; schema in rmpsam_plugin/prompts/prompts.schema.json).

Export: every instance tab becomes an instance; its keyframes are the frames where any of its
handles has a key; on each keyframe a handle contributes only if it has a key on exactly that
frame (animation.py says why), or if an expression drives it (sampled on those frames; an
instance whose only handles are expression-driven has no keyframes and is refused).
Names, classes and the masks JSON are read with `getText()`: text as typed, not TCL (node.py).
Values go through coordinates.py (y flip, proxy-file scaling).
Problems are collected and raised together, naming instance, frame and knob, because the artist
fixes them in the panel, not in the file.

Import replaces the node's instances with the file's, so loading a file shows exactly what a run
of that file would use, and export after import gives the file back.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Dict, List, Optional

from . import animation
from . import node as rmpsam_node
from .coordinates import KnobSpace, inside, nuke_to_tool_box, nuke_to_tool_point, tool_to_nuke_box, tool_to_nuke_point

FILE_KIND = "rmpsam-prompts"
VERSION = 1


class PromptExportError(Exception):
    """The knobs (or a file) cannot become a valid prompt document; `issues` lists every problem."""

    def __init__(self, issues: List[str]) -> None:
        super().__init__("; ".join(issues))
        self.issues = list(issues)


def export_document(node, space: KnobSpace, plate_block: Optional[dict] = None) -> dict:
    """The prompt document for `node`'s knobs. `space` maps knob values to the plate the tool reads;
    `plate_block` (Plate.plate_block()) is written as the file's `plate` so the tool checks it."""
    issues = []  # type: List[str]
    document = {"schema": FILE_KIND, "version": VERSION}  # type: Dict[str, object]
    if plate_block is not None:
        document["plate"] = dict(plate_block)
    entries = []
    seen = set()
    for track in rmpsam_node.instances(node):
        name = track.name.getText().strip()
        if not name:
            issues.append("instance %d has no name" % track.index)
            continue
        if name in seen:
            issues.append("two instances are called %r" % name)
            continue
        seen.add(name)
        entry = _instance_entry(track, name, space, issues)
        if entry is not None:
            entries.append(entry)
    if not entries and not issues:
        issues.append("%s has no instance with a keyed handle" % node.name())
    if issues:
        raise PromptExportError(issues)
    document["instances"] = entries
    return document


def apply_document(node, document: dict, space: KnobSpace, current_frame: int) -> None:
    """Replace `node`'s instances with `document`'s, keying each handle on its keyframes."""
    check_document(document)
    _check_plate_size(document, space)
    for track in rmpsam_node.instances(node):
        rmpsam_node.remove_instance(node, track.index)
    for entry in document["instances"]:
        keyframes = entry["keyframes"]
        counts = [max([len(k.get(field, [])) for k in keyframes] + [0])
                  for field in ("positive_clicks", "negative_clicks", "boxes")]
        track = rmpsam_node.add_instance(node, entry["name"], max(counts[0], rmpsam_node.DEFAULT_POSITIVE),
                                         max(counts[1], rmpsam_node.DEFAULT_NEGATIVE),
                                         max(counts[2], rmpsam_node.DEFAULT_BOXES), entry.get("class", ""))
        masks = {}
        for keyframe in keyframes:
            frame = int(keyframe["frame"])
            for knob, point in zip(track.positive, keyframe.get("positive_clicks", [])):
                animation.set_key(knob, frame, tool_to_nuke_point(point[0], point[1], space), current_frame)
            for knob, point in zip(track.negative, keyframe.get("negative_clicks", [])):
                animation.set_key(knob, frame, tool_to_nuke_point(point[0], point[1], space), current_frame)
            for knob, box in zip(track.boxes, keyframe.get("boxes", [])):
                animation.set_key(knob, frame, tool_to_nuke_box(box, space), current_frame)
            if "mask" in keyframe:
                masks[str(frame)] = {key: keyframe[key] for key in ("mask", "mask_channel") if key in keyframe}
        track.masks.setValue(json.dumps(masks, sort_keys=True) if masks else "")


def read_prompt_file(path: str) -> dict:
    """A prompt file's document, mask paths made absolute (the knobs do not know the file's folder)."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError) as error:
        raise PromptExportError(["cannot read prompt file %s: %s" % (path, error)])
    check_document(document)
    base = os.path.dirname(os.path.abspath(path))
    for entry in document["instances"]:
        for keyframe in entry["keyframes"]:
            if "mask" in keyframe:
                keyframe["mask"] = os.path.normpath(os.path.join(base, keyframe["mask"]))
    return document


def write_prompt_file(path: str, document: dict) -> str:
    """Write atomically (temporary file, then rename): a job started on a half-written file would
    fail on JSON, or worse, run on fewer prompts."""
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder)
    handle, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(json.dumps(document, indent=2) + "\n")
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def check_document(document: object) -> None:
    """The shape the bridge relies on; the tool checks the rest (schema, plate, masks)."""
    if not isinstance(document, dict) or document.get("schema") != FILE_KIND:
        raise PromptExportError(["not an rmpsam prompt file (no \"schema\": \"%s\")" % FILE_KIND])
    if document.get("version") != VERSION:
        raise PromptExportError(["prompt file version %r; this bridge reads version %d"
                                 % (document.get("version"), VERSION)])
    instances = document.get("instances")
    if not isinstance(instances, list) or not all(
            isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("keyframes"), list)
            for entry in instances):
        raise PromptExportError(["prompt file instances must be a list of {\"name\", \"keyframes\"} objects"])


def _check_plate_size(document: dict, space: KnobSpace) -> None:
    plate = document.get("plate") or {}
    width, height = plate.get("width"), plate.get("height")
    if width is not None and height is not None and (width, height) != (space.plate_width, space.plate_height):
        raise PromptExportError(["the prompt file is for a %dx%d plate; this node's plate is %dx%d"
                                 % (width, height, space.plate_width, space.plate_height)])


def _instance_entry(track, name: str, space: KnobSpace, issues: List[str]) -> Optional[dict]:
    slots = [("positive_clicks", knob) for knob in track.positive] + \
            [("negative_clicks", knob) for knob in track.negative] + [("boxes", knob) for knob in track.boxes]
    keyed = [(field, knob, set(animation.key_frames(knob))) for field, knob in slots]
    linked = [knob for _, knob in slots if animation.driven_by_expression(knob)]
    masks = _masks(track, name, issues)
    frames = sorted(set().union(*[frames for _, _, frames in keyed]) | set(masks))
    if not frames:
        if linked:
            issues.append("%s: %s follows an expression and no handle of %s has a key, so no frame is a keyframe: "
                          "key a handle on the frames to use, or bake the expression to keys"
                          % (name, ", ".join(knob.name() for knob in linked), name))
        else:
            issues.append("%s has no keyed handle: set a key on a click or box on each keyframe" % name)
        return None
    keyframes = []
    for frame in frames:
        keyframe = {"frame": frame, "positive_clicks": [], "negative_clicks": [], "boxes": []}  # type: Dict[str, object]
        for field, knob, knob_frames in keyed:
            if frame not in knob_frames and knob not in linked:
                continue
            values = animation.values_at(knob, frame)
            if field == "boxes":
                value = nuke_to_tool_box(values, space)
                corners = [value[:2], value[2:]]
            else:
                value = list(nuke_to_tool_point(values[0], values[1], space))
                corners = [value]
            if not all(inside(corner, space.plate_width, space.plate_height) for corner in corners):
                issues.append("%s frame %d: %s is outside the %dx%d frame"
                              % (name, frame, knob.name(), space.width, space.height))
            if field == "boxes" and (value[0] == value[2] or value[1] == value[3]):
                issues.append("%s frame %d: %s has no area" % (name, frame, knob.name()))
            keyframe[field].append(value)
        keyframe.update(masks.get(frame, {}))
        if not keyframe["positive_clicks"] and not keyframe["boxes"] and "mask" not in keyframe:
            issues.append("%s frame %d: only negative clicks; add a positive click or a box" % (name, frame))
        keyframes.append(keyframe)
    entry = {"name": name}  # type: Dict[str, object]
    class_name = track.class_name.getText().strip() if track.class_name is not None else ""
    if class_name:
        entry["class"] = class_name
    entry["keyframes"] = keyframes
    return entry


def _masks(track, name: str, issues: List[str]) -> Dict[int, dict]:
    text = track.masks.getText() if track.masks is not None else ""
    if not text.strip():
        return {}
    try:
        return {int(frame): dict(value) for frame, value in json.loads(text).items()}
    except (ValueError, TypeError, AttributeError):
        issues.append("%s: the masks knob is not valid JSON" % name)
        return {}

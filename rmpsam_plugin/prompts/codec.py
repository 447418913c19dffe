"""The prompt file's document (parsed JSON) <-> the model, in both directions.

The document side is exactly the file's JSON: keyframes as a list, mask paths relative to the
file's folder. The model side keys keyframes by frame and holds absolute mask paths, so a
`PromptSet` does not depend on where it was read from and can be saved anywhere.

`document_from_prompt_set` fixes the key order (the schema's order) and writes every click and
box list, even empty ones, so saving is canonical: the same prompts always give the same text.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import PromptIssue
from .model import InstanceTrack, Keyframe, PlateInfo, PromptSet
from .schema import FILE_KIND, VERSION

_PLATE_FIELDS = ("pattern", "first_frame", "last_frame", "width", "height", "pixel_aspect")


def prompt_set_from_document(document: dict, base_dir: Path) -> tuple[PromptSet, list[PromptIssue]]:
    """Build the model from a schema-valid document; also returns the keyframes that repeat a
    frame of their instance (the model keeps the first; the repeat is an error to report)."""
    issues: list[PromptIssue] = []
    tracks = []
    for instance in document["instances"]:
        keyframes: dict[int, Keyframe] = {}
        for entry in instance["keyframes"]:
            frame = int(entry["frame"])
            if frame in keyframes:
                message = "the instance has another keyframe on this frame; merge the two"
                issues.append(PromptIssue(instance["name"], frame, "frame", message))
                continue
            keyframes[frame] = Keyframe(
                frame,
                entry.get("positive_clicks", []),
                entry.get("negative_clicks", []),
                entry.get("boxes", []),
                _absolute(entry["mask"], base_dir) if "mask" in entry else None,
                entry.get("mask_channel"),
            )
        tracks.append(InstanceTrack(instance["name"], instance.get("class"), keyframes))
    return PromptSet(tracks, _plate(document.get("plate"))), issues


def document_from_prompt_set(prompt_set: PromptSet, base_dir: Path) -> dict:
    """The file's JSON for `prompt_set`, mask paths relative to `base_dir`, keys in canonical order."""
    document: dict = {"schema": FILE_KIND, "version": VERSION}
    if prompt_set.plate is not None:
        document["plate"] = plate_document(prompt_set.plate)
    document["instances"] = [_instance_document(track, base_dir) for track in prompt_set.instances]
    return document


def plate_document(plate: PlateInfo) -> dict:
    """The file's `plate` block: the known fields, in canonical order."""
    return {name: getattr(plate, name) for name in _PLATE_FIELDS if getattr(plate, name) is not None}


def _instance_document(track: InstanceTrack, base_dir: Path) -> dict:
    entry: dict = {"name": track.name}
    if track.class_name is not None:
        entry["class"] = track.class_name
    entry["keyframes"] = [_keyframe_document(keyframe, base_dir) for keyframe in track.keyframes.values()]
    return entry


def _keyframe_document(keyframe: Keyframe, base_dir: Path) -> dict:
    entry: dict = {
        "frame": keyframe.frame,
        "positive_clicks": keyframe.positive_clicks.tolist(),
        "negative_clicks": keyframe.negative_clicks.tolist(),
        "boxes": keyframe.boxes.tolist(),
    }
    if keyframe.mask_path is not None:
        entry["mask"] = _relative(keyframe.mask_path, base_dir)
    if keyframe.mask_channel is not None:
        entry["mask_channel"] = keyframe.mask_channel
    return entry


def _plate(entry: dict | None) -> PlateInfo | None:
    if entry is None:
        return None
    values = {name: entry.get(name) for name in _PLATE_FIELDS}
    for name in ("first_frame", "last_frame", "width", "height"):
        if values[name] is not None:
            values[name] = int(values[name])  # JSON 1001.0 is a valid integer; keep the type exact
    return PlateInfo(**values)


def _absolute(mask: str, base_dir: Path) -> Path:
    return Path(os.path.normpath(base_dir / mask))


def _relative(mask_path: Path, base_dir: Path) -> str:
    """`mask_path` relative to `base_dir`, with forward slashes on every platform; absolute when
    there is no relative path (another drive on Windows)."""
    try:
        return Path(os.path.relpath(mask_path, base_dir)).as_posix()
    except ValueError:
        return mask_path.as_posix()

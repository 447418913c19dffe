"""The short dict form a pipeline script writes: instance name -> frame -> prompts.

    {
        "car": {                                   # instance name
            1012: {                                # frame number (int, or a string of one)
                "positive_clicks": [[x, y], ...],  # lists, tuples or numpy arrays
                "negative_clicks": [[x, y], ...],  # each of these three may be left out
                "boxes": [[x1, y1, x2, y2], ...],
                "mask": "masks/car.1012.exr",      # optional, relative to base_dir or absolute
                "mask_channel": "A",               # optional
            },
        },
        "tree": {"class": "plant", "keyframes": {1001: {...}}},  # with a class: this longer form
    }

An instance maps either straight to its frames or, to carry a class name, to
{"class": ..., "keyframes": {frame: prompts}}; a frame number is never the string "keyframes", so
the two cannot be confused. Field names are the file's. The dict goes through exactly the checks a
file does, and its problems are reported with the same instance/keyframe/field names.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .codec import plate_document
from .errors import PromptFileError, PromptIssue
from .json_text import NonFiniteNumber
from .model import Keyframe, PlateInfo, PromptSet
from .schema import FILE_KIND, VERSION
from .validation import checked_prompt_set

_LONG_FORM_KEY = "keyframes"
_SOURCE = "prompt dict"


def from_dict(
    instances: Mapping[str, Mapping],
    *,
    plate: PlateInfo | None = None,
    base_dir: str | os.PathLike | None = None,
) -> PromptSet:
    """Check and build a `PromptSet` from the short form (module docstring). `plate` becomes the
    set's plate description and is checked against; relative mask paths resolve against
    `base_dir` (default: the current directory). Raises `PromptFileError` listing every problem."""
    document: dict = {"schema": FILE_KIND, "version": VERSION}
    if plate is not None:
        document["plate"] = plate_document(plate)
    not_frame_maps = [name for name, value in instances.items() if not isinstance(_frames_of(value), Mapping)]
    if not_frame_maps:
        message = "must map frame numbers to prompts ({frame: {\"positive_clicks\": ...}})"
        raise PromptFileError(_SOURCE, [PromptIssue(str(name), None, "keyframes", message) for name in not_frame_maps])
    document["instances"] = [_instance_document(name, value) for name, value in instances.items()]
    base = Path(base_dir if base_dir is not None else Path.cwd()).absolute()
    return checked_prompt_set(_plain(document), base_dir=base, plate=None, source=_SOURCE)


def to_dict(prompt_set: PromptSet) -> dict:
    """The short form of `prompt_set`, with absolute mask paths: `from_dict(to_dict(p),
    plate=p.plate)` equals `p`. The long form is used only for instances with a class."""
    result: dict = {}
    for track in prompt_set.instances:
        frames = {frame: _keyframe_dict(keyframe) for frame, keyframe in track.keyframes.items()}
        result[track.name] = frames if track.class_name is None else {"class": track.class_name, _LONG_FORM_KEY: frames}
    return result


def _is_long_form(value: object) -> bool:
    return isinstance(value, Mapping) and _LONG_FORM_KEY in value


def _frames_of(value: object) -> object:
    return value[_LONG_FORM_KEY] if _is_long_form(value) else value


def _instance_document(name: object, value: Mapping) -> dict:
    """The file's instance object; other long-form keys ("class", typos) go to the schema."""
    entry: dict = {"name": name}
    if _is_long_form(value):
        entry.update({key: item for key, item in value.items() if key != _LONG_FORM_KEY})
    entry["keyframes"] = [
        {"frame": _frame_number(frame), **prompts} if isinstance(prompts, Mapping) else prompts
        for frame, prompts in _frames_of(value).items()
    ]
    return entry


def _keyframe_dict(keyframe: Keyframe) -> dict:
    entry: dict = {
        "positive_clicks": keyframe.positive_clicks.tolist(),
        "negative_clicks": keyframe.negative_clicks.tolist(),
        "boxes": keyframe.boxes.tolist(),
    }
    if keyframe.mask_path is not None:
        entry["mask"] = str(keyframe.mask_path)
    if keyframe.mask_channel is not None:
        entry["mask_channel"] = keyframe.mask_channel
    return entry


def _frame_number(frame: object) -> object:
    """An int for 1012, numpy's 1012 or "1012"; anything else unchanged, for the schema to report."""
    if isinstance(frame, (int, np.integer)) and not isinstance(frame, bool):
        return int(frame)
    if isinstance(frame, str) and frame.strip().lstrip("-").isdigit():
        return int(frame)
    return frame


def _plain(value: object) -> object:
    """Lists for tuples and arrays, Python numbers for numpy ones, strings for paths: what the
    schema validator and the JSON writer understand. NaN and infinities become the same marker a
    file's `NaN` parses to. Other values pass through unchanged for the schema to judge."""
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return NonFiniteNumber(repr(value))  # the schema's "number" would let NaN through
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value

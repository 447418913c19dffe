"""The prompts in memory: what propagation, the EXR writer and the farm splitter build on.

These classes hold data and answer questions about it; they do not check it. Everything that
reaches them through `load_prompts`/`from_dict` has passed the schema and the semantic checks,
and `save_prompts` checks again before writing, so a `PromptSet` built by hand cannot leave the
process as an invalid file.

Coordinates are display-window pixels, origin top-left, y down, float64 (JSON numbers are doubles,
so keeping float64 makes save/load round-trip exactly). The arrays are read-only: a keyframe is
shared between segments and threads, and nobody should move a click behind the others' backs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rmpsam_plugin.images.layer_names import CRYPTOMATTE_LAYER, output_layer_names

from .errors import UnknownInstanceError
from .segments import Segment, split_into_segments


@dataclass(frozen=True)
class PlateInfo:
    """What is known of the plate: any field may be None (unknown). `width`/`height` are the
    display window's size in stored pixels; `pattern` names the sequence, informative only."""

    first_frame: int | None = None
    last_frame: int | None = None
    width: int | None = None
    height: int | None = None
    pixel_aspect: float | None = None
    pattern: str | None = None


def _points(values, columns: int) -> np.ndarray:
    array = np.array(values, dtype=np.float64).reshape(-1, columns)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Keyframe:
    """One instance's prompts on one frame. Clicks are (N, 2) [x, y], boxes (M, 4) [x1, y1, x2, y2];
    `mask_path` is absolute (resolved against the prompt file's folder when loaded)."""

    frame: int
    positive_clicks: np.ndarray = field(default_factory=lambda: _points([], 2))
    negative_clicks: np.ndarray = field(default_factory=lambda: _points([], 2))
    boxes: np.ndarray = field(default_factory=lambda: _points([], 4))
    mask_path: Path | None = None
    mask_channel: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame", int(self.frame))
        object.__setattr__(self, "positive_clicks", _points(self.positive_clicks, 2))
        object.__setattr__(self, "negative_clicks", _points(self.negative_clicks, 2))
        object.__setattr__(self, "boxes", _points(self.boxes, 4))
        if self.mask_path is not None:
            object.__setattr__(self, "mask_path", Path(self.mask_path))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Keyframe):
            return NotImplemented
        return (
            self.frame == other.frame
            and np.array_equal(self.positive_clicks, other.positive_clicks)
            and np.array_equal(self.negative_clicks, other.negative_clicks)
            and np.array_equal(self.boxes, other.boxes)
            and self.mask_path == other.mask_path
            and self.mask_channel == other.mask_channel
        )

    __hash__ = None  # equal keyframes hold equal arrays; arrays are not hashable


@dataclass(frozen=True)
class InstanceTrack:
    """One named instance and its keyframes by frame number (kept in frame order)."""

    name: str
    class_name: str | None
    keyframes: Mapping[int, Keyframe]

    def __post_init__(self) -> None:
        object.__setattr__(self, "keyframes", dict(sorted(self.keyframes.items())))


@dataclass(frozen=True)
class PromptSet:
    """All instances of a shot, in file order (the order their layers are written), and the
    plate as the prompt file describes it (None when the file has no `plate` block)."""

    instances: list[InstanceTrack]
    plate: PlateInfo | None = None

    @property
    def names(self) -> list[str]:
        return [track.name for track in self.instances]

    def layer_names(self, cryptomatte_layer: str | None = CRYPTOMATTE_LAYER) -> dict[str, str]:
        """Instance name -> the EXR layer a job writes it to (with or without its Cryptomatte)."""
        return output_layer_names(self.names, cryptomatte_layer)

    def instance(self, name: str) -> InstanceTrack:
        for track in self.instances:
            if track.name == name:
                return track
        raise UnknownInstanceError([name], self.names)

    def keyframes_sorted(self, instance: str) -> list[Keyframe]:
        """The keyframes of the instance named `instance`, in frame order."""
        return list(self.instance(instance).keyframes.values())

    def keyframe_frames(self) -> list[int]:
        """Every frame that is a keyframe of some instance, sorted."""
        return sorted({frame for track in self.instances for frame in track.keyframes})

    def segments(self, first_frame: int | None = None, last_frame: int | None = None) -> list[Segment]:
        """The shot cut at the union of all instances' keyframes; see `segments.py` for the exact
        definition. The shot's range defaults to the file's plate; without one the first and last
        segments are open."""
        plate = self.plate or PlateInfo()
        first = first_frame if first_frame is not None else plate.first_frame
        last = last_frame if last_frame is not None else plate.last_frame
        return split_into_segments({track.name: list(track.keyframes) for track in self.instances}, first, last)

    def subset(self, instance_names: Iterable[str]) -> PromptSet:
        """The named instances only, kept in file order; an unknown name raises
        `UnknownInstanceError` listing it and the names there are."""
        wanted = set(instance_names)
        unknown = sorted(wanted - set(self.names))
        if unknown:
            raise UnknownInstanceError(unknown, self.names)
        return PromptSet([track for track in self.instances if track.name in wanted], self.plate)

"""The prompts being edited: instances, their keyframes, and the file they go to.

The state is a tuple of frozen `InstanceEntry` values; every edit replaces it with a new one.
That makes undo one rule for every kind of edit (`commands.StateChange` keeps the state before
and after), and lets the live preview find what an edit touched by identity (`changed_keyframes`)
instead of each tool reporting it. Unchanged keyframes and painted masks are shared between
states, so a long undo history costs one mask per brush stroke, not one per state.

Instances carry a stable `uid`: the preview, the overlays and the run's results are keyed by it,
so renaming an instance keeps its mattes. Names, classes and keyframes are what the prompt file
holds; colour is the editor's own and hidden instances are a view setting, outside undo.

`to_prompt_set` is the only way out to a file: it goes through the project's `PromptSet`, and
`save_prompts` checks it as any prompt file is checked.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from rmpsam_plugin.images.exr_output import write_exr
from rmpsam_plugin.images.geometry import Window
from rmpsam_plugin.images.layer_names import output_layer_names
from rmpsam_plugin.prompts import (
    InstanceTrack,
    Keyframe,
    PlateInfo,
    PromptSet,
    load_mask,
)

PALETTE = ((255, 90, 60), (60, 170, 255), (120, 230, 80), (250, 200, 40), (210, 90, 255), (40, 230, 210),
           (255, 120, 180), (160, 160, 255))
MASK_CHANNEL = "A"
# The job writes its Cryptomatte under this layer name and keeps instance layers off it.

_uids = itertools.count(1)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class KeyframeEdit:
    """One instance's prompts on one frame, in plate (display-window) pixels.

    `mask` is a painted mask (uint8 0/255 over the display window, read-only) or None; a mask
    that came from the loaded file and was never painted stays a reference (`mask_path`,
    `mask_channel`) so saving writes the same file name back."""

    positive: tuple[tuple[float, float], ...] = ()
    negative: tuple[tuple[float, float], ...] = ()
    boxes: tuple[tuple[float, float, float, float], ...] = ()
    mask: np.ndarray | None = None
    mask_path: Path | None = None
    mask_channel: str | None = None

    @property
    def is_empty(self) -> bool:
        painted = self.mask is not None and bool(self.mask.any())
        return not (self.positive or self.negative or self.boxes or painted or self.mask_path)

    def mask_matte(self) -> np.ndarray | None:
        """The mask as float32 0..1 over the display window (the file read when not painted)."""
        if self.mask is not None:
            return self.mask.astype(np.float32) / 255.0
        if self.mask_path is not None:
            return load_mask(Keyframe(0, mask_path=self.mask_path, mask_channel=self.mask_channel))
        return None

    @classmethod
    def from_keyframe(cls, keyframe: Keyframe) -> KeyframeEdit:
        return cls(tuple(map(tuple, keyframe.positive_clicks.tolist())), tuple(map(tuple, keyframe.negative_clicks.tolist())),
                   tuple(map(tuple, keyframe.boxes.tolist())), None, keyframe.mask_path, keyframe.mask_channel)


@dataclass(frozen=True)
class InstanceEntry:
    name: str
    class_name: str | None = None
    colour: tuple[int, int, int] = PALETTE[0]
    keyframes: Mapping[int, KeyframeEdit] = field(default_factory=dict)
    uid: int = field(default_factory=lambda: next(_uids))

    def with_keyframe(self, frame: int, keyframe: KeyframeEdit | None) -> InstanceEntry:
        """This instance with `frame`'s keyframe replaced; an empty or None one removes it."""
        keyframes = dict(self.keyframes)
        if keyframe is None or keyframe.is_empty:
            keyframes.pop(frame, None)
        else:
            keyframes[frame] = keyframe
        return replace(self, keyframes=dict(sorted(keyframes.items())))


State = tuple[InstanceEntry, ...]


def layer_names(state: State) -> dict[int, str]:
    """uid -> the EXR layer the job will write the instance to (the writer's own rule)."""
    mapping = output_layer_names([entry.name for entry in state])
    return {entry.uid: mapping[entry.name] for entry in state}


def changed_keyframes(before: State, after: State) -> set[tuple[int, int]]:
    """(uid, frame) of every keyframe that differs (by identity) between two states."""
    old = {entry.uid: entry.keyframes for entry in before}
    new = {entry.uid: entry.keyframes for entry in after}
    changed = set()
    for uid in old.keys() | new.keys():
        a, b = old.get(uid, {}), new.get(uid, {})
        changed |= {(uid, frame) for frame in a.keys() | b.keys() if a.get(frame) is not b.get(frame)}
    return changed


def state_from_prompt_set(prompt_set: PromptSet) -> State:
    return tuple(InstanceEntry(track.name, track.class_name, PALETTE[index % len(PALETTE)],
                               {frame: KeyframeEdit.from_keyframe(kf) for frame, kf in track.keyframes.items()})
                 for index, track in enumerate(prompt_set.instances))


def next_colour(state: State) -> tuple[int, int, int]:
    used = {entry.colour for entry in state}
    return next((colour for colour in PALETTE if colour not in used), PALETTE[len(state) % len(PALETTE)])


def unique_name(state: State, stem: str = "object") -> str:
    names = {entry.name for entry in state}
    return next(f"{stem}{n}" for n in itertools.count(1) if f"{stem}{n}" not in names)


def mask_file(prompt_path: Path, layer: str, frame: int) -> Path:
    """Where a painted mask is written: a folder named after the prompt file, one EXR per keyframe."""
    return prompt_path.parent / f"{prompt_path.stem}_masks" / f"{layer}.{frame:04d}.exr"


def write_mask(path: Path, mask: np.ndarray) -> None:
    """A painted mask as a one-channel half EXR over the display window (origin 0, 0)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    window = Window(0, 0, mask.shape[1], mask.shape[0])
    write_exr(path, {MASK_CHANNEL: (mask.astype(np.float32) / 255.0, "half")}, data_window=window,
              display_window=window, pixel_aspect=1.0, compression="zip", metadata={})


def to_prompt_set(state: State, plate: PlateInfo | None, prompt_path: Path) -> PromptSet:
    """The state as the project's `PromptSet`, painted masks written beside `prompt_path` first
    (mask files hold no prompts, so writing them before a save that then fails loses nothing)."""
    layers = layer_names(state)
    tracks = []
    for entry in state:
        keyframes = {}
        for frame, edit in entry.keyframes.items():
            mask_path, channel = edit.mask_path, edit.mask_channel
            if edit.mask is not None:
                mask_path, channel = mask_file(prompt_path, layers[entry.uid], frame), MASK_CHANNEL
                write_mask(mask_path, edit.mask)
            keyframes[frame] = Keyframe(frame, np.array(edit.positive).reshape(-1, 2), np.array(edit.negative).reshape(-1, 2),
                                        np.array(edit.boxes).reshape(-1, 4), mask_path.absolute() if mask_path else None, channel)
        tracks.append(InstanceTrack(entry.name, entry.class_name, keyframes))
    return PromptSet(tracks, plate)


def painted(edit: KeyframeEdit | None, shape: tuple[int, int]) -> np.ndarray:
    """A writable copy of the keyframe's mask as uint8 (zeros when it has none), to paint into."""
    if edit is not None and edit.mask is not None:
        return edit.mask.copy()
    matte = edit.mask_matte() if edit is not None else None
    if matte is None:
        return np.zeros(shape, np.uint8)
    return np.round(np.clip(matte, 0, 1) * 255).astype(np.uint8)


def with_mask(edit: KeyframeEdit | None, mask: np.ndarray) -> KeyframeEdit:
    base = edit or KeyframeEdit()
    return replace(base, mask=_frozen(mask), mask_path=None, mask_channel=None)


def add_points(edit: KeyframeEdit | None, *, positive: Iterable = (), negative: Iterable = (),
               boxes: Iterable = ()) -> KeyframeEdit:
    base = edit or KeyframeEdit()
    return replace(base, positive=base.positive + tuple(positive), negative=base.negative + tuple(negative),
                   boxes=base.boxes + tuple(boxes))

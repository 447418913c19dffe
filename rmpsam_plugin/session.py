"""A video session for scripts and tools: prompts in display-window pixels, mattes out, in memory.

Shaped like SAM 2's video predictor: open a shot (a plate pattern, or frames held in memory),
put prompts on frames (each call answers with that frame's matte), then `propagate` every
instance through the shot, or `write` the mattes as the job would. The recipe is the job's own
(`mattes.shot_mattes.ShotMattes`: keyframe decode, tracker, blend, temporal stabiliser, edge
refinement), so a script and `rmpsam-matte run` give the same mattes for the same prompts.

Everything is in display-window pixels, origin top-left, y down, as in prompt files: clicks are
(x, y), boxes (x1, y1, x2, y2), a mask a (height, width) array over the display window, and the
mattes come back the same size. One lock guards the network, so a UI may call from a worker
thread while another thread asks `has_cached_features`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from rmpsam_model.loading import LoadedModel
from rmpsam_model.preprocess import InferenceSize
from rmpsam_plugin.errors import InputError
from rmpsam_plugin.images.geometry import PlateGeometry, Window
from rmpsam_plugin.images.layer_names import CRYPTOMATTE_LAYER
from rmpsam_plugin.images.reader import Layer, Plate, PlateHeader, read_plate
from rmpsam_plugin.images.sequences import find_sequence, inspect_sequence
from rmpsam_plugin.job.precision import DEFAULT_PRECISION, check_precision, model_in_precision
from rmpsam_plugin.job.settings import RunSettings
from rmpsam_plugin.mattes.overlaps import DEFAULT_OVERLAP, OVERLAPS
from rmpsam_plugin.mattes.plate_source import KeptPlate, PlateSource
from rmpsam_plugin.mattes.shot_mattes import ShotMattes, network_predictor
from rmpsam_plugin.mattes.writer import MatteWriter, OutputFormat, Provenance
from rmpsam_plugin.prompts import (
    InstanceTrack,
    Keyframe,
    PlateInfo,
    PromptFileError,
    PromptSet,
    prompts_digest,
)
from rmpsam_plugin.prompts.dict_form import from_dict, to_dict
from rmpsam_plugin.propagation.trackers import DEFAULT_TRACKER

RECENT_PLATES = 2
"""Keyframes whose plates a session keeps between edits (a 2K plate and its RGB: about 60 MB)."""


class PromptError(InputError):
    """Prompts that cannot be used on this shot (frame outside it, a click off the plate, a bad name)."""


@dataclass(frozen=True)
class _Shot:
    """Where a session's frames come from: `read(frame)` gives the plate, `header` describes them."""

    read: Callable[[int], Plate]
    header: PlateHeader
    frames: range
    colour_space: str | None
    pattern: str | None  # the plate pattern, when the frames are files
    layer: str = "rgba"  # the plate's layer read (frames held in memory are their own "rgba")


class VideoSession:
    """One shot, one network, the prompts put on it so far (module docstring)."""

    def __init__(self, shot: _Shot, model: LoadedModel | None = None, *, device: str = "cpu",
                 size: int | None = None, tracker: str = DEFAULT_TRACKER, blend: str = "linear",
                 temporal: bool = True, refine_edges: bool = True, overlap: str = DEFAULT_OVERLAP,
                 feature_cache_gib: float = 4.0, precision: str = DEFAULT_PRECISION) -> None:
        """Use `VideoSession.open` or `VideoSession.from_arrays`; `model` from `load_model()`
        (default: the configured weights, else the shipped model). The options are `run`'s.

        `precision="int8"`: the backbone quantised, run by ONNX Runtime on the CPU (`run
        --precision`; the `int8` extra; not with a CUDA `device`); `"int8-bf16"` also bfloat16
        products, on CPUs with bfloat16 units. A `model` given must already be in that precision
        (`with_precision(load_model(), "int8")`, which sessions can share)."""
        if overlap not in OVERLAPS:
            raise InputError(f"overlap must be one of {', '.join(OVERLAPS)}, not {overlap!r}")
        check_precision(precision, device)
        self.model = model_in_precision(model, precision)
        self.precision = precision
        self._shot = shot
        self._size = size
        self._options = {"tracker": tracker, "blend": blend, "temporal": temporal, "refine_edges": refine_edges,
                         "overlap": overlap}
        inference = InferenceSize(size, size) if size else self.model.inference_size
        self._predictor = network_predictor(self.model.model, inference, device, feature_cache_gib)
        display = shot.header.display_window
        self.geometry = PlateGeometry.for_plate(display, shot.header.pixel_aspect, self._predictor.size)
        self._plates = PlateSource(shot.read, (shot.frames[0], shot.frames[-1]), shot.colour_space, self.geometry,
                                   overlap_reads=False)
        self._plate_info = PlateInfo(first_frame=shot.frames[0], last_frame=shot.frames[-1], width=display.width,
                                     height=display.height, pixel_aspect=shot.header.pixel_aspect, pattern=shot.pattern)
        self._prompts = PromptSet([], self._plate_info)
        self._masks: dict[tuple[str, int], np.ndarray] = {}
        self._recent_plates: OrderedDict[int, KeptPlate] = OrderedDict()
        self._lock = threading.RLock()

    # ---- opening -----------------------------------------------------------------------------
    @classmethod
    def open(cls, plate: str | Path, *, layer: str = "rgba", colour_space: str | None = None,
             frames: tuple[int, int] | None = None, model: LoadedModel | None = None, allow_gaps: bool = False,
             **options) -> VideoSession:
        """A plate sequence, written as `run` takes it (`shot.####.exr`, `%04d`, `$F4`...).
        Every frame's header is checked now: a missing frame or layer is an `InputError` naming it.

        `allow_gaps`: frames absent on disk (a render still filling in) are allowed, for a tool
        that prompts the frames it has, as the editor does; a prompt, propagation or write that
        needs an absent frame raises an `InputError` naming it then."""
        sequence = find_sequence(plate)
        first, last = frames or (sequence.first, sequence.last)
        report = inspect_sequence(sequence, layer, read_pixels=False, allow_gaps=allow_gaps)
        problems = [p for p in report.problems if p.frame is None or first <= p.frame <= last]
        if problems:
            raise problems[0]
        if not (sequence.first <= first <= last <= sequence.last):
            raise InputError(f"frames {first}-{last} reach outside the sequence's frames {sequence.first}-{sequence.last}")
        present = [frame for frame in range(first, last + 1) if frame in report.headers]
        if not present:
            raise InputError(f"no frame of {first}-{last} of {sequence.pattern} exists on disk")

        def read(frame: int) -> Plate:
            if frame not in report.headers:
                raise InputError(f"frame {frame} is missing: {sequence.path(frame)}")
            return read_plate(sequence.path(frame), layer, frame=frame)

        shot = _Shot(read, report.headers[present[0]], range(first, last + 1), colour_space, sequence.pattern, layer)
        return cls(shot, model, **options)

    @classmethod
    def from_arrays(cls, images: Sequence[np.ndarray] | np.ndarray, *, first_frame: int = 1,
                    colour_space: str | None = None, pixel_aspect: float = 1.0,
                    model: LoadedModel | None = None, **options) -> VideoSession:
        """Frames held in memory: (height, width, 3 or 4) arrays, one per frame from `first_frame`.

        As with files, float pixels are taken as scene-linear Rec.709 and integer pixels
        (uint8, uint16) as sRGB-encoded, unless `colour_space` names another (OpenColorIO's
        built-in configuration)."""
        frames = [np.asarray(image) for image in images]
        if not frames:
            raise InputError("no frames given")
        shape = frames[0].shape
        for index, image in enumerate(frames):
            if image.ndim != 3 or image.shape[2] not in (3, 4) or image.shape != shape:
                raise InputError(f"frame {first_frame + index}: shape {image.shape}; every frame must be "
                                 f"(height, width, 3 or 4) like the first, {shape}")
        height, width, channels = shape
        kind = frames[0].dtype
        scale = float(np.iinfo(kind).max) if np.issubdtype(kind, np.integer) else 1.0
        pixel_type = kind.name if np.issubdtype(kind, np.integer) else "float"
        components = ("R", "G", "B", "A")[:channels]
        layer = Layer("rgba", 0, tuple(range(channels)), components, components, (pixel_type,) * channels)
        window = Window(0, 0, width, height)
        header = PlateHeader(path=Path("<memory>"), format_name="memory", display_window=window, data_window=window,
                             pixel_aspect=float(pixel_aspect), pixel_types=(pixel_type,) * channels, compression=None,
                             tile_size=None, subimage_names=(None,), layers={"rgba": layer}, colour_space=None,
                             attributes={})

        def read(frame: int) -> Plate:
            pixels = frames[frame - first_frame].astype(np.float32) / np.float32(scale)
            return Plate(header, frame, layer, pixels, window, window, window, 0)

        shot = _Shot(read, header, range(first_frame, first_frame + len(frames)), colour_space, None)
        return cls(shot, model, **options)

    # ---- what the session holds ----------------------------------------------------------------
    @property
    def frames(self) -> range:
        return self._shot.frames

    @property
    def instances(self) -> list[str]:
        return self._prompts.names

    @property
    def result_settings(self) -> dict[str, object]:
        """The settings that change this session's mattes, as `rmpsam-matte run` records them
        (`RunSettings.result_key()`): size, layer, colour space, tracker, blend, edge refinement,
        temporal stabiliser, overlap, precision and the negative-click rule. `write` stores them,
        as compact JSON with sorted keys, in every frame's `rmpsam/settings` header, exactly as
        the job does: a `run` over the same plate, prompts and weights with the same options finds
        the frames already written and leaves them (and a rerun with other options rewrites them).

        `size` is the `size` given (None: the weights' own), as `run --size`; `colour_space` the one
        given (None: from the files), as `run --colour-space`. Frames held in memory
        (`from_arrays`) have no plate a job could read: their `layer` is recorded as "rgba", the
        one layer such a session has. What does not change mattes (device, feature cache,
        threads) is not recorded, as in a job."""
        return self._run_settings().result_key()

    def _run_settings(self) -> RunSettings:
        """This session's options as the job's settings, for `result_settings` and `write`."""
        return RunSettings(
            plate=self._shot.pattern or "<memory>", prompts=None, output="", size=self._size, layer=self._shot.layer,
            colour_space=self._shot.colour_space, tracker=self._options["tracker"], blend=self._options["blend"],
            refine_edges=self._options["refine_edges"], temporal=self._options["temporal"],
            overlap=self._options["overlap"], precision=self.precision,
        )

    @property
    def prompts(self) -> PromptSet:
        """The prompts so far, as a prompt file holds them (`rmpsam_plugin.prompts.save_prompts`)."""
        return self._prompts

    def has_cached_features(self, frame: int) -> bool:
        """Whether a prompt on `frame` skips the backbone (its features are in memory)."""
        return self._predictor.has_frame(frame)

    # ---- prompts -----------------------------------------------------------------------------
    def set_prompts(self, frame: int, instance: str, *, clicks: Sequence = (), negative: Sequence = (),
                    boxes: Sequence = (), mask: np.ndarray | None = None) -> np.ndarray:
        """Make `frame` a keyframe of `instance` with exactly these prompts (replacing any there)
        and return the instance's matte on it: the keyframe's matte exactly as `write` stores it.
        With `overlap="exclusive"` it is the instance's matte before the sharing: the instances it
        would share pixels with are carried to this frame only by `propagate`/`write`, which an
        edit does not wait for (they give the shared mattes)."""
        with self._lock:
            keyframe = Keyframe(frame, positive_clicks=np.asarray(clicks, np.float64).reshape(-1, 2),
                                negative_clicks=np.asarray(negative, np.float64).reshape(-1, 2),
                                boxes=np.asarray(boxes, np.float64).reshape(-1, 4))
            if mask is not None:
                mask = self._checked_mask(mask, frame, instance)
            self._prompts = self._with_keyframe(instance, keyframe, has_mask=mask is not None)
            self._masks.pop((instance, frame), None)
            if mask is not None:
                self._masks[(instance, frame)] = mask
            return self._keyframe_matte(frame, instance)

    def add_prompts(self, frame: int, instance: str, *, clicks: Sequence = (), negative: Sequence = (),
                    boxes: Sequence = (), mask: np.ndarray | None = None) -> np.ndarray:
        """Add prompts to those already on `frame` for `instance` (a new mask replaces the old one)."""
        with self._lock:
            old = self._existing(instance, frame)
            if old is None:
                return self.set_prompts(frame, instance, clicks=clicks, negative=negative, boxes=boxes, mask=mask)
            return self.set_prompts(
                frame, instance,
                clicks=np.concatenate([old.positive_clicks, np.asarray(clicks, np.float64).reshape(-1, 2)]),
                negative=np.concatenate([old.negative_clicks, np.asarray(negative, np.float64).reshape(-1, 2)]),
                boxes=np.concatenate([old.boxes, np.asarray(boxes, np.float64).reshape(-1, 4)]),
                mask=mask if mask is not None else self._masks.get((instance, frame)))

    def remove_prompts(self, frame: int, instance: str) -> None:
        """`frame` is no longer a keyframe of `instance` (an instance left with none is removed)."""
        with self._lock:
            tracks = []
            for track in self._prompts.instances:
                keyframes = {f: k for f, k in track.keyframes.items() if not (track.name == instance and f == frame)}
                if keyframes:
                    tracks.append(replace(track, keyframes=keyframes))
            self._prompts = PromptSet(tracks, self._plate_info)
            self._masks.pop((instance, frame), None)

    def remove_instance(self, instance: str) -> None:
        with self._lock:
            self._prompts = PromptSet([t for t in self._prompts.instances if t.name != instance], self._plate_info)
            self._masks = {key: mask for key, mask in self._masks.items() if key[0] != instance}

    # ---- the shot ------------------------------------------------------------------------------
    def propagate(self, reverse: bool = False) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """Every frame's mattes, `(frame, {instance: matte})`, yielded as each keyframe segment is
        done: first frame to last, or last to first with `reverse=True`. Same mattes either way
        (every instance is carried both ways from its keyframes and blended, as `run` does)."""
        with self._lock:
            if not self._prompts.instances:
                raise PromptError("no prompts yet: call set_prompts on a keyframe first")
            mattes = self._shot_mattes()
            segments = mattes.segments()
            for first, last in reversed(segments) if reverse else segments:
                frames = list(range(first, last + 1))
                logits = mattes.segment_logits((first, last), frames)
                for frame in reversed(frames) if reverse else frames:
                    yield frame, mattes.frame_mattes(frame, logits)[1]

    def write(self, output: str | Path, *, cryptomatte: bool = True, compression: str = "zip",
              pixel_type: str = "half", passthrough: bool = False,
              on_frame: Callable[[int, Path], None] | None = None) -> list[Path]:
        """Write every frame's mattes as `run` does (one EXR per frame, a layer per instance, a
        Cryptomatte) and return the paths. `on_frame(frame, path)` is called as each lands.

        Every frame's header records what made it, as a job's does: the weights' digest, the
        prompts' digest (a mask given in memory counts by its pixels, as a mask file does) and
        `result_settings` (`rmpsam/settings`). So `rmpsam-matte run` over the same output with
        the same plate, prompt file, weights and options skips these frames as already written
        (its resume and the farm's check task), and any other run rewrites them. "The same prompt
        file" means the same prompts digest: a session's instances have no class (a file whose
        instances name one differs), and a mask given in memory matches a file's mask whose
        `load_mask` gives the same float32 matte."""
        with self._lock:
            provenance = Provenance(weights_digest=self.model.digest,
                                    prompts_digest=prompts_digest(self._prompts, masks=self._masks),
                                    settings=self._run_settings().result_header())
            writer = MatteWriter(output, self._prompts.names, provenance,
                                 output_format=OutputFormat(pixel_type, compression),
                                 cryptomatte_layer=CRYPTOMATTE_LAYER if cryptomatte else None,
                                 passthrough_layer="rgba" if passthrough else None)
            mattes = self._shot_mattes()
            written = []
            for first, last in mattes.segments():
                frames = list(range(first, last + 1))
                logits = mattes.segment_logits((first, last), frames)
                for frame in frames:
                    plate, planes = mattes.frame_mattes(frame, logits)
                    written.append(writer.write(frame, planes, self.geometry.frame_window, plate))
                    if on_frame:
                        on_frame(frame, written[-1])
            return written

    def close(self) -> None:
        """Let go of the reader threads (the session is unusable afterwards)."""
        self._plates.close()

    def __enter__(self) -> VideoSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- inside ------------------------------------------------------------------------------
    def _shot_mattes(self) -> ShotMattes:
        return ShotMattes(self._predictor, self._plates, self.geometry, self._prompts,
                          (self.frames[0], self.frames[-1]), masks=self._masks, **self._options)

    def _keyframe_matte(self, frame: int, instance: str) -> np.ndarray:
        """The keyframe's decode, finished at full resolution: what `write` stores on that frame."""
        single = PromptSet([self._prompts.instance(instance)], self._plate_info)
        mattes = ShotMattes(self._predictor, self._plates, self.geometry, single, (self.frames[0], self.frames[-1]),
                            masks=self._masks, **{**self._options, "temporal": False})
        logits = mattes.engine.run(frame, frame)
        return mattes.frame_mattes(frame, logits, self._kept_plate(frame))[1][instance]

    def _kept_plate(self, frame: int) -> KeptPlate:
        """The frame's plate and linear RGB, kept for the next edit on the same keyframe: an artist
        clicks on one frame many times, and reading and converting a 2K plate costs as much as
        the decode itself (`python -m rmpsam_plugin.editor.bench` measures an edit end to end)."""
        kept = self._recent_plates.pop(frame, None)
        if kept is None:
            plate = self._plates.read(frame)
            kept = KeptPlate(plate, self._plates.linear_rgb(plate))
        self._recent_plates[frame] = kept
        while len(self._recent_plates) > RECENT_PLATES:
            self._recent_plates.popitem(last=False)
        return kept

    def _existing(self, instance: str, frame: int) -> Keyframe | None:
        for track in self._prompts.instances:
            if track.name == instance:
                return track.keyframes.get(frame)
        return None

    def _with_keyframe(self, instance: str, keyframe: Keyframe, has_mask: bool) -> PromptSet:
        """The prompts with `keyframe` set on `instance`, checked as a prompt file is (names,
        frames and coordinates against this shot), every problem in one `PromptError`."""
        tracks = list(self._prompts.instances)
        names = [track.name for track in tracks]
        if instance in names:
            track = tracks[names.index(instance)]
            tracks[names.index(instance)] = replace(track, keyframes={**track.keyframes, keyframe.frame: keyframe})
        else:
            tracks.append(InstanceTrack(instance, None, {keyframe.frame: keyframe}))
        candidate = PromptSet(tracks, self._plate_info)
        masked = set(self._masks) | ({(instance, keyframe.frame)} if has_mask else set())
        try:
            from_dict(_mask_free_document(candidate, masked), plate=self._plate_info)
        except PromptFileError as error:
            raise PromptError(str(error)) from None
        return candidate

    def _checked_mask(self, mask: np.ndarray, frame: int, instance: str) -> np.ndarray:
        display = self._shot.header.display_window
        mask = np.asarray(mask, np.float32)
        if mask.shape != (display.height, display.width):
            raise PromptError(f"mask of {instance!r} on frame {frame}: shape {mask.shape}, the display window is "
                              f"{display.height}x{display.width} (height, width)")
        return np.clip(np.nan_to_num(mask, nan=0.0), 0.0, 1.0)


def _mask_free_document(prompts: PromptSet, masked: set[tuple[str, int]]) -> dict:
    """`to_dict(prompts)` ready for `from_dict`'s checks when some masks are held in memory, not
    in files: a keyframe prompted by such a mask alone gets a placeholder click (a mask alone is
    a valid keyframe, but the checks only know masks as files)."""
    document = to_dict(prompts)
    for name, frame in masked:
        value = document.get(name)
        if value is None:
            continue
        frames = value["keyframes"] if "keyframes" in value else value
        entry = frames.get(frame)
        if entry is not None and not (entry.get("positive_clicks") or entry.get("boxes")):
            entry["positive_clicks"] = [[0.5, 0.5]]
    return document

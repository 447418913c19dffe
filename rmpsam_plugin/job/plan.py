"""Check everything a run needs before doing any work; a `--dry-run` stops here.

Every problem found here is an `InputError`/`OutputError` naming the file, frame, instance or
field, so a farm job fails in seconds with a one-line reason instead of hours in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rmpsam_plugin.errors import InputError, OutputError, SequenceError
from rmpsam_plugin.images.geometry import Window
from rmpsam_plugin.images.reader import PlateHeader
from rmpsam_plugin.images.sequences import Sequence, find_sequence, inspect_sequence
from rmpsam_plugin.job.output_safety import refuse_outputs_over_inputs
from rmpsam_plugin.job.precision import check_precision
from rmpsam_plugin.job.settings import RunSettings
from rmpsam_plugin.mattes.overlaps import OVERLAPS
from rmpsam_plugin.mattes.writer import output_template
from rmpsam_plugin.prompts import (
    PlateInfo,
    PromptFileError,
    PromptSet,
    UnknownInstanceError,
    load_prompts,
)


class PromptsInputError(InputError):
    """The prompt file has problems; the message lists every one."""


@dataclass
class JobPlan:
    settings: RunSettings
    sequence: Sequence
    header: PlateHeader  # of the first frame: windows, pixel aspect, layers
    prompts: PromptSet
    shot_range: tuple[int, int]  # frames propagation may use
    write_range: tuple[int, int]  # frames this run writes
    output_dir: Path

    @property
    def display_window(self) -> Window:
        return self.header.display_window

    def summary(self) -> dict[str, object]:
        first, last = self.write_range
        return {
            "plate": self.sequence.pattern,
            "frames": [first, last],
            "frame_count": last - first + 1,
            "shot_range": list(self.shot_range),
            "resolution": [self.display_window.width, self.display_window.height],
            "pixel_aspect": self.header.pixel_aspect,
            "instances": self.prompts.names,
            "keyframes": {track.name: list(track.keyframes) for track in self.prompts.instances},
            "segments": [[s.first_frame, s.last_frame] for s in self.prompts.segments(*self.shot_range)],
            "output": self.settings.output,
            "auto_classes": list(self.settings.auto_classes or []),
        }


def plan_job(settings: RunSettings) -> JobPlan:
    if settings.overlap not in OVERLAPS:  # the CLI offers only these; a script may pass anything
        raise InputError(f"overlap must be one of {', '.join(OVERLAPS)}, not {settings.overlap!r}")
    check_precision(settings.precision, settings.device)
    sequence = find_sequence(settings.plate)
    shot_range = _shot_range(settings, sequence)
    report = inspect_sequence(sequence, settings.layer, read_pixels=False)
    problems = [p for p in report.problems if p.frame is None or shot_range[0] <= p.frame <= shot_range[1]]
    if problems:
        raise problems[0]
    header = report.headers[shot_range[0]]
    prompts = _load_prompts(settings, header, shot_range)
    write_range = settings.segment or shot_range
    if not (shot_range[0] <= write_range[0] <= write_range[1] <= shot_range[1]):
        raise InputError(f"--segment {write_range[0]}-{write_range[1]} lies outside frames {shot_range[0]}-{shot_range[1]}")
    _refuse_output_over_inputs(settings, sequence, prompts, write_range)
    output_dir = _writable_output_dir(settings.output)
    return JobPlan(settings, sequence, header, prompts, shot_range, write_range, output_dir)


def _refuse_output_over_inputs(settings: RunSettings, sequence: Sequence, prompts: PromptSet,
                               write_range: tuple[int, int]) -> None:
    """Checked before the output folder is even created: nothing may be written over an input."""
    template = output_template(settings.output)
    outputs = [(frame, Path(template.frame(frame))) for frame in range(write_range[0], write_range[1] + 1)]
    inputs = [(f"plate frame {frame}", sequence.path(frame)) for frame in sequence.present]
    inputs += [(f"mask of {track.name!r} on frame {frame}", keyframe.mask_path)
               for track in prompts.instances for frame, keyframe in track.keyframes.items()
               if keyframe.mask_path is not None]
    if settings.prompts is not None:
        inputs.append(("prompt file", Path(settings.prompts)))
    refuse_outputs_over_inputs(outputs, inputs)


def _shot_range(settings: RunSettings, sequence: Sequence) -> tuple[int, int]:
    if settings.frames is None:
        return sequence.first, sequence.last
    first, last = settings.frames
    if first > last:
        raise InputError(f"--frames {first}-{last}: the first frame comes after the last")
    if first < sequence.first or last > sequence.last:
        raise SequenceError(f"--frames {first}-{last} reaches outside the sequence's frames {sequence.first}-{sequence.last}")
    return first, last


def plan_info_for(plan: JobPlan) -> PlateInfo:
    return plate_info(plan.header, plan.shot_range)


def plate_info(header: PlateHeader, shot_range: tuple[int, int]) -> PlateInfo:
    """The plate as prompt files describe it: frame range, display-window size, pixel aspect."""
    display = header.display_window
    return PlateInfo(first_frame=shot_range[0], last_frame=shot_range[1], width=display.width,
                     height=display.height, pixel_aspect=header.pixel_aspect)


def _load_prompts(settings: RunSettings, header: PlateHeader, shot_range: tuple[int, int]) -> PromptSet:
    plate = plate_info(header, shot_range)
    if settings.prompts is None:
        if not settings.auto_classes:
            raise PromptsInputError("no prompts: give --prompts FILE, or --auto with --classes")
        return PromptSet([], plate)  # prompt-free mode: instances are found by `job.auto`
    try:
        prompts = load_prompts(settings.prompts, plate)
        if settings.instances:
            prompts = prompts.subset(settings.instances)
    except PromptFileError as error:
        raise PromptsInputError(str(error), path=settings.prompts) from None
    except UnknownInstanceError as error:
        raise PromptsInputError(f"{settings.prompts}: {error}", path=settings.prompts) from None
    if not prompts.instances:
        raise PromptsInputError(f"{settings.prompts} names no instance to matte", path=settings.prompts)
    return prompts


def _writable_output_dir(pattern: str) -> Path:
    directory = Path(pattern).expanduser().resolve().parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create output directory {directory}: {error.strerror}", path=directory) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"output directory {directory} is not writable", path=directory)
    return directory

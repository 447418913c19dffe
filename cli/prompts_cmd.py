"""`rmpsam-matte prompts`: check a prompt file before a job, and rewrite one in canonical form.

`validate` lists every problem at once (instance, keyframe, field), exit code 3, so an artist
fixes the file in one go; `--json` gives the Nuke bridge and the editor the same list to show
next to the knobs. The plate to check against comes from the sequence itself (`--sequence`, its
first frame's display window and its frame range), or is given by hand (`--frames`, `--size`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NoReturn

import click

from rmpsam_cli.exit_codes import BAD_INPUT, OUTPUT_ERROR
from rmpsam_plugin.errors import InputError
from rmpsam_plugin.images.reader import read_header
from rmpsam_plugin.images.sequences import find_sequence
from rmpsam_plugin.printable import printable
from rmpsam_plugin.prompts import (
    PlateInfo,
    PromptFileError,
    PromptSet,
    Segment,
    load_prompts,
    prompts_digest,
    save_prompts,
)


@click.group()
def prompts() -> None:
    """Check and normalise prompt files (shot.prompts.json)."""


@prompts.command()
@click.argument("prompts_file", metavar="PROMPTS", type=click.Path(path_type=Path))
@click.option("--sequence", help="Plate sequence to check against (shot.####.exr...): its frame range and size.")
@click.option("--frames", help="Frame range to check keyframes against, e.g. 1001-1100.")
@click.option("--size", help="Display-window size to check coordinates against, e.g. 2048x1080.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (problems included) on stdout.")
def validate(prompts_file: Path, sequence: str | None, frames: str | None, size: str | None, as_json: bool) -> None:
    """Check PROMPTS: schema, then the prompts against the plate; list every problem (exit 3).

    Without --sequence, --frames or --size, the file's own `plate` block (if any) is used.
    """
    if sequence is not None and (frames is not None or size is not None):
        raise click.UsageError("--sequence gives the frame range and size; do not combine it with --frames/--size")
    plate = _plate_from_sequence(sequence) if sequence is not None else _plate_from_options(frames, size)
    try:
        prompt_set = load_prompts(prompts_file, plate)
    except PromptFileError as error:
        if as_json:
            report = {"ok": False, "file": str(prompts_file), "issues": [issue.to_json() for issue in error.issues]}
            click.echo(json.dumps(report, indent=2, ensure_ascii=False))
            raise SystemExit(BAD_INPUT) from None
        _fail(str(error), BAD_INPUT)
    first, last = plate.first_frame if plate else None, plate.last_frame if plate else None
    summary = _summary(prompts_file, prompt_set, prompt_set.segments(first, last))
    click.echo(json.dumps(summary, indent=2, ensure_ascii=False) if as_json else _text(summary))


@prompts.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
def convert(src: Path, dst: Path) -> None:
    """Rewrite SRC as DST in canonical form: fixed key order, keyframes sorted by frame, mask
    paths relative to DST's folder. DST may be SRC. Future schema versions will upgrade here."""
    try:
        save_prompts(load_prompts(src), dst)
    except PromptFileError as error:
        _fail(str(error), BAD_INPUT)
    except OSError as error:
        _fail(f"{dst}: cannot be written ({error.strerror})", OUTPUT_ERROR)
    click.echo(f"wrote {dst}")


def _plate_from_sequence(spec: str) -> PlateInfo:
    """Frame range from the frames asked for; size and pixel aspect from the first present frame."""
    try:
        found = find_sequence(spec)
        if not found.present:
            _fail(f"no frames of {spec} exist on disk", BAD_INPUT)
        header = read_header(found.path(found.present[0]), found.present[0])
    except InputError as error:
        _fail(str(error), BAD_INPUT)
    window = header.display_window
    return PlateInfo(found.first, found.last, window.width, window.height, header.pixel_aspect, found.pattern)


def _plate_from_options(frames: str | None, size: str | None) -> PlateInfo | None:
    if frames is None and size is None:
        return None
    first = last = width = height = None
    if frames is not None:
        match = re.fullmatch(r"\s*(-?\d+)\s*-\s*(-?\d+)\s*", frames)
        if not match or int(match[1]) > int(match[2]):
            raise click.BadParameter(f"{frames!r}: expected FIRST-LAST, e.g. 1001-1100", param_hint="--frames")
        first, last = int(match[1]), int(match[2])
    if size is not None:
        match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", size)
        if not match or int(match[1]) == 0 or int(match[2]) == 0:
            raise click.BadParameter(f"{size!r}: expected WIDTHxHEIGHT, e.g. 2048x1080", param_hint="--size")
        width, height = int(match[1]), int(match[2])
    return PlateInfo(first, last, width, height)


def _summary(path: Path, prompt_set: PromptSet, segments: list[Segment]) -> dict:
    return {
        "ok": True,
        "file": str(path),
        "instances": [
            {
                "name": track.name,
                "class": track.class_name,
                "layer": prompt_set.layer_names()[track.name],
                "keyframes": list(track.keyframes),
            }
            for track in prompt_set.instances
        ],
        "keyframe_count": sum(len(track.keyframes) for track in prompt_set.instances),
        "segments": [
            {"first_frame": segment.first_frame, "last_frame": segment.last_frame,
             "brackets": {name: list(bracket) for name, bracket in segment.brackets.items()}}
            for segment in segments
        ],
        "digest": prompts_digest(prompt_set),
    }


def _text(summary: dict) -> str:
    instances, segments = summary["instances"], summary["segments"]
    lines = [
        f"OK {printable(summary['file'])}: {_count(len(instances), 'instance')}, "
        f"{_count(summary['keyframe_count'], 'keyframe')}, {_count(len(segments), 'segment')}"
    ]
    for track in instances:
        kind = f" ({printable(track['class'])})" if track["class"] else ""
        frames = ", ".join(str(frame) for frame in track["keyframes"])
        lines.append(f"  {printable(track['name'])}{kind} -> layer {track['layer']}: keyframes {frames}")
    spans = ", ".join(f"{_bound(s['first_frame'])}-{_bound(s['last_frame'])}" for s in segments)
    lines.append(f"  segments: {spans}")
    lines.append(f"  digest: {summary['digest']}")
    return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"


def _bound(frame: int | None) -> str:
    return "..." if frame is None else str(frame)


def _fail(problem: str, exit_code: int) -> NoReturn:
    click.echo(f"rmpsam-matte prompts: {problem}", err=True)
    raise SystemExit(exit_code)

"""`rmpsam-matte info`: what a plate sequence holds, and whether a job could run on it.

Every frame is opened (and, unless `--headers-only`, its layer decoded) so the answer to "will this
run?" is the same one `run` would reach, without the hours of inference before the bad frame.
Problems are one line on stderr naming the frame and file, exit code 3; never a traceback.
"""

from __future__ import annotations

import json
from typing import NoReturn

import click

from rmpsam_cli.exit_codes import BAD_INPUT
from rmpsam_plugin import cryptomatte
from rmpsam_plugin.errors import InputError
from rmpsam_plugin.images.colour import default_colour_space
from rmpsam_plugin.images.geometry import Window
from rmpsam_plugin.images.reader import DEFAULT_LAYER, PlateHeader, read_header
from rmpsam_plugin.images.sequences import (
    Sequence,
    SequenceReport,
    find_sequence,
    inspect_sequence,
)


@click.command("info")
@click.argument("sequence")
@click.option("--layer", help="Layer the job would read: 'rgba' (default), or a name such as 'beauty'. "
                                "On rmpsam-matte output the default is its instance layers.")
@click.option("--allow-gaps", is_flag=True, help="Report missing frames instead of failing on them.")
@click.option("--headers-only", is_flag=True,
              help="Read headers only: faster, but a truncated frame goes unnoticed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def info(sequence: str, layer: str | None, allow_gaps: bool, headers_only: bool, as_json: bool) -> None:
    """Frames, gaps, windows, pixel aspect, compression, layers and Cryptomattes of SEQUENCE.

    SEQUENCE is a pattern (shot.####.exr, shot.%04d.exr, shot.$F4.exr, shot.@.exr), an explicit
    range (shot.1001-1100#.exr), a directory holding one sequence, or one numbered file. On the
    tool's own output it also lists the instance layers and the provenance (rmpsam/* attributes).
    """
    try:
        found = find_sequence(sequence)
        instance_layers = _instance_layers(found) if layer is None else {}
        # Our output has no rgba (unless written with --passthrough): every frame is checked for its
        # first instance layer instead, and the farm check (`farm check`) looks at all of them.
        checked = layer or next(iter(instance_layers.values()), DEFAULT_LAYER)
        report = inspect_sequence(found, checked, allow_gaps=allow_gaps, read_pixels=not headers_only)
    except InputError as error:
        _fail(str(error))
    if report.problems:
        more = len(report.problems) - 1
        _fail(_with_frame(report.problems[0]) + (f" (and {more} more problem{'s' * (more > 1)})" if more else ""))
    try:
        summary = _summary(report)
    except InputError as error:
        _fail(str(error))
    click.echo(json.dumps(summary, indent=2, ensure_ascii=False) if as_json else _text(summary))


def _fail(problem: str) -> NoReturn:
    """One line on stderr, the first problem only: the frame to fix first is what a wrangler needs."""
    click.echo(f"rmpsam-matte info: {problem}", err=True)
    raise SystemExit(BAD_INPUT)


def _with_frame(problem: InputError) -> str:
    """The problem's text, led by its frame number unless the text already names the frame."""
    message = str(problem)
    if problem.frame is None or f"frame {problem.frame}" in message:
        return message
    return f"frame {problem.frame}: {message}"


def _instance_layers(sequence: Sequence) -> dict[str, str]:
    """Instance name -> layer, from the first frame's `rmpsam/layers` (empty: not the tool's output)."""
    if not sequence.present:
        return {}
    attributes = read_header(sequence.path(sequence.present[0])).attributes
    try:
        return dict(json.loads(attributes.get("rmpsam/layers", "{}")))
    except ValueError:
        return {}


def _provenance(header: PlateHeader) -> dict[str, object]:
    """The tool's own header attributes (`mattes.writer`: version, digests, source frame, layers)."""
    return {name: value for name, value in sorted(header.attributes.items()) if name.startswith("rmpsam/")}


def _window(window: Window) -> dict[str, int]:
    return {"x": window.x, "y": window.y, "width": window.width, "height": window.height}


def _cryptomattes(header: PlateHeader) -> list[dict[str, object]]:
    try:
        found = cryptomatte.find_layers(header.path)
    except (OSError, ValueError) as error:
        raise InputError(f"unreadable Cryptomatte metadata in {header.path}: {error}", path=header.path) from None
    return [{"name": layer.name, "key": layer.key, "ranks": len(layer.channel_names) // 2,
             "objects": dict(sorted(layer.manifest.items()))} for layer in found]


def _summary(report: SequenceReport) -> dict[str, object]:
    """Everything `info` prints, as plain data (the `--json` output)."""
    sequence = report.sequence
    first = report.headers[min(report.headers)]
    data_windows = {header.data_window for header in report.headers.values()}
    return {
        "pattern": sequence.pattern,
        "first": sequence.first,
        "last": sequence.last,
        "frames": len(sequence.present),
        "missing": list(sequence.missing),
        "gaps": [list(gap) for gap in sequence.gaps],
        "format": first.format_name,
        "resolution": [first.display_window.width, first.display_window.height],
        "display_window": _window(first.display_window),
        "data_window": _window(first.data_window),
        "data_window_varies": len(data_windows) > 1,
        "pixel_aspect": first.pixel_aspect,
        "pixel_types": sorted(set(first.pixel_types)),
        "compression": first.compression,
        "tiles": list(first.tile_size) if first.tile_size else None,
        "parts": len(first.subimage_names),
        "layers": {name: list(layer.channel_names) for name, layer in sorted(first.layers.items())},
        "layer": report.layer,
        "colour_space": default_colour_space(first),
        "file_colour_space": first.colour_space,
        "cryptomattes": _cryptomattes(first),
        "instance_layers": {name: f"{layer}.A" for name, layer in _instance_layers(sequence).items()},
        "provenance": _provenance(first),
        "nonfinite_values": {str(frame): count for frame, count in sorted(report.nonfinite_counts.items())},
    }


def _text(summary: dict) -> str:
    gaps = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in summary["gaps"]) or "none"
    tiles = "tiled {}x{}".format(*summary["tiles"]) if summary["tiles"] else "scanline"
    display, data = (Window(**summary[key]) for key in ("display_window", "data_window"))
    rows = [
        ("sequence", summary["pattern"]),
        ("frames", f"{summary['first']}-{summary['last']} ({summary['frames']} on disk)"),
        ("missing", gaps),
        ("resolution", "{}x{}".format(*summary["resolution"])),
        ("pixel aspect", f"{summary['pixel_aspect']:g}"),
        ("display window", str(display)),
        ("data window", f"{data}" + (" (first frame; varies)" if summary["data_window_varies"] else "")),
        ("format", f"{summary['format']}, {'/'.join(summary['pixel_types'])}, "
                   f"{summary['compression'] or 'uncompressed'}, {tiles}, {summary['parts']} part(s)"),
        ("colour space", summary["colour_space"] + ("" if summary["file_colour_space"] else " (assumed)")),
    ]
    rows += [("layers" if index == 0 else "", f"{name}: {' '.join(channels)}")
             for index, (name, channels) in enumerate(summary["layers"].items())]
    rows += [("instances" if index == 0 else "", f"{name}: {channel}")
             for index, (name, channel) in enumerate(summary["instance_layers"].items())]
    for crypto in summary["cryptomattes"]:
        objects = [f"{name} {hex_id}" for name, hex_id in crypto["objects"].items()]
        rows.append(("cryptomatte", f"{crypto['name']} (key {crypto['key']}, {crypto['ranks']} ranks): "
                                    f"{len(objects)} objects ({_some(objects)})"))
    if not summary["cryptomattes"]:
        rows.append(("cryptomatte", "none"))
    rows += [("provenance" if index == 0 else "", f"{name} = {value}")
             for index, (name, value) in enumerate(summary["provenance"].items())]
    rows += [("non-finite", f"frame {frame}: {count} NaN/Inf values replaced")
             for frame, count in summary["nonfinite_values"].items()]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _some(names: list[str], shown: int = 6) -> str:
    """A readable start of a long list; `--json` has all of it."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f", ... {more} more" if more > 0 else "")

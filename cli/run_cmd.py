"""`rmpsam-matte run`: the main job, the command render farms call.

Exit codes (rmpsam_cli.exit_codes): 0 done, 3 bad input (plate, prompts, weights, options),
4 output cannot be written, 5 interrupted (rerun the same command to resume), 1 a bug.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rmpsam_cli import exit_codes
from rmpsam_cli.options import frame_range
from rmpsam_model.int8 import PRECISIONS
from rmpsam_plugin.errors import MatteToolError
from rmpsam_plugin.job.precision import DEFAULT_PRECISION
from rmpsam_plugin.job.run import run_job
from rmpsam_plugin.job.settings import RunSettings
from rmpsam_plugin.mattes.overlaps import DEFAULT_OVERLAP, OVERLAPS
from rmpsam_plugin.mattes.writer import (
    DEFAULT_COMPRESSION,
    LOSSLESS_COMPRESSIONS,
    LOSSY_COMPRESSIONS,
    PIXEL_TYPES,
)
from rmpsam_plugin.propagation.engine import BLENDS
from rmpsam_plugin.propagation.trackers import DEFAULT_TRACKER, TRACKERS


@click.command("run")
@click.argument("plate")
@click.option("--prompts", "prompts_path", type=click.Path(path_type=Path),
              help="Prompt file (JSON, see `rmpsam-matte prompts validate`).")
@click.option("--auto", is_flag=True, help="No prompts: find every instance of --classes and track it (layers <class>_<n>).")
@click.option("--classes", help="With --auto: comma-separated class names from the weights' vocabulary.")
@click.option("--min-score", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="With --auto: least detection confidence.")
@click.option("--output", "-o", required=True, help="Output pattern, e.g. mattes/shot.####.exr.")
@click.option("--frames", callback=frame_range, help="Frames of the shot to use, FIRST-LAST (default: all).")
@click.option("--segment", callback=frame_range, help="Write only FIRST-LAST (a farm work unit; see `prompts validate`).")
@click.option("--instances", help="Comma-separated instance names to matte (default: all).")
@click.option("--size", type=int, help="Long side of the network image in pixels (default: the weights' own).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--threads", type=int, help="CPU threads for the network.")
@click.option("--feature-cache-gib", type=click.FloatRange(min=0), default=4.0, show_default=True,
              help="Memory for the network's per-frame features (35 MB a frame at the released size): a segment "
                   "longer than fits recomputes some on its backward pass; same mattes either way.")
@click.option("--layer", default="rgba", show_default=True, help="Input layer of the plate (rgba, beauty...).")
@click.option("--colour-space", help="Colour space of the plate (default: from the file; EXR = scene-linear Rec.709).")
@click.option("--cryptomatte/--no-cryptomatte", default=True, show_default=True,
              help="Also write a Cryptomatte of all instances.")
@click.option("--passthrough", is_flag=True, help="Copy the plate's channels into the output files.")
@click.option("--compression", type=click.Choice(LOSSLESS_COMPRESSIONS + LOSSY_COMPRESSIONS), default=DEFAULT_COMPRESSION,
              show_default=True, help="EXR compression of the output files; lossy ones need --no-cryptomatte.")
@click.option("--matte-type", "pixel_type", type=click.Choice(PIXEL_TYPES), default="half", show_default=True,
              help="Pixel type of the matte layers (the Cryptomatte is always 32-bit float).")
@click.option("--weights", type=click.Path(path_type=Path), help="Weights file (default: configured, else the shipped model).")
@click.option("--tracker", type=click.Choice(sorted(TRACKERS)), default=DEFAULT_TRACKER, show_default=True,
              help="How instances are carried between frames.")
@click.option("--blend", type=click.Choice(BLENDS), default="linear", show_default=True,
              help="Between keyframes: weight both runs by distance, or take the nearer keyframe's run only.")
@click.option("--refine-edges/--no-refine-edges", default=True, show_default=True, help="Edges that follow the plate.")
@click.option("--temporal/--no-temporal", default=True, show_default=True, help="Motion-compensated temporal stabilisation.")
@click.option("--overlap", type=click.Choice(OVERLAPS), default=DEFAULT_OVERLAP, show_default=True,
              help="Where instances claim one pixel: keep each matte as the network gave it, or share the pixel "
                   "by the network's evidence so mattes sum to at most 1 (README: Overlaps).")
@click.option("--precision", type=click.Choice(PRECISIONS), default=DEFAULT_PRECISION, show_default=True,
              help="The network's arithmetic: int8 runs the backbone quantised through ONNX Runtime on the CPU (the "
                   "int8 extra; not with --device cuda); int8-bf16 also runs the neck's and decoder's largest products "
                   "in bfloat16 (CPUs with AVX-512 BF16 or AMX only). Recorded in every frame: a rerun with another "
                   "rewrites them.")
@click.option("--dry-run", is_flag=True, help="Check everything and print the plan; compute nothing.")
@click.option("--progress", type=click.Choice(["bar", "json", "none"]), default="bar", show_default=True,
              help="A bar for people, JSON lines on stdout for machines.")
def run(plate, prompts_path, auto, classes, min_score, output, frames, segment, instances, size, device, threads,
        feature_cache_gib, layer, colour_space,
        cryptomatte, passthrough, compression, pixel_type, weights, tracker, blend, refine_edges, temporal, overlap,
        precision, dry_run, progress) -> None:
    """Matte every prompted instance of PLATE (a sequence pattern: shot.####.exr, shot.%04d.exr...)."""
    if auto == (prompts_path is not None):
        raise click.UsageError("give either --prompts FILE or --auto --classes NAMES")
    if auto and not classes:
        raise click.UsageError("--auto needs --classes (e.g. --classes car,person)")
    if cryptomatte and compression in LOSSY_COMPRESSIONS:
        raise click.UsageError(f"--compression {compression} is lossy and would change the Cryptomatte's ID bits: "
                               f"choose one of {', '.join(LOSSLESS_COMPRESSIONS)}, or add --no-cryptomatte")
    settings = RunSettings(
        plate=plate, prompts=prompts_path, output=output, frames=frames, segment=segment,
        instances=tuple(name.strip() for name in instances.split(",")) if instances else None,
        size=size, device=device, threads=threads, feature_cache_gib=feature_cache_gib, layer=layer, colour_space=colour_space,
        cryptomatte=cryptomatte, passthrough=passthrough, weights=weights, tracker=tracker, blend=blend,
        refine_edges=refine_edges, temporal=temporal, overlap=overlap, min_score=min_score, compression=compression,
        pixel_type=pixel_type, precision=precision,
        auto_classes=tuple(name.strip() for name in classes.split(",")) if auto else None,
    )
    try:
        result = run_job(settings, progress=progress, dry_run=dry_run)
    except MatteToolError as error:
        _fail(error, error.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted; rerun the same command to resume", exit_codes.INTERRUPTED)
    if dry_run:
        _print_plan(result.plan, progress)


def _print_plan(summary: dict, progress: str) -> None:
    import json

    if progress == "json":
        click.echo(json.dumps({"event": "plan", **summary}))
        return
    click.echo(f"plate     {summary['plate']}  {summary['resolution'][0]}x{summary['resolution'][1]}"
               f"  pixel aspect {summary['pixel_aspect']}")
    click.echo(f"frames    {summary['frames'][0]}-{summary['frames'][1]} ({summary['frame_count']} to write)")
    if summary["auto_classes"]:
        click.echo(f"instances found by --auto: every {', '.join(summary['auto_classes'])}")
    for name, keyframes in summary["keyframes"].items():
        click.echo(f"instance  {name}: keyframes {', '.join(map(str, keyframes))}")
    click.echo(f"segments  {', '.join(f'{a}-{b}' for a, b in summary['segments'])}")
    click.echo(f"output    {summary['output']}")


def _fail(error: object, code: int) -> None:
    """The one-line message on stderr (`run_job` has sent the JSON `error` event already)."""
    message = str(error) or type(error).__name__
    click.echo(f"rmpsam-matte run: error: {message}", err=True)
    sys.exit(code)

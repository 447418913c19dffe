"""`rmpsam-matte bench io`: plate reading and matte writing against OpenImageIO copying the frames."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import click

from rmpsam_plugin.bench.io_bench import run_io_benchmark
from rmpsam_plugin.bench.table import format_table


@click.command("io")
@click.option("--frames", default=24, show_default=True, help="Frames to generate and process.")
@click.option("--size", default="2048x1080", show_default=True, help="Frame WIDTHxHEIGHT.")
@click.option("--workers", type=int, default=min(4, os.cpu_count() or 1), show_default=True,
              help="Threads overlapping reads and writes of different frames in our pipeline.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def io(frames: int, size: str, workers: int, as_json: bool) -> None:
    """Frames per second of our read -> matte-file write against a plain OpenImageIO copy.

    Generates half-float RGBA EXR frames in a temporary directory, copies them with OpenImageIO's
    read/write loop (and oiiotool where installed), then reads each with the plate reader and
    writes plate + four instance mattes + a Cryptomatte with the matte writer.
    """
    try:
        width, height = (int(value) for value in size.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected WIDTHxHEIGHT, got {size!r}", param_hint="--size")
    with tempfile.TemporaryDirectory(prefix="rmpsam-bench-io-") as work_dir:
        timings = run_io_benchmark(frames, width, height, workers, Path(work_dir))
    baseline = timings[0].frames_per_second
    if as_json:
        click.echo(json.dumps({
            "frames": frames, "width": width, "height": height, "workers": workers,
            "results": [{"name": t.name, "seconds": t.seconds, "cpu_seconds": t.cpu_seconds,
                         "frames_per_second": t.frames_per_second,
                         "ratio_to_baseline": t.frames_per_second / baseline} for t in timings],
        }))
        return
    rows = [[t.name, f"{t.seconds:.2f}", f"{t.cpu_seconds:.2f}", f"{t.frames_per_second:.2f}",
             f"{t.frames_per_second / baseline:.2f}x"]
            for t in timings]
    click.echo(f"{frames} frames {width}x{height} half RGBA EXR (ZIP); baseline = first row")
    click.echo(format_table(["pipeline", "seconds", "CPU s", "frames/s", "vs baseline"], rows))

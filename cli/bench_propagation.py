"""`rmpsam-matte bench propagation`: which way of carrying instances between keyframes wins."""

from __future__ import annotations

from pathlib import Path

import click

from rmpsam_model.loading import load_model
from rmpsam_plugin.bench.propagation_bench import run_propagation_benchmark
from rmpsam_plugin.bench.table import format_table


@click.command("propagation")
@click.option("--shots", default=3, show_default=True, help="Held-out synthetic shots.")
@click.option("--frames", default=12, show_default=True, help="Frames per shot; keyframes are the first and last.")
@click.option("--size", default="384x216", show_default=True, help="Plate WIDTHxHEIGHT.")
@click.option("--weights", type=click.Path(path_type=Path), help="Weights (default: configured, else shipped).")
def propagation(shots: int, frames: int, size: str, weights: Path | None) -> None:
    """J&F and dtSSD of each propagation scheme through the real job, on frames between keyframes.

    The first row (every frame decoded alone from the nearest keyframe's prompts) is the baseline.
    """
    width, height = (int(v) for v in size.lower().split("x"))
    scores = run_propagation_benchmark(load_model(weights), shots, frames, height, width)
    baseline = scores[0]
    rows = [[s.name, f"{s.j:.3f}", f"{s.f:.3f}", f"{s.jf:.3f}", f"{s.jf - baseline.jf:+.3f}", f"{s.dtssd:.2f}",
             f"{s.seconds_per_frame * 1e3:.0f}"] for s in scores]
    click.echo(f"{shots} held-out synthetic shots, {frames} frames at {width}x{height}, keyframes first and last")
    click.echo(format_table(["scheme", "J", "F", "J&F", "vs baseline", "dtSSD", "ms/frame"], rows))

"""`rmpsam-matte bench overlap`: `--overlap independent` against `exclusive`, in the same run.

The README's choice of default comes from this table: both rules run the default propagation
through the real job on the same held-out shots (three objects that pass in front of each other;
the ground truth of a hidden object is its visible part), scored on the frames between keyframes.
"""

from __future__ import annotations

from pathlib import Path

import click

from rmpsam_model.loading import load_model
from rmpsam_plugin.bench.propagation_bench import run_propagation_benchmark
from rmpsam_plugin.bench.table import format_table
from rmpsam_plugin.mattes.overlaps import OVERLAPS


@click.command("overlap")
@click.option("--shots", default=6, show_default=True, help="Held-out synthetic shots.")
@click.option("--frames", default=12, show_default=True, help="Frames per shot; keyframes are the first and last.")
@click.option("--size", default="384x216", show_default=True, help="Plate WIDTHxHEIGHT.")
@click.option("--weights", type=click.Path(path_type=Path), help="Weights (default: configured, else shipped).")
def overlap(shots: int, frames: int, size: str, weights: Path | None) -> None:
    """J&F and dtSSD of each overlap rule, default propagation otherwise; the first row is the baseline."""
    width, height = (int(v) for v in size.lower().split("x"))
    schemes = [(f"--overlap {rule}", {"overlap": rule}) for rule in OVERLAPS]
    scores = run_propagation_benchmark(load_model(weights), shots, frames, height, width, schemes=schemes)
    baseline = scores[0]
    rows = [[s.name, f"{s.j:.3f}", f"{s.f:.3f}", f"{s.jf:.3f}", f"{s.jf - baseline.jf:+.3f}", f"{s.dtssd:.2f}",
             f"{s.seconds_per_frame * 1e3:.0f}"] for s in scores]
    click.echo(f"{shots} held-out synthetic shots, {frames} frames at {width}x{height}, keyframes first and last")
    click.echo(format_table(["overlap", "J", "F", "J&F", "vs independent", "dtSSD", "ms/frame"], rows))

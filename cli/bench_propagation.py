"""`rmpsam-matte bench propagation`: which way of carrying instances between keyframes wins."""

from __future__ import annotations

from pathlib import Path

import click

from rmpsam_model.bfloat16 import BFLOAT16_FLAGS, bfloat16_units
from rmpsam_model.int8 import PRECISIONS
from rmpsam_model.loading import load_model
from rmpsam_plugin.bench.propagation_bench import (
    DEFAULT_SCHEME,
    SCHEMES,
    run_precision_comparison,
    run_propagation_benchmark,
    run_stabiliser_size_comparison,
)
from rmpsam_plugin.bench.table import format_table


@click.command("propagation")
@click.option("--shots", default=3, show_default=True, help="Held-out synthetic shots.")
@click.option("--frames", default=12, show_default=True, help="Frames per shot; keyframes are the first and last.")
@click.option("--size", default="384x216", show_default=True, help="Plate WIDTHxHEIGHT.")
@click.option("--weights", type=click.Path(path_type=Path), help="Weights (default: configured, else shipped).")
@click.option("--compare-precision", is_flag=True,
              help="Only the default scheme, run in float32 and in int8 (`run --precision`) on the same shots.")
@click.option("--compare-stabiliser-size", is_flag=True,
              help="Only the default scheme: without the stabiliser, with it at the network image's size and at half "
                   "of it, on the same shots.")
@click.option("--default-only", is_flag=True,
              help="Only the baseline and the default scheme: the two rows that judge a weights file, in a "
                   "quarter of the time.")
@click.option("--negative-clicks", type=click.IntRange(0, 3), default=0, show_default=True,
              help="Negative clicks per instance on each keyframe, placed as an artist would (on a neighbour).")
def propagation(shots: int, frames: int, size: str, weights: Path | None, compare_precision: bool,
                compare_stabiliser_size: bool, default_only: bool, negative_clicks: int) -> None:
    """J&F and dtSSD of each propagation scheme through the real job, on frames between keyframes.

    The first row (every frame decoded alone from the nearest keyframe's prompts) is the baseline.
    With --compare-precision: the default scheme in float32 (the baseline), in int8 and in int8-bf16. With
    --compare-stabiliser-size: the default scheme without the stabiliser (the baseline), and with
    it at the network image's size and at half of it.
    """
    width, height = (int(v) for v in size.lower().split("x"))
    if compare_precision:
        _compare_precision(weights, shots, frames, height, width)
        return
    if compare_stabiliser_size:
        scores = run_stabiliser_size_comparison(load_model(weights), shots, frames, height, width)
    else:
        schemes = [SCHEMES[0], DEFAULT_SCHEME] if default_only else SCHEMES
        scores = run_propagation_benchmark(load_model(weights), shots, frames, height, width, schemes, negative_clicks)
    baseline = scores[0]
    rows = [[s.name, f"{s.j:.3f}", f"{s.f:.3f}", f"{s.jf:.3f}", f"{s.jf - baseline.jf:+.3f}", f"{s.dtssd:.2f}",
             f"{s.seconds_per_frame * 1e3:.0f}"] for s in scores]
    negatives = f", {negative_clicks} negative click(s) per instance" if negative_clicks else ""
    click.echo(f"{shots} held-out synthetic shots, {frames} frames at {width}x{height}, keyframes first and last"
               f"{negatives}")
    click.echo(format_table(["scheme", "J", "F", "J&F", "vs baseline", "dtSSD", "ms/frame"], rows))


JF_DIFFERENCE_MAX, DTSSD_RELATIVE_MAX = 0.005, 0.02  # issue 15: int8 within these of float32


def _compare_precision(weights: Path | None, shots: int, frames: int, height: int, width: int) -> None:
    units = bfloat16_units()
    precisions = PRECISIONS if units else tuple(p for p in PRECISIONS if p != "int8-bf16")
    scores = run_precision_comparison(weights, shots, frames, height, width, precisions)
    reference = scores["float32"]
    rows = [[f"default scheme, {p}", f"{s.j:.3f}", f"{s.f:.3f}", f"{s.jf:.3f}", f"{s.dtssd:.2f}",
             f"{s.seconds_per_frame * 1e3:.0f}"] for p, s in scores.items()]
    click.echo(f"{shots} held-out synthetic shots, {frames} frames at {width}x{height}, keyframes first and last")
    click.echo(format_table(["precision", "J", "F", "J&F", "dtSSD", "ms/frame"], rows))
    for precision, reduced in scores.items():
        if precision == "float32":
            continue
        jf_difference = reduced.jf - reference.jf
        dtssd_relative = reduced.dtssd / reference.dtssd - 1
        click.echo(f"{precision} - float32: J&F {jf_difference:+.4f} (target |x| <= {JF_DIFFERENCE_MAX}: "
                   f"{'met' if abs(jf_difference) <= JF_DIFFERENCE_MAX else 'not met'}), dtSSD {dtssd_relative:+.2%} "
                   f"(target |x| <= {DTSSD_RELATIVE_MAX:.0%}: "
                   f"{'met' if abs(dtssd_relative) <= DTSSD_RELATIVE_MAX else 'not met'})")
    if units is None:
        click.echo(f"int8-bf16 not run: this CPU has no bfloat16 units ({' or '.join(BFLOAT16_FLAGS)}), and `run` "
                   f"refuses it here")

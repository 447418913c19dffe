"""`rmpsam-matte bench refine`: edge refinement against bilinear upsampling on a drawn plate."""

from __future__ import annotations

import click

from rmpsam_plugin.bench.refine_bench import measure_refinement
from rmpsam_plugin.bench.table import format_table


@click.command("refine")
@click.option("--size", default="2048x1080", show_default=True, help="Plate WIDTHxHEIGHT.")
@click.option("--stride", default=8, show_default=True, help="Plate pixels per logit (8 for a 2K plate at the released size).")
@click.option("--repeats", default=5, show_default=True, help="Timed runs of each; the median is quoted.")
def refine(size: str, stride: int, repeats: int) -> None:
    """Edge error, IoU and time of the refined matte against bilinear upsampling, same logits, same run."""
    try:
        width, height = (int(value) for value in size.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected WIDTHxHEIGHT, got {size!r}", param_hint="--size")
    rows = measure_refinement(height, width, stride, scales=(1.0, 0.4), repeats=repeats)
    click.echo(f"drawn plate {width}x{height}, logits at stride {stride}, median of {repeats} runs")
    click.echo(format_table(["", "ms", "edge-band error", "IoU"],
                            [[r.name, f"{r.milliseconds:.1f}", f"{r.band_error:.4f}", f"{r.iou:.4f}"] for r in rows]))

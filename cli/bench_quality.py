"""`rmpsam-matte bench quality`: mean IoU from one box and from one click on held-out frames."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rmpsam_model.loading import load_model
from rmpsam_plugin.bench.quality_bench import measure_prompt_quality
from rmpsam_plugin.bench.table import format_table

BOX_TARGET, CLICK_TARGET = 0.85, 0.75


@click.command("quality")
@click.option("--frames", default=40, show_default=True, help="Held-out synthetic frames.")
@click.option("--weights", type=click.Path(path_type=Path), help="Weights (default: configured, else shipped).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of the table.")
def quality(frames: int, weights: Path | None, as_json: bool) -> None:
    """Segmentation from a single prompt, against the targets the shipped weights are held to."""
    loaded = load_model(weights)
    result = measure_prompt_quality(loaded, frames)
    if as_json:
        click.echo(json.dumps({"weights": str(loaded.path), "box_iou": result.box_iou, "click_iou": result.click_iou,
                               "instances": result.instances, "frames": result.frames}))
        return
    size = loaded.inference_size
    click.echo(f"{loaded.path.name}: {result.instances} instances on {result.frames} held-out synthetic frames, "
               f"inference size {size.short_side}")
    rows = [["one box", f"{result.box_iou:.3f}", f"{BOX_TARGET:.2f}", "yes" if result.box_iou >= BOX_TARGET else "no"],
            ["one click", f"{result.click_iou:.3f}", f"{CLICK_TARGET:.2f}", "yes" if result.click_iou >= CLICK_TARGET else "no"]]
    click.echo(format_table(["prompt", "mean IoU", "target", "met"], rows))

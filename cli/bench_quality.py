"""`rmpsam-matte bench quality`: mean IoU from one box, from one click, and from both united (a
keyframe as the job mattes it) on held-out frames."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rmpsam_model.int8 import PRECISIONS
from rmpsam_model.loading import load_model
from rmpsam_plugin.bench.quality_bench import FOUND_IOU, measure_precision_agreement, measure_prompt_quality
from rmpsam_plugin.bench.table import format_table
from rmpsam_plugin.job.precision import with_precision

BOX_TARGET, CLICK_TARGET = 0.85, 0.75
MASK_IOU_TARGET = 0.98  # issue 15: int8 prompt masks against float32's
REDUCED_PRECISIONS = tuple(precision for precision in PRECISIONS if precision != "float32")


@click.command("quality")
@click.option("--frames", default=40, show_default=True, help="Held-out synthetic frames.")
@click.option("--weights", type=click.Path(path_type=Path), help="Weights (default: configured, else shipped).")
@click.option("--aspect", type=click.FloatRange(min=1.0), default=1.0, show_default=True,
              help="Frame width-to-height ratio (1.78 for 16:9 plates); the height is the weights' short side.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of the table.")
@click.option("--compare-precision", is_flag=True,
              help="Run the prompts in float32 and in --precision (`run --precision`): both IoUs, and the other "
                   "precision's masks' IoU against the float32 ones.")
@click.option("--precision", type=click.Choice(REDUCED_PRECISIONS), default="int8", show_default=True,
              help="With --compare-precision: the precision compared with float32 (int8-bf16 is computed on any CPU "
                   "here, slowly without bfloat16 units).")
def quality(frames: int, weights: Path | None, aspect: float, as_json: bool, compare_precision: bool,
            precision: str) -> None:
    """Segmentation from a single prompt, against the targets the shipped weights are held to."""
    if compare_precision:
        _compare_precision(weights, frames, aspect, as_json, precision)
        return
    loaded = load_model(weights)
    result = measure_prompt_quality(loaded, frames, aspect=aspect)
    if as_json:
        click.echo(json.dumps({"weights": str(loaded.path), "box_iou": result.box_iou, "click_iou": result.click_iou,
                               "box_and_click_iou": result.union_iou, "instances": result.instances,
                               "frames": result.frames, "aspect": aspect}))
        return
    size = loaded.inference_size
    click.echo(f"{loaded.path.name}: {result.instances} instances on {result.frames} held-out synthetic frames, "
               f"{round(size.short_side * aspect)}x{size.short_side}, inference size {size.short_side}")
    rows = [["one box", f"{result.box_iou:.3f}", f"{BOX_TARGET:.2f}", "yes" if result.box_iou >= BOX_TARGET else "no"],
            ["one click", f"{result.click_iou:.3f}", f"{CLICK_TARGET:.2f}", "yes" if result.click_iou >= CLICK_TARGET else "no"],
            ["box and click united (a keyframe, as the job mattes it)", f"{result.union_iou:.3f}", "-", "-"]]
    click.echo(format_table(["prompt", "mean IoU", "target", "met"], rows))


def _compare_precision(weights: Path | None, frames: int, aspect: float, as_json: bool, precision: str) -> None:
    reference, reduced = load_model(weights), with_precision(load_model(weights), precision)
    result = measure_precision_agreement(reference, reduced, frames, aspect=aspect)
    if as_json:
        # The int8-named keys predate int8-bf16: they hold the compared precision's figures, named by "precision".
        click.echo(json.dumps({"weights": str(reference.path), "frames": frames, "masks": result.masks,
                               "precision": precision, "mask_iou_int8_vs_float32": result.mask_iou,
                               "found_masks": result.found_masks,
                               "found_mask_iou_int8_vs_float32": result.found_mask_iou if result.found_masks else None,
                               **{p: {"box_iou": q.box_iou, "click_iou": q.click_iou, "instances": q.instances}
                                  for p, q in (("float32", result.reference), (precision, result.other))}}))
        return
    click.echo(f"{reference.path.name}: {result.reference.instances} instances on {frames} held-out synthetic frames, "
               f"float32 against {precision}")
    rows = [[p, f"{q.box_iou:.3f}", f"{q.click_iou:.3f}"] for p, q in (("float32", result.reference), (precision, result.other))]
    click.echo(format_table(["precision", "box IoU", "click IoU"], rows))
    met = "met" if result.mask_iou >= MASK_IOU_TARGET else "not met"
    click.echo(f"{precision} masks against float32 masks: mean IoU {result.mask_iou:.4f} over {result.masks} prompts "
               f"(target >= {MASK_IOU_TARGET}: {met}); over the {result.found_masks} prompts whose float32 mask finds "
               f"its instance (IoU >= {FOUND_IOU} with the truth): {result.found_mask_iou:.4f}")

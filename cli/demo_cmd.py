"""`rmpsam-matte demo`: the whole job on a built-in example, the README's first command.

It generates a short synthetic shot (EXR plates, two keyframes of artist-style prompts), runs the
same job `rmpsam-matte run` runs with the shipped weights, writes the mattes and a contact sheet
of them over the plate (`rmpsam-matte review`), and scores them
against the shot's ground truth, so a fresh install shows in one command both that everything
works and how well.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from rmpsam_plugin.errors import MatteToolError
from rmpsam_plugin.evaluation.scoring import (
    FIRST_FRAME,
    HELD_OUT_SEED_BASE,
    read_instance_mattes,
    score,
    write_evaluation_shot,
)
from rmpsam_plugin.job.run import run_job
from rmpsam_plugin.mattes.review import MatteSequence, keyframes_from_prompts, write_review


@click.command("demo")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("rmpsam_demo"),
              show_default=True, help="Folder for the example shot, its prompts and the mattes.")
@click.option("--frames", "num_frames", type=click.IntRange(3, 200), default=16, show_default=True,
              help="Length of the example shot; keyframes are its first and last frames.")
@click.option("--size", default="512x288", show_default=True, help="Plate WIDTHxHEIGHT.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Which example shot (0 has an object that leaves and returns).")
@click.option("--weights", type=click.Path(path_type=Path), help="Weights (default: configured, else the shipped model).")
@click.option("--threads", type=int, help="CPU threads for the network.")
@click.option("--progress", type=click.Choice(["bar", "json", "none"]), default="bar", show_default=True)
def demo(out_dir: Path, num_frames: int, size: str, seed: int, weights: Path | None, threads: int | None,
         progress: str) -> None:
    """Generate an example shot, matte it, and report where the EXRs are and their J&F."""
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected WIDTHxHEIGHT, got {size!r}", param_hint="--size") from None
    keyframes = [0, num_frames - 1]
    try:
        on_disk = write_evaluation_shot(out_dir / "shot", HELD_OUT_SEED_BASE + seed, num_frames, height, width, keyframes)
        output = out_dir / "mattes" / "demo.####.exr"
        run_job(plate=str(on_disk.plate), prompts=on_disk.prompts, output=str(output), threads=threads,
                weights=weights, progress=progress)
        mattes = MatteSequence(output)
        sheet = write_review(mattes, output.parent / "contact_sheet.png",
                             keyframes=keyframes_from_prompts(on_disk.prompts, mattes))
    except MatteToolError as error:
        _fail(str(error), error.exit_code)

    frames = range(FIRST_FRAME, FIRST_FRAME + num_frames)
    predicted = read_instance_mattes(output, frames, on_disk.names)
    between = [t for t in range(num_frames) if t not in keyframes]
    result = score(predicted, on_disk.truth(), between)
    report = {
        "plate": str(on_disk.plate), "prompts": str(on_disk.prompts), "mattes": str(output), "contact_sheet": str(sheet),
        "instances": on_disk.names, "frames": [frames[0], frames[-1]], "keyframes": [frames[k] for k in keyframes],
        "J": round(result.j, 4), "F": round(result.f, 4), "J&F": round(result.jf, 4), "dtSSD": round(result.dtssd, 3),
    }
    if progress == "json":
        click.echo(json.dumps({"event": "demo", **report}))
        return
    click.echo(f"plate     {report['plate']}  ({width}x{height}, frames {frames[0]}-{frames[-1]})")
    click.echo(f"prompts   {report['prompts']}  (keyframes {', '.join(map(str, report['keyframes']))})")
    click.echo(f"mattes    {report['mattes']}  (layers: {', '.join(on_disk.names)}, plus a Cryptomatte)")
    click.echo(f"sheet     {report['contact_sheet']}  (each instance tinted and outlined; `rmpsam-matte review` for a movie)")
    click.echo(f"quality   J&F {result.jf:.3f} (J {result.j:.3f}, F {result.f:.3f}), dtSSD {result.dtssd:.2f}"
               f"  on the {len(between)} frames between keyframes, against the shot's ground truth")
    click.echo(f"next      rmpsam-matte info {report['mattes']}")


def _fail(message: str, code: int) -> None:
    click.echo(f"rmpsam-matte demo: error: {message}", err=True)
    sys.exit(code)

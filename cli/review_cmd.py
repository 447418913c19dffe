"""`rmpsam-matte review`: an mp4 for dailies or a contact sheet PNG of written mattes over their plate.

Exit codes (rmpsam_cli.exit_codes): 0 written, 2 bad option (an output that is neither .mp4 nor
.png), 3 bad input (mattes, plate or prompt file), 4 the output cannot be written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rmpsam_cli.options import frame_range
from rmpsam_plugin.errors import InputError, MatteToolError
from rmpsam_plugin.mattes.review import MatteSequence, keyframes_from_prompts, write_review


@click.command("review")
@click.argument("mattes")
@click.option("--plate", help="Plate pattern (default: each matte file's source frame, recorded in its header).")
@click.option("--prompts", "prompts_path", type=click.Path(path_type=Path),
              help="The prompt file the mattes were made with: marks its keyframes.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="review.mp4 (a movie, one frame per frame) or sheet.png (a contact sheet).")
@click.option("--frames", callback=frame_range, help="Frames to show, FIRST-LAST (default: all).")
@click.option("--colour-space", help="Colour space of the plate (default: from the file, as `run`).")
@click.option("--fps", type=click.FloatRange(min=1), default=24.0, show_default=True, help="Frame rate of an mp4.")
@click.option("--tile-width", type=click.IntRange(min=16), default=320, show_default=True,
              help="Width of each frame on a contact sheet.")
@click.option("--columns", type=click.IntRange(min=1), default=4, show_default=True, help="Frames per contact sheet row.")
@click.option("--progress", type=click.Choice(["bar", "none"]), default="bar", show_default=True)
def review(mattes, plate, prompts_path, output, frames, colour_space, fps, tile_width, columns, progress) -> None:
    """Draw MATTES (rmpsam-matte output, e.g. mattes/shot.####.exr): each instance tinted in its own
    colour and outlined over the plate in display sRGB, with its name, the frame number and keyframe markers."""
    if output.suffix.lower() not in (".mp4", ".png"):
        raise click.BadParameter(f"{output.name}: give a .mp4 or a .png", param_hint="--output")
    from tqdm import tqdm

    try:
        sequence = MatteSequence(mattes, plate, colour_space)
        chosen = [f for f in sequence.frames if frames is None or frames[0] <= f <= frames[1]]
        if not chosen:
            raise InputError(f"no frames of {sequence.sequence.pattern} in {frames[0]}-{frames[1]}")
        keyframes = keyframes_from_prompts(prompts_path, sequence) if prompts_path else {}
        with tqdm(total=len(chosen), unit="frame", disable=progress == "none", file=sys.stderr) as bar:
            written = write_review(sequence, output, frames=chosen, keyframes=keyframes, fps=fps, tile_width=tile_width,
                                   columns=columns, on_frame=lambda _frame: bar.update())
    except MatteToolError as error:
        click.echo(f"rmpsam-matte review: error: {error}", err=True)
        sys.exit(error.exit_code)
    click.echo(str(written))

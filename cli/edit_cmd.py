"""`rmpsam-matte edit`: the prompt editor (PyQt5, the `gui` extra).

Without PyQt5 it says how to install it and exits 2 (a usage problem of this install, not of
the plate), with no traceback. `--precision` is checked as `run` checks it, before any window
opens: int8 with a device other than the CPU, or without the `int8` extra, is one line on stderr
and exit code 3 (bad input), as from `run` and `serve`.
"""

from __future__ import annotations

import sys

import click

from rmpsam_cli import exit_codes
from rmpsam_model.int8 import PRECISIONS
from rmpsam_plugin.errors import InputError
from rmpsam_plugin.job.precision import DEFAULT_PRECISION, check_precision

INSTALL_HINT = ('rmpsam-matte edit needs PyQt5, which is not installed. Install the editor extra: '
                'pip install -e ".[gui]"   (or: pip install "rmpsam-matte[gui]")')


@click.command("edit")
@click.argument("plate", required=False)
@click.option("--prompts", "prompts_path", type=click.Path(dir_okay=False), help="A prompt file to open with the plate.")
@click.option("--layer", default="rgba", show_default=True, help="Input layer of the plate, as `run --layer`.")
@click.option("--colour-space", help="Colour space of the plate (default: from the file), as `run --colour-space`.")
@click.option("--weights", type=click.Path(dir_okay=False), help="Weights file (default: configured, else the shipped model).")
@click.option("--size", type=click.IntRange(min=32), help="Long side of the network image, as `run --size`.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--precision", type=click.Choice(PRECISIONS), default=DEFAULT_PRECISION, show_default=True,
              help="The network's arithmetic, as `run --precision` (int8, int8-bf16: CPU only, the int8 extra); the preview "
                   "and the editor's shot run both use it.")
def edit(plate, prompts_path, layer, colour_space, weights, size, device, precision) -> None:
    """Open PLATE (a sequence pattern, as `run` takes it) in the prompt editor."""
    try:
        check_precision(precision, device)  # before the window: `run` would refuse the same
    except InputError as error:
        click.echo(f"rmpsam-matte edit: error: {error}", err=True)
        sys.exit(exit_codes.BAD_INPUT)
    try:
        import PyQt5.QtWidgets  # noqa: F401  (the editor's only optional dependency)
    except ImportError:
        click.echo(f"rmpsam-matte edit: {INSTALL_HINT}", err=True)
        sys.exit(exit_codes.USAGE_ERROR)
    from rmpsam_plugin.editor.app import main
    from rmpsam_plugin.editor.main_window import EditorOptions

    options = EditorOptions(layer=layer, colour_space=colour_space, weights=weights, size=size, device=device,
                            precision=precision)
    sys.exit(main(plate, prompts_path, options))

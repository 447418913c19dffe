"""`rmpsam-matte weights`: inspect a weights file, convert it once to safetensors.

Every failure is one line on stderr naming the file, with exit code 3 (bad input) or 4 (the
output cannot be written), never a traceback: a farm wrangler reads the log line, not the code.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn

import click

from rmpsam_cli.exit_codes import BAD_INPUT, OUTPUT_ERROR
from rmpsam_model.checkpoint import convert_to_safetensors
from rmpsam_model.checkpoint_errors import CheckpointError
from rmpsam_model.checkpoint_summary import CheckpointSummary, summarize_checkpoint
from rmpsam_model.training.export import save_half
from rmpsam_model.weights_location import resolve_weights_path


@click.group()
def weights() -> None:
    """Inspect RMP-SAM weights files and convert them to safetensors."""


@weights.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def info(path: Path | None, as_json: bool) -> None:
    """Format, size, digest and architecture of PATH.

    Without PATH, describes the weights the tool would use ($RMPSAM_WEIGHTS, then
    ~/.config/rmpsam/config.json).
    """
    try:
        summary = summarize_checkpoint(path if path is not None else resolve_weights_path())
    except CheckpointError as error:
        _fail(error, BAD_INPUT)
    click.echo(json.dumps(asdict(summary), indent=2) if as_json else _table(summary))


@weights.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", required=False, type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace DST if it exists.")
@click.option("--half", is_flag=True,
              help="SRC is a .safetensors weights file: write it again with float16 tensors, metadata kept "
                   "(half the size, as the shipped weights are stored).")
def convert(src: Path, dst: Path | None, force: bool, half: bool) -> None:
    """Write SRC's weights to DST as safetensors (default: SRC with the suffix .safetensors).

    The tool prefers a .safetensors file beside the configured .pth: it loads faster and holds
    no pickle at all.
    """
    if half and src.suffix != ".safetensors":
        _fail(f"--half takes a .safetensors weights file, not {src}", BAD_INPUT)
    if half and dst is None:
        _fail("--half needs DST: the file written beside SRC would be SRC itself", BAD_INPUT)
    destination = dst if dst is not None else src.with_suffix(".safetensors")
    try:
        written = save_half(src, destination, overwrite=force) if half else \
            convert_to_safetensors(src, destination, overwrite=force)
    except CheckpointError as error:
        _fail(error, BAD_INPUT)
    except FileExistsError as error:
        _fail(error, OUTPUT_ERROR)
    except OSError as error:
        _fail(f"{destination}: cannot be written ({error.strerror})", OUTPUT_ERROR)
    click.echo(f"wrote {written}")


def _fail(problem: Exception | str, exit_code: int) -> NoReturn:
    click.echo(f"rmpsam-matte weights: {problem}", err=True)
    raise SystemExit(exit_code)


def _table(summary: CheckpointSummary) -> str:
    network = " ".join(f"{name}={_field(value)}" for name, value in summary.inferred_config.items())
    rows = [
        ("file", summary.path),
        ("format", summary.format),
        ("size", f"{summary.file_size:,} bytes"),
        ("sha256", summary.sha256),
        ("keys", str(summary.keys)),
        ("parameters", f"{summary.parameter_count:,}"),
        ("released architecture", _released_verdict(summary)),
        ("inferred config", network),
        *((f"metadata {key}", value) for key, value in summary.metadata.items()),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _released_verdict(summary: CheckpointSummary) -> str:
    if summary.released_architecture:
        return "yes"
    counts = summary.differences_from_released
    return (
        f"no ({counts['missing']} missing keys, {counts['unexpected']} unexpected keys, "
        f"{counts['shape_mismatches']} shape mismatches)"
    )


def _field(value: object) -> str:
    return "/".join(map(str, value)) if isinstance(value, tuple) else str(value)

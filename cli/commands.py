"""The list of `rmpsam-matte` subcommands. Each lives in its own module; add new ones here."""

from __future__ import annotations

import importlib

import click

# (module inside rmpsam_cli, attribute holding the click command or group)
_SUBCOMMANDS: list[tuple[str, str]] = [
    ("bench_cmd", "bench"),
    ("weights_cmd", "weights"),
    ("train_cmd", "train"),
    ("info_cmd", "info"),
    ("review_cmd", "review"),
    ("prompts_cmd", "prompts"),
    ("serve_cmd", "serve"),
    ("run_cmd", "run"),
    ("demo_cmd", "demo"),
    ("farm_cmd", "farm"),
    ("edit_cmd", "edit"),
]


def all_commands() -> list[click.Command]:
    return [getattr(importlib.import_module(f"rmpsam_cli.{module}"), attr) for module, attr in _SUBCOMMANDS]

"""`rmpsam-matte bench`: benchmarks that print a table and compare against a baseline measured
in the same run. Each benchmark is its own subcommand in its own module, listed below."""

from __future__ import annotations

import importlib

import click

# (module inside rmpsam_cli, attribute holding the click command)
_BENCHMARKS: list[tuple[str, str]] = [
    ("bench_network", "network"),
    ("bench_propagation", "propagation"),
    ("bench_overlap", "overlap"),
    ("bench_io", "io"),
    ("bench_serve", "serve"),
    ("bench_quality", "quality"),
    ("bench_pipeline", "pipeline"),
    ("bench_refine", "refine"),
]


@click.group()
def bench() -> None:
    """Measure speed and quality; every table quotes a baseline measured in the same run."""


for _module, _attr in _BENCHMARKS:
    bench.add_command(getattr(importlib.import_module(f"rmpsam_cli.{_module}"), _attr))

"""`rmpsam-matte bench serve`: click-to-matte latency through the preview server."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rmpsam_plugin.bench.serve_bench import ServeBenchmark, run_serve_benchmark
from rmpsam_plugin.bench.table import format_table
from rmpsam_plugin.server.matte_encoding import ENCODINGS


@click.command("serve")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Weights file (default: the released layout with random weights, written to a temp folder).")
@click.option("--plate-size", default="2048x1080", show_default=True, help="Synthetic plate WIDTHxHEIGHT.")
@click.option("--size", "long_side", default=1024, show_default=True, type=click.IntRange(min=32),
              help="Long side of the network image (the server's --size).")
@click.option("--clicks", default=20, show_default=True, type=click.IntRange(min=1), help="Clicks on the warm frame.")
@click.option("--threads", type=click.IntRange(min=1), help="torch threads, server and baseline (default: torch's choice).")
@click.option("--encoding", type=click.Choice(ENCODINGS), default="png", show_default=True, help="Matte encoding asked for.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def serve(weights: Path | None, plate_size: str, long_side: int, clicks: int, threads: int | None, encoding: str,
          as_json: bool) -> None:
    """Time clicks through `rmpsam-matte serve` on loopback: a cold frame, then a warm one.

    The baseline, measured in the same run once the server has stopped, is the predictor's own
    prompt decode on cached features in-process, and the server's decode path without HTTP.
    Target: warm click median under 100 ms.
    """
    try:
        width, height = (int(v) for v in plate_size.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected WIDTHxHEIGHT, got {plate_size!r}", param_hint="--plate-size") from None
    result = run_serve_benchmark(weights, width, height, long_side, clicks, threads, encoding)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    _print_table(result)


def _print_table(result: ServeBenchmark) -> None:
    net_h, net_w = result.network_hw
    click.echo(f"Preview server on 127.0.0.1: {result.plate_wh[0]}x{result.plate_wh[1]} plate, network image "
               f"{net_w}x{net_h}, weights: {result.weights}, CPU, torch threads {result.server_threads} (server) / "
               f"{result.threads} (in-process baseline); "
               f"server up in {result.server_start_s:.1f} s")
    click.echo(format_table(["step", "n", "median ms", "p90 ms", "what"], result.rows()))
    parts = ", ".join(f"{key} {value:.1f}" for key, value in result.warm_server_ms.items())
    click.echo(f"\nwarm click, server's own timing (median ms): {parts}; matte {result.matte_bytes / 1024:.0f} KiB")
    cold = ", ".join(f"{key} {value:.0f}" for key, value in result.cold_server_ms.items())
    click.echo(f"first cold click, server's own timing (ms): {cold}")
    verdict = "meets" if result.meets_target else "MISSES"
    click.echo(f"warm click median {result.warm.median:.1f} ms {verdict} the {result.TARGET_MS:.0f} ms target")

"""`rmpsam-matte bench network`: network speed on this CPU against the float32 floor."""

from __future__ import annotations

import json

import click

from rmpsam_model.bfloat16 import BFLOAT16_FLAGS, bfloat16_units
from rmpsam_model.config import RMPSAMConfig
from rmpsam_plugin.bench.network_bench import run_network_benchmark
from rmpsam_plugin.bench.table import format_table

_CONFIGS = {"released": RMPSAMConfig.released, "parity-tiny": RMPSAMConfig.parity_tiny}


@click.command("network")
@click.option("--size", "size", default="1024x576", show_default=True, help="Input WIDTHxHEIGHT (multiples of 32).")
@click.option("--config", "config_name", type=click.Choice(sorted(_CONFIGS)), default="released", show_default=True)
@click.option("--repeats", default=3, show_default=True, help="Timed runs per part; the median is reported.")
@click.option("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--int8/--no-int8", default=True, show_default=True,
              help="Also time the int8 backbone (ONNX Runtime, `--precision int8`) on the same frame.")
@click.option("--bf16/--no-bf16", "bfloat16", default=True, show_default=True,
              help="Also time the neck and decoder with bfloat16 products (`--precision int8-bf16`), on CPUs with "
                   "bfloat16 units; elsewhere a line says why not.")
def network(size: str, config_name: str, repeats: int, threads: int | None, as_json: bool, int8: bool,
            bfloat16: bool) -> None:
    """Time backbone, neck, decoder and a cached-feature click with random weights.

    The baseline is the float32 floor: the network's FLOPs over this machine's dense matmul rate,
    measured in the same run. 'eager' is the module tree as loaded, 'fused' is after
    fuse_for_inference() (BatchNorm folded into convolutions), which is what the tool runs.
    """
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected WIDTHxHEIGHT, got {size!r}", param_hint="--size")
    units = bfloat16_units()
    result = run_network_benchmark(_CONFIGS[config_name](), height, width, repeats, threads, int8,
                                   bfloat16 and units is not None)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "config": config_name,
                    "width": width,
                    "height": height,
                    "threads": result.threads,
                    "matmul_gflops": result.matmul_gflops,
                    "total_gflop": result.total_gflop,
                    "floor_seconds": result.floor_seconds,
                    "parts": {p.name: {"seconds": p.seconds, "gflop": p.gflop} for p in result.fused},
                    "eager_parts": {p.name: {"seconds": p.seconds, "gflop": p.gflop} for p in result.eager},
                    "frame_seconds": sum(p.seconds for p in result.fused),
                    "click_seconds": result.click_seconds,
                    "int8_backbone_seconds": result.int8_backbone_seconds,
                    "int8_frame_seconds": result.int8_frame_seconds if int8 else None,
                    "bfloat16_units": units,
                    "bfloat16_parts": {p.name: {"seconds": p.seconds, "gflop": p.gflop}
                                       for p in result.bfloat16_parts or []},
                    "int8_bfloat16_frame_seconds": result.int8_bfloat16_frame_seconds,
                }
            )
        )
        return
    click.echo(
        f"RMP-SAM network ({config_name}) at {width}x{height}, float32{' and int8 backbone' if int8 else ''}, CPU, "
        f"{result.threads} threads; "
        f"dense matmul {result.matmul_gflops:.1f} GFLOP/s"
    )
    headers = ["part", "GFLOP", "floor ms", "eager ms", "fused ms", "fused/floor"]
    click.echo(format_table(headers, result.rows()))
    click.echo(f"\none click on cached features (predictor, mask at {width}x{height}): {result.click_seconds * 1e3:.1f} ms")
    if bfloat16 and units is None:
        click.echo(f"bf16 products not timed: this CPU has no bfloat16 units ({' or '.join(BFLOAT16_FLAGS)}), so "
                   f"`--precision int8-bf16` is refused here")
    elif result.bfloat16_parts:
        click.echo(f"bf16 products on {units}")

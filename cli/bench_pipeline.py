"""`rmpsam-matte bench pipeline`: the job's overhead over the network alone on a 2K shot."""

from __future__ import annotations

from pathlib import Path

import click

from rmpsam_model.int8 import PRECISIONS
from rmpsam_model.loading import load_model
from rmpsam_plugin.bench.pipeline_bench import (
    CPU_SIDE_TARGET_FPS,
    FINISHING_TARGET_MS,
    FLOOR_TARGET,
    PIPELINE_TARGET,
    SCHEDULES,
    CpuSideTiming,
    StepBreakdown,
    measure_cpu_side,
    measure_pipeline,
)
from rmpsam_plugin.bench.table import format_table
from rmpsam_plugin.job.precision import check_precision


@click.command("pipeline")
@click.option("--frames", default=8, show_default=True, help="Frames of the synthetic shot.")
@click.option("--size", default="2048x1080", show_default=True, help="Plate WIDTHxHEIGHT.")
@click.option("--weights", type=click.Path(path_type=Path),
              help="Weights to run (default: the released architecture with random weights, at its inference size).")
@click.option("--threads", type=int, help="CPU threads for the network.")
@click.option("--repeats", default=3, show_default=True, help="Alternating runs of each; medians are quoted.")
@click.option("--keyframes", type=click.IntRange(min=2), default=2, show_default=True,
              help="Keyframes spread over the shot (first and last included); each gap is a segment.")
@click.option("--compare-schedules", is_flag=True,
              help="Also run the job with the other schedule of reading and finishing (beside the network, or in turns with it).")
@click.option("--breakdown", is_flag=True,
              help="Also run one job with per-step timing: CPU and wall ms per frame of each step (read, network image, "
                   "network, stabiliser, edge guide, refinement, overlaps, Cryptomatte, EXR write).")
@click.option("--network", "network", type=click.Choice(["real", "none"]), default="real", show_default=True,
              help="none: a stand-in network that answers instantly with the shot's true mattes as logits, to measure "
                   "the frames per second the CPU side sustains (what a GPU node's CPU must keep up with).")
@click.option("--workers", default="1,2", show_default=True,
              help="With --network none: comma-separated counts of threads reading and finishing frames.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="float32", show_default=True,
              help="The network's arithmetic for both timings (int8, int8-bf16: the `int8` extra, CPU only); the floor stays "
                   "float32's.")
def pipeline(frames: int, size: str, weights: Path | None, threads: int | None, repeats: int, keyframes: int,
             compare_schedules: bool, breakdown: bool, network: str, workers: str, precision: str) -> None:
    """End-to-end frames per second against network-only time for the same frames, same run."""
    width, height = (int(v) for v in size.lower().split("x"))
    if keyframes > frames:
        raise click.BadParameter(f"{keyframes} keyframes do not fit in {frames} frames", param_hint="--keyframes")
    if network == "none":
        try:
            counts = tuple(int(count) for count in workers.split(","))
        except ValueError:
            raise click.BadParameter(f"expected counts such as 1,2, got {workers!r}", param_hint="--workers") from None
        if not counts or min(counts) < 1:
            raise click.BadParameter(f"worker counts must be at least 1, got {workers!r}", param_hint="--workers")
        cpu_side = measure_cpu_side(load_model(weights) if weights else None, frames, width, height, repeats, keyframes,
                                    counts, breakdown)
        _print_cpu_side(cpu_side, width, height, keyframes, repeats)
        return
    if precision != "float32":
        check_precision(precision)  # a missing extra or bfloat16 unit is a one-line error before minutes of work
    timing = measure_pipeline(load_model(weights) if weights else None, frames, width, height, threads, repeats,
                              keyframes, compare_schedules, breakdown, precision)
    floor = timing.floor

    def row(label: str, seconds: float, overhead: bool = True) -> list[str]:
        over_network = f"{(seconds / timing.network_seconds - 1) * 100:+.1f}%" if overhead else ""
        return [label, f"{seconds / frames:.3f}", f"{frames / seconds:.2f}", over_network,
                f"{seconds / frames / floor.seconds:.2f}x"]

    rows = [row("network only (propagation, no I/O)", timing.network_seconds, overhead=False),
            row(f"end to end (rmpsam-matte run: {SCHEDULES[timing.overlap]})", timing.end_to_end_seconds)]
    if timing.other_schedule_seconds is not None:
        rows.append(row(f"end to end, not chosen here: {SCHEDULES[not timing.overlap]}", timing.other_schedule_seconds))
    click.echo(f"{frames} frames at {width}x{height}, {keyframes} keyframes, {timing.instances} instances, "
               f"{'weights ' + str(weights) if weights else 'released architecture (random weights)'}, "
               f"median of {repeats} alternating runs, network in {timing.precision}")
    click.echo(format_table(["", "s/frame", "frames/s", "overhead", "vs floor"], rows))
    click.echo(f"floor: one whole frame in float32 at {floor.width}x{floor.height} (backbone, neck, object decoder), "
               f"{floor.gflop:.4g} GFLOP at {floor.matmul_gflops:.1f} GFLOP/s dense matmul = {floor.seconds:.4g} s")
    verdict = "met" if timing.overhead <= PIPELINE_TARGET else "NOT met"
    click.echo(f"target: overhead at most {PIPELINE_TARGET * 100:.0f}% over the network alone: {verdict}")
    end_to_end = timing.end_to_end_seconds / frames / floor.seconds
    verdict = "met" if end_to_end <= FLOOR_TARGET else "NOT met"
    click.echo(f"target: end to end at most {FLOOR_TARGET:.1f}x the float32 floor: {end_to_end:.2f}x, {verdict}")
    if timing.breakdown:
        _print_breakdown(timing.breakdown, timing.instances, stand_in=False)


def _print_cpu_side(timing: CpuSideTiming, width: int, height: int, keyframes: int, repeats: int) -> None:
    click.echo(f"{timing.frames} frames at {width}x{height}, {keyframes} keyframes, {timing.instances} instances, "
               f"network: none (stored logits: the shot's true mattes), median of {repeats} alternating runs")
    rows = [[str(count), f"{timing.frames_per_second(count):.2f}", f"{timing.cpu_ms_per_frame(count):.1f}"]
            for count in timing.wall_runs]
    click.echo(format_table(["workers", "frames/s", "process CPU ms/frame"], rows))
    best = max(timing.frames_per_second(count) for count in timing.wall_runs)
    verdict = "met" if best >= CPU_SIDE_TARGET_FPS else "NOT met"
    click.echo(f"target: the CPU side sustains at least {CPU_SIDE_TARGET_FPS:.0f} frames/s: {verdict}")
    if timing.breakdown:
        _print_breakdown(timing.breakdown, timing.instances, stand_in=True)


def _print_breakdown(steps: StepBreakdown, instances: int, *, stand_in: bool) -> None:
    """The steps' table, and the 110 ms verdict: on the whole process less the stand-in network
    when there is one (OpenCV's helper threads work for the steps, not on their threads), else
    on the steps' own threads alone, a lower bound that says so."""
    click.echo(f"\nsteps of one more job, per frame ({steps.frames} frames, {instances} instances); "
               "CPU: the step's own thread (helper threads are in 'unattributed')")
    rows = [[name, f"{cpu:.1f}", f"{wall:.1f}"] for name, cpu, wall in steps.rows()]
    rows += [["all steps outside the network", f"{steps.finishing_cpu_ms:.1f}", ""],
             ["unattributed (network's and helpers' threads)", f"{steps.unattributed_cpu_ms:.1f}", ""],
             ["whole job (process CPU, wall)", f"{1000 * steps.process_cpu_seconds / steps.frames:.1f}",
              f"{1000 * steps.job_wall_seconds / steps.frames:.1f}"]]
    click.echo(format_table(["step", "CPU ms/frame", "wall ms/frame"], rows))
    if stand_in:
        outside, measured = steps.outside_network_cpu_ms, "whole process less the stand-in network"
    else:
        outside, measured = steps.finishing_cpu_ms, "steps' own threads only, a lower bound: OpenCV's helpers are unattributed"
    verdict = "met" if outside <= FINISHING_TARGET_MS else "NOT met"
    click.echo(f"target: CPU outside the network at most {FINISHING_TARGET_MS:.0f} ms per frame: "
               f"{outside:.1f} ({measured}), {verdict}")

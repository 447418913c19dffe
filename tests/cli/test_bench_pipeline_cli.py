"""`rmpsam-matte bench pipeline` on a tiny shot: both timings, the overhead between them, the verdict."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from shot_fixtures import write_tiny_weights

COMMAND = Path(sys.executable).parent / "rmpsam-matte"


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(COMMAND), "bench", "pipeline", *map(str, args)], capture_output=True, text=True, timeout=300)


def test_bench_pipeline_reports_both_timings_and_their_ratio(tmp_path):
    weights = write_tiny_weights(tmp_path)
    result = _bench("--frames", "5", "--keyframes", "3", "--size", "96x48", "--weights", weights, "--repeats", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("5 frames at 96x48, 3 keyframes, 2 instances")
    network = re.search(r"network only \S.*?\s+([\d.]+)\s+([\d.]+)\s+[\d.]+x\s*\n", result.stdout)
    end_to_end = re.search(r"end to end \(.*?\)\s+([\d.]+)\s+([\d.]+)\s+([+-][\d.]+)%", result.stdout)
    assert network and end_to_end, result.stdout
    per_frame_network, per_frame_job = float(network.group(1)), float(end_to_end.group(1))
    assert per_frame_network > 0 and per_frame_job > 0
    # The printed overhead is the ratio of the printed times, up to their rounding to 1 ms.
    rounding = 100 * 0.0005 * (1 / per_frame_network + per_frame_job / per_frame_network**2) + 0.05
    assert abs(float(end_to_end.group(3)) - (per_frame_job / per_frame_network - 1) * 100) <= rounding
    assert re.search(r"target: overhead at most 15% over the network alone: (met|NOT met)", result.stdout)


FLOOR_LINE = re.compile(r"floor: one whole frame in float32 at (\d+)x(\d+) \(backbone, neck, object decoder\), "
                        r"([\d.e-]+) GFLOP at ([\d.]+) GFLOP/s dense matmul = ([\d.e-]+) s")


def _floor_and_ratios(stdout: str) -> tuple[re.Match, dict[str, tuple[float, float]]]:
    floor = FLOOR_LINE.search(stdout)
    rows = {m.group(1): (float(m.group(2)), float(m.group(3)))
            for m in re.finditer(r"^(network only|end to end) .*?\s([\d.]+)\s+[\d.]+\s+(?:[+-][\d.]+%\s+)?([\d.]+)x\s*$",
                                 stdout, re.MULTILINE)}
    assert floor and set(rows) == {"network only", "end to end"}, stdout
    return floor, rows


def test_bench_pipeline_quotes_both_timings_against_the_float32_floor_in_either_precision(tmp_path):
    """The floor is float32's whole frame at the job's padded network size (FLOPs over the matmul
    rate of the same run); int8 runs the network and the job on the int8 backbone against it."""
    weights = write_tiny_weights(tmp_path)
    floors = {}
    for precision in ("float32", "int8"):
        result = _bench("--frames", "3", "--size", "96x48", "--weights", weights, "--repeats", "1",
                        "--precision", precision)
        assert result.returncode == 0, result.stderr
        assert f"network in {precision}" in result.stdout.splitlines()[0]
        floor, rows = _floor_and_ratios(result.stdout)
        height, gflop, rate, seconds = int(floor.group(2)), float(floor.group(3)), float(floor.group(4)), float(floor.group(5))
        assert int(floor.group(1)) % 32 == 0 and height % 32 == 0 and gflop > 0 and rate > 1
        assert seconds == pytest.approx(gflop / rate, rel=2e-3)
        for per_frame, ratio in rows.values():  # each ratio is its printed time over the printed floor
            assert ratio == pytest.approx(per_frame / seconds, abs=0.006 + 0.0005 / seconds)
        verdict = re.search(r"target: end to end at most 1.0x the float32 floor: ([\d.]+)x, (met|NOT met)", result.stdout)
        assert verdict and float(verdict.group(1)) == rows["end to end"][1]
        assert verdict.group(2) == ("met" if rows["end to end"][1] <= 1.0 else "NOT met")
        floors[precision] = (floor.group(1), floor.group(2), gflop)
    assert floors["int8"] == floors["float32"]  # the same float32 work, counted before the backbone is swapped


def test_bench_pipeline_refuses_more_keyframes_than_frames(tmp_path):
    result = _bench("--frames", "3", "--keyframes", "4", "--weights", write_tiny_weights(tmp_path))
    assert result.returncode == 2 and "4 keyframes do not fit in 3 frames" in result.stderr


def test_bench_pipeline_compares_the_two_schedules_of_side_work(tmp_path):
    """The job's choice (in turns on a CPU its network fills, beside it otherwise) against the other one, same run."""
    weights = write_tiny_weights(tmp_path)
    result = _bench("--frames", "4", "--size", "96x48", "--weights", weights, "--repeats", "1", "--compare-schedules")
    assert result.returncode == 0, result.stderr
    chosen = re.search(r"end to end \(rmpsam-matte run: side work (beside|in turns with) the network\)\s+([\d.]+)", result.stdout)
    other = re.search(r"end to end, not chosen here: side work (beside|in turns with) the network"
                      r"\s+([\d.]+)\s+[\d.]+\s+[+-][\d.]+%", result.stdout)
    assert chosen and other, result.stdout
    assert chosen.group(1) != other.group(1) and float(other.group(2)) > 0


def test_bench_pipeline_breakdown_names_every_step_of_a_real_job_per_frame(tmp_path):
    """Steps in the order a frame meets them, each with CPU and wall ms per frame; the sums add up."""
    weights = write_tiny_weights(tmp_path)
    result = _bench("--frames", "4", "--size", "96x48", "--weights", weights, "--repeats", "1", "--breakdown")
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("steps of one more job, per frame (4 frames, 2 instances)")[1]
    assert table.splitlines()[1].startswith("machine: ")
    rows = {m.group(1): (float(m.group(2)), float(m.group(3)) if m.group(3) else None)
            for m in re.finditer(r"^(\S.*?)\s{2,}(-?[\d.]+)(?:\s+([\d.]+))?\s*$", table, re.MULTILINE)}
    steps = ["read", "network image", "network", "stabiliser", "edge guide", "refinement", "overlaps", "Cryptomatte",
             "EXR write"]
    assert [name for name in rows if name in steps] == steps, result.stdout
    assert all(rows[name][1] > 0 for name in steps if name != "overlaps")
    outside = sum(rows[name][0] for name in steps if name != "network")
    assert abs(rows["all steps outside the network"][0] - outside) <= 0.05 * len(steps)
    whole_cpu, whole_wall = rows["whole job (process CPU, wall)"]
    assert abs(rows["unattributed (network's and helpers' threads)"][0] - (whole_cpu - outside - rows["network"][0])) <= 0.5
    assert whole_wall >= rows["network"][1]
    verdict = re.search(r"target: CPU outside the network at most 110 ms per frame: ([\d.]+) \(steps' own threads "
                        r"only, a lower bound[^)]*\), (met|NOT met)", result.stdout)
    assert verdict and abs(float(verdict.group(1)) - rows["all steps outside the network"][0]) <= 0.05, result.stdout


def test_bench_pipeline_without_a_network_measures_the_cpu_side_per_worker_count(tmp_path):
    """`--network none`: frames per second and CPU per frame for each worker count, the 15 frames/s
    verdict, and a breakdown in which the stand-in network costs next to nothing."""
    weights = write_tiny_weights(tmp_path)
    result = _bench("--frames", "4", "--size", "96x48", "--weights", weights, "--repeats", "1", "--network", "none",
                    "--workers", "1,2", "--breakdown")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("4 frames at 96x48, 2 keyframes, 2 instances, network: none")
    rows = {int(m.group(1)): (float(m.group(2)), float(m.group(3)))
            for m in re.finditer(r"^(\d+)\s+([\d.]+)\s+([\d.]+)\s*$", result.stdout, re.MULTILINE)}
    assert sorted(rows) == [1, 2] and all(fps > 0 and cpu > 0 for fps, cpu in rows.values()), result.stdout
    assert re.search(r"target: the CPU side sustains at least 15 frames/s: (met|NOT met)", result.stdout)
    steps = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S.*?)\s{2,}(-?[\d.]+)(?:\s+[\d.]+)?\s*$",
                                                                 result.stdout.split("steps of one more job")[1], re.MULTILINE)}
    assert steps["read"] > 0 and steps["EXR write"] > 0 and steps["stabiliser"] > 0
    assert steps["network"] < 0.05 * steps["whole job (process CPU, wall)"]
    # The stand-in's job: everything but the stand-in itself is outside the network, helpers included.
    verdict = re.search(r"target: CPU outside the network at most 110 ms per frame: ([\d.]+) \(whole process less "
                        r"the stand-in network\), (met|NOT met)", result.stdout)
    assert verdict, result.stdout
    assert abs(float(verdict.group(1)) - (steps["whole job (process CPU, wall)"] - steps["network"])) <= 0.1


def test_bench_pipeline_refuses_worker_counts_below_one(tmp_path):
    result = _bench("--network", "none", "--workers", "0,2", "--weights", write_tiny_weights(tmp_path))
    assert result.returncode == 2 and "worker counts must be at least 1" in result.stderr

"""`rmpsam-matte bench serve` end to end on a small plate with the tiny weights.

How fast the clicks are is the benchmark's business, not the test's; but what the report says
about its own samples (medians, the verdict against the 100 ms target the README quotes) must
follow from those samples, so a wrong verdict or a wrong summary fails here.
"""

from __future__ import annotations

import json
import statistics

from preview_client import run_cli


def test_bench_serve_measures_cold_and_warm_clicks_and_the_in_process_baseline(tiny_weights):
    result = run_cli("bench", "serve", "--weights", tiny_weights, "--plate-size", "320x180", "--size", "160",
                     "--clicks", "3", "--threads", "1", "--json", timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["plate"] == {"width": 320, "height": 180} and report["network_hw"] == [90, 160]
    assert report["server_threads"] == 1 and report["threads"] == 1
    assert report["warm_click"]["n"] == 3 and report["cold_click_first"]["n"] == 1
    assert set(report["baselines"]) >= {"predictor click decode, in-process", "server decode path, in-process"}
    warm = report["warm_click"]["samples_ms"]
    assert len(warm) == 3 and min(warm) > 0
    assert abs(report["warm_click"]["median_ms"] - statistics.median(warm)) <= 1e-3
    assert min(warm) <= report["warm_click"]["p90_ms"] <= max(warm)
    assert report["target_ms"] == 100.0  # the interactive target the README states
    assert report["meets_target"] is (statistics.median(warm) < 100.0)
    assert {"decode", "total", "encode", "http_and_json"} <= set(report["warm_server_timing_ms"])
    assert "features" in report["cold_server_timing_ms"]


def test_bench_serve_prints_a_table(tiny_weights):
    result = run_cli("bench", "serve", "--weights", tiny_weights, "--plate-size", "320x180", "--size", "160",
                     "--clicks", "2", "--threads", "1", timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Preview server on 127.0.0.1:")
    # the table's header, after the line naming the machine (`bench.table`)
    assert any(line.split()[:4] == ["step", "n", "median", "ms"] for line in lines[1:4]), lines[:4]
    assert any(line.startswith("server click, warm frame") for line in lines)
    # Last line: "warm click median <m> ms meets|MISSES the 100 ms target", verdict from <m>.
    words = lines[-1].split()
    assert words[:3] == ["warm", "click", "median"] and words[4] == "ms" and lines[-1].endswith("the 100 ms target")
    assert words[5] == ("meets" if float(words[3]) < 100.0 else "MISSES")

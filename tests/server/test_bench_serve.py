"""`rmpsam-matte bench serve` end to end on a small plate with the tiny weights (a smoke test:
the numbers themselves are the benchmark's business, not the test's)."""

from __future__ import annotations

import json

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
    assert report["warm_click"]["median_ms"] > 0 and report["meets_target"] in (True, False)
    assert {"decode", "total", "encode", "http_and_json"} <= set(report["warm_server_timing_ms"])
    assert "features" in report["cold_server_timing_ms"]


def test_bench_serve_prints_a_table(tiny_weights):
    result = run_cli("bench", "serve", "--weights", tiny_weights, "--plate-size", "320x180", "--size", "160",
                     "--clicks", "2", "--threads", "1", timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split()[:4] == ["step", "n", "median", "ms"]
    assert any(line.startswith("server click, warm frame") for line in lines)
    assert "100 ms target" in lines[-1]

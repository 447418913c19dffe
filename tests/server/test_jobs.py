"""Whole-shot jobs through the server: started, followed (polled and streamed) to the end, cancelled."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from exr_channels import read_channels
from preview_client import FIRST_FRAME, NUM_FRAMES, wait_until

FRAMES = range(FIRST_FRAME, FIRST_FRAME + NUM_FRAMES)
JOB_TIMEOUT_S = 240.0


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains `text` (Linux /proc; empty elsewhere)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def start_job(server, prompts, output, **options) -> dict:
    response = server.request("POST", "/jobs", {"prompts": str(prompts), "output": str(output), "threads": 1, **options})
    assert response.status == 202, response
    job = response.json()
    assert response.headers["location"] == f"/jobs/{job['id']}"
    assert job["state"] == "running"
    return job


def test_a_job_streams_its_progress_to_completion_and_writes_every_frame(server, shot_dir, tmp_path):
    job = start_job(server, shot_dir / "prompts.json", tmp_path / "m.####.exr", overlap="exclusive")
    events = list(server.stream_lines(f"/jobs/{job['id']}/events", timeout=JOB_TIMEOUT_S))
    kinds = [event["event"] for event in events]
    assert kinds[0] == "start" and events[0]["frames"] == NUM_FRAMES, events[:2]
    assert [event["frame"] for event in events if event["event"] == "frame"] == list(FRAMES)
    assert [event["done"] for event in events if event["event"] == "frame"] == list(range(1, NUM_FRAMES + 1))
    assert kinds[-2:] == ["done", "job_state"] and events[-1] == {"event": "job_state", "state": "done", "exit_code": 0}
    status = server.request("GET", f"/jobs/{job['id']}").json()
    assert (status["state"], status["done"], status["total"], status["written"]) == ("done", NUM_FRAMES, NUM_FRAMES, NUM_FRAMES)
    assert sorted(path.name for path in tmp_path.glob("m.*.exr")) == [f"m.{frame}.exr" for frame in FRAMES]
    # the job ran the server's plate with the server's weights: nothing of it came from the client
    assert "--weights" in status["command"] and str(shot_dir / "plate.####.exr") in status["command"]
    assert "--overlap exclusive" in " ".join(status["command"])
    for path in tmp_path.glob("m.*.exr"):  # the client's overlap rule reached the mattes: they share pixels
        channels = read_channels(path)
        mattes = [plane for name, plane in channels.items() if name.endswith(".A") and "crypto" not in name.lower()]
        assert len(mattes) == 2 and float(np.max(np.sum(mattes, axis=0))) <= 1.0
    # a stream opened after the end replays everything and ends at once
    assert list(server.stream_lines(f"/jobs/{job['id']}/events", timeout=30)) == events


def test_a_polled_job_reports_growing_progress_until_done(server, shot_dir, tmp_path):
    job = start_job(server, shot_dir / "prompts.json", tmp_path / "p.####.exr", instances=["ellipse_1"], cryptomatte=False)
    seen = []
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        status = server.request("GET", f"/jobs/{job['id']}").json()
        seen.append(status["done"])
        if status["state"] != "running":
            break
        time.sleep(0.05)
    assert status["state"] == "done", status
    assert seen == sorted(seen) and seen[-1] == NUM_FRAMES and status["total"] == NUM_FRAMES
    assert len(list(tmp_path.glob("p.*.exr"))) == NUM_FRAMES
    assert "--instances" in status["command"] and "--no-cryptomatte" in status["command"]
    listed = server.request("GET", "/jobs").json()["jobs"]
    assert job["id"] in [entry["id"] for entry in listed]
    conflict = server.request("DELETE", f"/jobs/{job['id']}")
    assert conflict.status == 409 and "already finished" in conflict.json()["message"]


def test_a_job_that_fails_says_why(server, tmp_path):
    job = start_job(server, tmp_path / "no-such-prompts.json", tmp_path / "f.####.exr")
    status = wait_until(lambda: (s := server.request("GET", f"/jobs/{job['id']}").json())["state"] != "running" and s,
                        timeout=JOB_TIMEOUT_S, message="job end")
    assert status["state"] == "failed" and status["exit_code"] not in (0, None)
    assert "no-such-prompts.json" in status["message"], status
    assert server.request("GET", "/health").status == 200


def test_a_job_cancelled_midway_stops(start_server, long_shot, tmp_path):
    server = start_server(plate=str(long_shot / "plate.####.exr"))
    job = start_job(server, long_shot / "prompts.json", tmp_path / "c.####.exr")
    stream = server.stream_lines(f"/jobs/{job['id']}/events", timeout=JOB_TIMEOUT_S)
    for event in stream:  # cancel as soon as the first frame is on disk
        if event["event"] == "frame":
            break
    else:
        pytest.fail("the job ended without writing a frame")
    cancelled = server.request("DELETE", f"/jobs/{job['id']}")
    assert cancelled.status == 200, cancelled
    body = cancelled.json()
    assert body["state"] == "cancelled" and body["message"] == "cancelled", body
    assert body["exit_code"] != 0 and 1 <= body["done"] < 32, body
    rest = list(stream)  # the stream ends by itself, with the final state
    assert rest and rest[-1]["event"] == "job_state" and rest[-1]["state"] == "cancelled", rest[-3:]
    written = sorted(tmp_path.glob("c.*.exr"))
    assert 1 <= len(written) < 32
    time.sleep(1.0)  # the process is gone: nothing more appears
    assert sorted(tmp_path.glob("c.*.exr")) == written
    assert processes_mentioning(str(tmp_path / "c.####.exr")) == []
    health = server.request("GET", "/health").json()
    assert health["jobs"] == {"running": 0, "total": 1}
    again = server.request("DELETE", f"/jobs/{job['id']}")
    assert again.status == 409 and json.loads(again.body)["error"] == "conflict"


def test_shutting_the_server_down_cancels_its_running_job(start_server, long_shot, tmp_path):
    server = start_server(plate=str(long_shot / "plate.####.exr"))
    job = start_job(server, long_shot / "prompts.json", tmp_path / "s.####.exr")
    output = str(tmp_path / "s.####.exr")
    for event in server.stream_lines(f"/jobs/{job['id']}/events", timeout=JOB_TIMEOUT_S):
        if event["event"] == "frame":
            break
    assert processes_mentioning(output), "the job's process should be running"
    assert server.request("POST", "/shutdown").status == 200
    assert server.wait_exit(timeout=60) == 0
    assert json.loads(server.stdout_lines[-1]) == {"event": "stopped", "reason": "shutdown requested"}
    assert processes_mentioning(output) == []
    written = sorted(tmp_path.glob("s.*.exr"))
    assert 1 <= len(written) < 32

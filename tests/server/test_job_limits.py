"""What a job started through the server may do: write inside the output root only, never over the
plate, one at a time (429 beyond), threads at most the cores, under resource limits of its own."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from preview_client import FIRST_FRAME, NUM_FRAMES, wait_until
from test_jobs import processes_mentioning

JOB_TIMEOUT_S = 240.0

pytestmark = pytest.mark.timeout(400)


@pytest.fixture
def plate_folder(shot_dir, tmp_path) -> Path:
    """A copy of the shot (plate frames and prompts.json) in a folder of its own."""
    folder = tmp_path / "plates"
    shutil.copytree(shot_dir, folder)
    return folder


def snapshot_files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(path.relative_to(folder)): (path.lstat().st_size, path.lstat().st_mtime_ns)
            for path in sorted(folder.rglob("*"))}


def error_of(response, status: int, field: str = "output") -> dict:
    assert response.status == status, response
    body = json.loads(response.body)
    assert body["status"] == status and body.get("field") == field, body
    return body


def job_end(server, job_id: str, timeout: float = JOB_TIMEOUT_S) -> dict:
    return wait_until(lambda: (s := server.request("GET", f"/jobs/{job_id}").json())["state"] != "running" and s,
                      timeout=timeout, message=f"end of job {job_id}")


# ---- the output root ----------------------------------------------------------------------------

def test_outputs_outside_the_default_root_are_refused_with_403_and_nothing_is_written(start_server, plate_folder,
                                                                                       tmp_path):
    """By default the root is the plate's folder; the issue's `../../E_escape/deep` was created."""
    server = start_server(plate=str(plate_folder / "plate.####.exr"), default_root=True)
    root = str(plate_folder.resolve())
    assert server.request("GET", "/health").json()["limits"]["output_root"] == root
    outside = tmp_path / "elsewhere"
    (plate_folder / "link_out").symlink_to(outside, target_is_directory=True)
    before = snapshot_files(tmp_path)
    prompts = str(plate_folder / "prompts.json")
    for output in ["../../E_escape/deep/m.####.exr", str(outside / "m.####.exr"), "link_out/m.####.exr",
                   "sub/../../m.####.exr", "/m.####.exr"]:
        body = error_of(server.request("POST", "/jobs", {"prompts": prompts, "output": output, "threads": 1}), 403)
        assert body["error"] == "forbidden" and root in body["message"] and "--output-root" in body["message"], body
        assert output in body["message"], body
    assert snapshot_files(tmp_path) == before  # no folder made, nothing written
    assert not (tmp_path / "E_escape").exists() and not (plate_folder.parent.parent / "E_escape").exists()
    assert server.request("GET", "/jobs").json()["jobs"] == []  # no process was started


def test_a_job_inside_the_root_runs_and_relative_paths_start_at_the_root(start_server, plate_folder):
    server = start_server("--output-root", plate_folder, plate=str(plate_folder / "plate.####.exr"))
    response = server.request("POST", "/jobs", {"prompts": "prompts.json", "output": "mattes/m.####.exr",
                                                "threads": 1})
    assert response.status == 202, response
    job = response.json()
    assert job["output"] == str(plate_folder.resolve() / "mattes" / "m.####.exr")
    assert job["prompts"] == str(plate_folder.resolve() / "prompts.json")
    status = job_end(server, job["id"])
    assert status["state"] == "done", status
    assert len(list((plate_folder / "mattes").glob("m.*.exr"))) == NUM_FRAMES


def test_an_output_over_the_plate_is_refused_naming_both_paths(start_server, plate_folder):
    server = start_server("--output-root", plate_folder, plate=str(plate_folder / "plate.####.exr"))
    before = snapshot_files(plate_folder)
    plate_frame = plate_folder / f"plate.{FIRST_FRAME}.exr"
    for output in ["plate.####.exr", "./plate.%04d.exr", str(plate_folder / "sub" / ".." / "plate.$F4.exr")]:
        body = error_of(server.request("POST", "/jobs", {"prompts": "prompts.json", "output": output}), 403)
        assert str(plate_frame) in body["message"], body  # the plate frame
        assert f"plate frame {FIRST_FRAME}" in body["message"] and "refusing to overwrite" in body["message"], body
    body = error_of(server.request("POST", "/jobs", {"prompts": "prompts.json", "output": "mattes.exr"}), 400)
    assert "frame padding" in body["message"], body  # not an output pattern: refused before any process too
    assert snapshot_files(plate_folder) == before
    assert server.request("GET", "/jobs").json()["jobs"] == []


# ---- jobs at once -------------------------------------------------------------------------------

def test_concurrent_job_requests_start_one_job_and_the_rest_get_429(start_server, long_shot, tmp_path):
    server = start_server(plate=str(long_shot / "plate.####.exr"))
    answers: list = []
    barrier = threading.Barrier(12)

    def ask(index: int) -> None:
        barrier.wait(timeout=30)
        answers.append(server.request("POST", "/jobs", {"prompts": str(long_shot / "prompts.json"),
                                                        "output": str(tmp_path / f"c{index}" / "c.####.exr"),
                                                        "threads": 1}, timeout=60))

    threads = [threading.Thread(target=ask, args=(index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert len(answers) == 12
    accepted = [answer for answer in answers if answer.status == 202]
    refused = [answer for answer in answers if answer.status == 429]
    assert len(accepted) == 1 and len(refused) == 11, [answer.status for answer in answers]
    job_id = accepted[0].json()["id"]
    for answer in refused:
        body = json.loads(answer.body)
        assert body["error"] == "too_many_requests" and f"id {job_id}" in body["message"], body
        assert "--max-jobs" in body["message"] and int(answer.headers["retry-after"]) > 0
    assert [job["id"] for job in server.request("GET", "/jobs").json()["jobs"]] == [job_id]
    assert server.request("DELETE", f"/jobs/{job_id}").json()["state"] == "cancelled"
    again = server.request("POST", "/jobs", {"prompts": str(long_shot / "prompts.json"),
                                             "output": str(tmp_path / "again" / "c.####.exr"), "threads": 1})
    assert again.status == 202, again  # the slot is free once the job has ended
    assert server.request("DELETE", f"/jobs/{again.json()['id']}").status == 200


# ---- threads and resource limits ----------------------------------------------------------------

def test_threads_are_capped_at_the_cores_and_the_job_runs_under_its_limits(start_server, long_shot, tmp_path):
    """`"threads": 1000000000` was accepted and the child died; now it is the core count, and the
    child's own limits (data memory, no core dumps) are those the server was given."""
    server = start_server("--job-memory", "8", plate=str(long_shot / "plate.####.exr"))
    cores = len(os.sched_getaffinity(0))
    assert server.request("GET", "/health").json()["limits"]["max_job_threads"] == cores
    output = str(tmp_path / "t.####.exr")
    response = server.request("POST", "/jobs", {"prompts": str(long_shot / "prompts.json"), "output": output,
                                                "threads": 1_000_000_000})
    assert response.status == 202, response
    job = response.json()
    command = job["command"]
    assert command[command.index("--threads") + 1] == str(cores), command
    assert job["memory_limit_bytes"] == 8 * 2**30
    limits_seen = None
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while limits_seen is None and time.monotonic() < deadline:
        for pid in processes_mentioning(output):
            try:
                if b"child_limits.py" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    continue  # the launcher, before it set the limits and exec'd the job
                limits_seen = Path(f"/proc/{pid}/limits").read_text()
            except OSError:
                continue
        if server.request("GET", f"/jobs/{job['id']}").json()["state"] != "running":
            break
        time.sleep(0.05)
    assert limits_seen is not None, "the job's process was never seen running"
    rows = {line[:26].strip(): line[26:].split() for line in limits_seen.splitlines()[1:]}
    assert rows["Max data size"][:2] == [str(8 * 2**30)] * 2, rows["Max data size"]
    assert rows["Max core file size"][:2] == ["0", "0"], rows["Max core file size"]
    status = job_end(server, job["id"])
    assert status["state"] == "done" and status["exit_code"] == 0, status
    assert len(list(tmp_path.glob("t.*.exr"))) == 32


def test_the_default_memory_limit_is_three_quarters_of_ram(server):
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert server.request("GET", "/health").json()["limits"]["job_memory_limit_bytes"] == int(total * 0.75)


def test_a_job_over_its_memory_limit_fails_cleanly(start_server, tmp_path, shot_dir):
    server = start_server("--job-memory", "0.1")  # 100 MiB: not even enough to import torch
    response = server.request("POST", "/jobs", {"prompts": str(shot_dir / "prompts.json"),
                                                "output": str(tmp_path / "x.####.exr"), "threads": 1})
    assert response.status == 202, response
    status = job_end(server, response.json()["id"])
    assert status["state"] == "failed" and status["exit_code"] != 0, status
    # Python's MemoryError, C++'s std::bad_alloc or OpenBLAS's "Memory allocation still failed",
    # depending on which allocation fails first (that moves with the order the command imports in)
    assert any(text in status["message"].lower() for text in ("memoryerror", "bad_alloc", "memory")), status["message"]
    assert list(tmp_path.glob("x.*.exr")) == []
    assert server.request("GET", "/health").status == 200

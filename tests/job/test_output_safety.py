"""Nothing a run reads is ever written over, and two runs never write the same frames at once.

Through the real CLI: an output that resolves to the plates (spelled the same, spelled
differently, through a symlinked folder, a hard link, one `--segment`) or to the prompt file is
refused with exit 3 before anything is written, naming both paths, and the plates keep their
bytes. A second run on frames another live run is writing is refused with exit 4 naming the
holder; farm segments on disjoint frames run side by side; a killed holder leaves no lock behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest
from job_cli import EXECUTABLE, FIRST_FRAME, run_cli

from rmpsam_plugin.job.output_lock import OutputLock, OutputLockedError


def digests(folder) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir()) if path.is_file()}


@pytest.fixture
def own_shot(shot_dir, tmp_path):
    """A private copy of the shot: these tests try to overwrite it."""
    copy = tmp_path / "shot"
    shutil.copytree(shot_dir, copy)
    return copy


def args(shot, weights, output_pattern, *extra):
    return ["run", shot / "plate.####.exr", "--prompts", shot / "prompts.json", "-o", output_pattern,
            "--weights", weights, "--threads", "1", "--no-temporal", "--progress", "none", *extra]


@pytest.mark.parametrize("spelling", [
    "{shot}/plate.####.exr",
    "{shot}/./plate.%04d.exr",
    "{shot}/../shot/plate.$F4.exr",
    "{link}/plate.####.exr",
])
def test_output_onto_the_plates_is_refused_before_anything_is_written(own_shot, tiny_weights, tmp_path, spelling):
    (tmp_path / "alias").symlink_to(own_shot, target_is_directory=True)
    before = digests(own_shot)
    pattern = spelling.format(shot=own_shot, link=tmp_path / "alias")
    result = run_cli(*args(own_shot, tiny_weights, pattern))
    assert result.returncode == 3, result.stderr
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert f"plate frame {FIRST_FRAME}" in message and str(own_shot / f"plate.{FIRST_FRAME}.exr") in message
    assert digests(own_shot) == before
    assert not (own_shot / ".rmpsam_cache").exists() and not (own_shot / ".rmpsam_locks").exists()


def test_a_segment_onto_the_plates_is_refused_too(own_shot, tiny_weights):
    before = digests(own_shot)
    result = run_cli(*args(own_shot, tiny_weights, own_shot / "plate.####.exr", "--segment", "1005-1006",
                          "--progress", "json"))
    assert result.returncode == 3
    error = json.loads(result.stdout.splitlines()[-1])
    assert error["event"] == "error" and "output frame 1005" in error["message"]
    assert digests(own_shot) == before


def test_hard_linked_plate_is_recognised(own_shot, tiny_weights, tmp_path):
    """A frame of the output pattern that is a hard link to a plate is the same file on disk."""
    output = tmp_path / "out"
    output.mkdir()
    os.link(own_shot / f"plate.{FIRST_FRAME + 2}.exr", output / f"m.{FIRST_FRAME + 2}.exr")
    before = digests(own_shot)
    result = run_cli(*args(own_shot, tiny_weights, output / "m.####.exr"))
    assert result.returncode == 3 and f"output frame {FIRST_FRAME + 2}" in result.stderr
    assert digests(own_shot) == before


def test_output_onto_the_prompt_file_is_refused(own_shot, tiny_weights):
    prompts = own_shot / f"p.{FIRST_FRAME + 1}.exr"  # an odd name, but a file the run reads
    shutil.copy(own_shot / "prompts.json", prompts)
    before = prompts.read_bytes()
    result = run_cli("run", own_shot / "plate.####.exr", "--prompts", prompts, "-o", own_shot / "p.####.exr",
                     "--weights", tiny_weights, "--progress", "none")
    assert result.returncode == 3 and "prompt file" in result.stderr and str(prompts) in result.stderr
    assert prompts.read_bytes() == before


@pytest.mark.parametrize("pattern", ["x.exr", "m.####.png"])
def test_output_pattern_without_padding_or_exr_is_a_named_error(own_shot, tiny_weights, tmp_path, pattern):
    result = run_cli(*args(own_shot, tiny_weights, tmp_path / pattern))
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert "output pattern must be an .exr path with frame padding" in result.stderr and pattern in result.stderr


def test_second_run_on_the_same_frames_is_refused_while_the_first_runs(shot_dir, tiny_weights, tmp_path):
    output = tmp_path / "out" / "m.####.exr"
    first = subprocess.Popen([str(EXECUTABLE), *map(str, args(shot_dir, tiny_weights, output)[:-2]), "--progress", "json"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert json.loads(first.stdout.readline())["event"] == "start"  # it holds the lock from here on
        first.send_signal(signal.SIGSTOP)  # a tiny job ends in a second: hold it mid-run while the other starts
        second = run_cli(*args(shot_dir, tiny_weights, output, "--segment", "1004-1005"), timeout=120)
        first.send_signal(signal.SIGCONT)
        assert second.returncode == 4, second.stderr
        assert "another run is writing frames" in second.stderr and f"pid {first.pid}" in second.stderr
        rest = first.communicate(timeout=300)[0]
    finally:
        first.kill()
    assert first.returncode == 0
    assert json.loads(rest.splitlines()[-1]) == {**json.loads(rest.splitlines()[-1]), "event": "done", "written": 8}
    assert sorted(p.name for p in output.parent.glob("m.*.exr")) == [f"m.{f}.exr" for f in range(1001, 1009)]
    assert list(output.parent.glob(".*.partial")) == []


def test_disjoint_frames_lock_side_by_side_and_overlaps_exclude(tmp_path):
    pattern = str(tmp_path / "m.####.exr")
    with OutputLock(pattern, tmp_path, (1, 10)), OutputLock(pattern, tmp_path, (11, 20)):
        with pytest.raises(OutputLockedError, match=r"within 10-11: pid \d+ on .*frames 1-10.*frames 11-20"):
            OutputLock(pattern, tmp_path, (10, 11)).acquire()
    with OutputLock(pattern, tmp_path, (5, 15)):  # both released on leaving
        pass
    assert [p.suffix for p in (tmp_path / ".rmpsam_locks").iterdir()] == [".lock"]


def test_a_killed_holder_leaves_no_lock(tmp_path):
    holder = textwrap.dedent(f"""
        import sys, time
        from rmpsam_plugin.job.output_lock import OutputLock
        lock = OutputLock({str(tmp_path / 'm.####.exr')!r}, __import__('pathlib').Path({str(tmp_path)!r}), (1, 100))
        lock.acquire()
        print("held", flush=True)
        time.sleep(120)
    """)
    process = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "held"
        with pytest.raises(OutputLockedError, match=f"pid {process.pid}"):
            OutputLock(str(tmp_path / "m.####.exr"), tmp_path, (50, 50)).acquire()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    with OutputLock(str(tmp_path / "m.####.exr"), tmp_path, (50, 50)) as lock:
        holders = sorted(p.name for p in lock.directory.glob("*.holder"))
        assert holders == [lock.holder_path.name]  # the dead run's record was cleared as stale


def test_a_full_disk_during_a_run_exits_4_with_one_line(shot_dir, tiny_weights, tmp_path):
    """The run's files are capped at a size the propagation cache exceeds (as a full disk would)."""
    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, resource.RLIM_INFINITY))

    command = [str(EXECUTABLE), "run", str(shot_dir / "plate.####.exr"), "--prompts", str(shot_dir / "prompts.json"),
               "-o", str(tmp_path / "m.####.exr"), "--weights", str(tiny_weights), "--threads", "1", "--progress", "json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, preexec_fn=small_files)
    assert result.returncode == 4, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "File too large" in result.stderr
    error = json.loads(result.stdout.splitlines()[-1])
    assert error["event"] == "error" and "cannot write" in error["message"]
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith((".tmp", ".partial"))]

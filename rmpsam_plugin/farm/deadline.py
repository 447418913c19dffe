"""The shot as Deadline 10 jobs for its CommandLine plugin, and their `deadlinecommand` submission.

Two jobs, each a job-info file and a plugin-info file of `key=value` lines (Deadline's "Manual
Job Submission" page):

* `segments`: `Plugin=CommandLine`, `Frames` = the first frame of every keyframe segment,
  `ChunkSize=1`, so each task is one segment; plugin info `Executable` and `Arguments`, where
  Deadline replaces `<STARTFRAME>` by the task's frame and `farm segment` maps it to the
  segment's ordinary `run` (CommandLine tasks are frame chunks of one size, and segments differ
  in length, so the frame cannot carry the segment's end).
* `check`: one task, dependent on `segments`.

Both are submitted in one call, `deadlinecommand -SubmitMultipleJobs -dependent -job <job info>
<plugin info> -job ...`, where `-dependent` makes each job depend on the one before it: the
check job's dependency needs no job ID known in advance. Where `deadlinecommand` is not on
PATH, that command is printed for the wrangler to run where it is.

Deadline builds the process's command line from `Arguments` as text, so arguments are quoted
with double quotes where needed (`subprocess.list2cmdline`, the rule Windows programs parse).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rmpsam_plugin.errors import OutputError
from rmpsam_plugin.farm.plan import FarmJob

DEADLINECOMMAND = "deadlinecommand"


@dataclass(frozen=True)
class JobFiles:
    job_info: Path
    plugin_info: Path


def job_info(job: FarmJob, role: str, frames: str) -> dict[str, str]:
    estimate = max((job.estimate(task) for task in job.tasks), key=lambda e: e.peak_memory_mib)
    return {
        "Plugin": "CommandLine",
        "Name": f"{job.name} {role}",
        "BatchName": job.name,
        "Comment": (f"RMP-SAM mattes {job.shot_frames} of {job.settings.plate}; peak memory estimate "
                    f"{estimate.peak_memory_mib} MiB, {estimate.vcpus} cores"),
        "Frames": frames,
        "ChunkSize": "1",
    }


def plugin_info(job: FarmJob, arguments: list[str]) -> dict[str, str]:
    executable, *prefix = job.request.executable
    return {"Executable": executable, "Arguments": subprocess.list2cmdline([*prefix, *arguments])}


def write_job_files(job: FarmJob, directory: Path) -> list[JobFiles]:
    """segments then check, in the order they are submitted (the check depends on the first)."""
    directory.mkdir(parents=True, exist_ok=True)
    first, _ = job.plan.shot_range
    jobs = {
        "segments": (job_info(job, "segments", ",".join(str(task.first) for task in job.tasks)),
                     plugin_info(job, job.task_by_first_frame_arguments("<STARTFRAME>"))),
        "check": (job_info(job, "check", str(first)), plugin_info(job, job.check_arguments())),
    }
    written = []
    for role, (info, plugin) in jobs.items():
        files = JobFiles(directory / f"{role}.job_info.txt", directory / f"{role}.plugin_info.txt")
        _write_keys(files.job_info, info)
        _write_keys(files.plugin_info, plugin)
        written.append(files)
    return written


def submission_command(files: list[JobFiles], deadlinecommand: str = DEADLINECOMMAND) -> list[str]:
    command = [deadlinecommand, "-SubmitMultipleJobs", "-dependent"]
    for job_files in files:
        command += ["-job", str(job_files.job_info), str(job_files.plugin_info)]
    return command


def find_deadlinecommand() -> str | None:
    return shutil.which(DEADLINECOMMAND)


def submit(files: list[JobFiles], deadlinecommand: str) -> list[str]:
    """Run the submission; returns the job IDs Deadline printed (`JobID=...` lines)."""
    result = subprocess.run(submission_command(files, deadlinecommand), capture_output=True, text=True)
    ids = [line.split("=", 1)[1].strip() for line in result.stdout.splitlines() if line.startswith("JobID=")]
    if result.returncode != 0 or len(ids) != len(files):
        detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise OutputError(f"{deadlinecommand} did not submit the jobs (exit code {result.returncode}): "
                          f"{detail[-1] if detail else 'no output'}")
    return ids


def _write_keys(path: Path, keys: dict[str, str]) -> None:
    path.write_text("".join(f"{key}={value}\n" for key, value in keys.items()), encoding="utf-8")

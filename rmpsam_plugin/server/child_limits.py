"""Resource limits of a job's process: set in the child itself, then the job's command is exec'd.

A job started by the preview server runs on the artist's workstation next to Nuke. What is capped,
and why these and no others:

- data memory (`RLIMIT_DATA`: heap, anonymous private mappings, thread stacks) at
  `DEFAULT_JOB_MEMORY_FRACTION` of the machine's RAM, or `serve --job-memory GIB`. A job past it
  gets allocation failures and ends as a failed job with a message, instead of driving the
  machine into the kernel's out-of-memory killer, which may pick Nuke. A 2K job peaks near 2 GB,
  far below the cap on any machine that runs it. Not `RLIMIT_AS`: address space counts what is
  only reserved, never used (glibc reserves 64 MB per thread arena, up to 8 per core; CUDA reserves
  terabytes), so a cap low enough to protect the machine would fail normal jobs on machines with
  many cores or a GPU, while `RLIMIT_DATA` counts a reservation once it becomes writable.
- core dumps off (`RLIMIT_CORE` 0): a crashing job would otherwise write gigabytes of memory image.

No CPU-time limit (`RLIMIT_CPU`): a job's CPU time grows with the shot's length, the plate's size
and its thread count (hours for a long 2K shot on many cores), so a cap either fails real shots or
bounds nothing; a job that runs too long is cancelled (`DELETE /jobs/<id>`) or the server's jobs
are stopped with it. The CPU is shared by capping how many jobs run at once and their threads.

The limits are set by this file run as a tiny program (`python -I -S child_limits.py ... -- CMD`)
that calls `setrlimit` and execs the command, not by a `preexec_fn`: the server is threaded, and
Python code between fork and exec in a threaded process can deadlock. Soft and hard limits are
both set, so the job cannot raise them again.
"""

from __future__ import annotations

import os
import sys

try:
    import resource
except ImportError:  # not a POSIX system: jobs run without these limits
    resource = None

DEFAULT_JOB_MEMORY_FRACTION = 0.75


def physical_memory_bytes() -> int | None:
    """The machine's RAM, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def default_job_memory_bytes() -> int | None:
    total = physical_memory_bytes()
    return None if total is None else int(total * DEFAULT_JOB_MEMORY_FRACTION)


def limited_command(command: list[str], memory_bytes: int | None) -> list[str]:
    """`command`, run under the job limits (`memory_bytes` None: no memory cap, core dumps still off)."""
    if resource is None:
        return list(command)
    memory = "none" if memory_bytes is None else str(int(memory_bytes))
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), memory, "--", *command]


def apply_limits(memory_bytes: int | None) -> None:
    """Set this process's job limits (never above a hard limit already in place)."""
    if resource is None:
        return
    _lower(resource.RLIMIT_CORE, 0)
    if memory_bytes is not None:
        _lower(resource.RLIMIT_DATA, memory_bytes)


def _lower(which: int, value: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def main(arguments: list[str]) -> int:
    if len(arguments) < 3 or arguments[1] != "--":
        print("usage: child_limits.py MEMORY_BYTES|none -- COMMAND...", file=sys.stderr)
        return 2
    memory, command = arguments[0], arguments[2:]
    apply_limits(None if memory == "none" else int(memory))
    os.execvp(command[0], command)
    return 1  # not reached: exec replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

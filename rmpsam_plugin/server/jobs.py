"""Whole-shot jobs: `rmpsam-matte run ... --progress json` as child processes, watched and stoppable.

A job is the real command line a farm would run, not an in-process shortcut: the same exit codes,
the same output files, the same resume behaviour, and a crash in it cannot take the preview server
down. Its stdout is one JSON object per line (`start`, `frame`, `done`, `error` events); each line
is kept, progress is read from the `frame` and `skip` events, and clients can stream the lines as they come.

Cancelling terminates the child's whole process group (SIGTERM, the signal the command treats as
"interrupted", exit 5), then kills it if it has not gone within `TERMINATE_GRACE_S`.

Caps, so that a token holder cannot flood the machine (400 requests once started 22 jobs): at most
`max_running` jobs run at once (`serve --max-jobs`, default `DEFAULT_MAX_RUNNING_JOBS`), another
request is answered 429 with `Retry-After`; a job's `threads` is lowered to the cores this process
may use; every child runs under the resource limits of `child_limits`. Paths are checked first
(`job_paths`): outputs stay inside the output root and off the plate.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

from rmpsam_plugin.server.child_limits import limited_command
from rmpsam_plugin.server.http_errors import too_many_requests
from rmpsam_plugin.server.job_paths import JobPaths
from rmpsam_plugin.server.request_bodies import JobRequest

RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"
TERMINATE_GRACE_S = 5.0
STDERR_LINES_KEPT = 40
# One job already runs the network on every core; a second only makes both slower (and a decode
# waits behind both). `serve --max-jobs` raises it.
DEFAULT_MAX_RUNNING_JOBS = 1
RETRY_AFTER_S = 10  # what a 429 suggests; a job lasts minutes, a client polling every 10 s misses little

# The installed command, run by the interpreter serving now, so a job uses the same installation.
DEFAULT_CLI = (sys.executable, "-c", "import sys; from rmpsam_cli.main import main; sys.exit(main(prog_name='rmpsam-matte'))")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system has one, else all)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class Job:
    """One child process and everything it said. Thread-safe: all state changes hold `_changed`."""

    def __init__(self, job_id: str, command: list[str], request: JobRequest, memory_limit_bytes: int | None = None) -> None:
        self.id = job_id
        self.command = command
        self.request = request
        self.memory_limit_bytes = memory_limit_bytes
        self.state = RUNNING
        self.events: list[dict] = []
        self.done_frames = 0
        self.total_frames: int | None = None
        self.written: int | None = None
        self.exit_code: int | None = None
        self.message: str | None = None
        self.started_at = time.time()
        self.finished_at: float | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)
        self._cancel_requested = False
        self._changed = threading.Condition()
        self._process: subprocess.Popen | None = None
        self._stderr_reader: threading.Thread | None = None

    # ---- what clients see ----------------------------------------------------------------
    def snapshot(self) -> dict:
        with self._changed:
            return {
                "id": self.id,
                "state": self.state,
                "done": self.done_frames,
                "total": self.total_frames,
                "written": self.written,
                "output": self.request.output,
                "prompts": self.request.prompts,
                "exit_code": self.exit_code,
                "message": self.message,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "command": self.command,
                "memory_limit_bytes": self.memory_limit_bytes,
            }

    @property
    def finished(self) -> bool:
        with self._changed:
            return self.state != RUNNING

    def iter_events(self, stop: threading.Event, poll_s: float = 0.25) -> Iterator[dict]:
        """Every event from the first, then new ones as they arrive, until the job has finished
        (or `stop` is set: the server is going down)."""
        sent = 0
        while True:
            with self._changed:
                while sent == len(self.events) and self.state == RUNNING and not stop.is_set():
                    self._changed.wait(poll_s)
                pending = self.events[sent:]
                finished = self.state != RUNNING
            yield from pending
            sent += len(pending)
            if (finished and sent == len(self.events)) or stop.is_set():
                return

    # ---- the process ------------------------------------------------------------------------
    def start(self, environment: dict[str, str] | None = None) -> None:
        self._process = subprocess.Popen(
            limited_command(self.command, self.memory_limit_bytes),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, encoding="utf-8", errors="replace", bufsize=1, env=environment,
            start_new_session=True,  # its own process group: cancelling stops its children too
        )
        self._stderr_reader = threading.Thread(target=self._read_stderr, name=f"job-{self.id}-stderr", daemon=True)
        self._stderr_reader.start()
        threading.Thread(target=self._read_stdout, name=f"job-{self.id}-stdout", daemon=True).start()

    def cancel(self, wait_s: float = TERMINATE_GRACE_S + 2.0) -> None:
        """Terminate the process group (kill after the grace period); wait for the state to settle."""
        with self._changed:
            if self.state != RUNNING:
                return
            self._cancel_requested = True
        _signal_group(self._process, signal.SIGTERM)
        deadline = time.monotonic() + TERMINATE_GRACE_S
        while self._process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._process.poll() is None:
            _signal_group(self._process, signal.SIGKILL)
        with self._changed:
            self._changed.wait_for(lambda: self.state != RUNNING, timeout=wait_s)

    def _read_stdout(self) -> None:
        for line in self._process.stdout:
            if line.strip():
                self._record(_event_from_line(line))
        exit_code = self._process.wait()
        self._stderr_reader.join(timeout=2.0)  # its last lines explain a failure
        self._finish(exit_code)

    def _read_stderr(self) -> None:
        for line in self._process.stderr:
            with self._changed:
                self._stderr_tail.append(line.rstrip("\n"))

    def _record(self, event: dict) -> None:
        with self._changed:
            self.events.append(event)
            kind = event.get("event")
            if kind == "start" and isinstance(event.get("frames"), int):
                self.total_frames = event["frames"]
            elif kind in ("frame", "skip"):  # a frame written now, or found already written (resume)
                self.done_frames = int(event.get("done", self.done_frames + 1))
                if isinstance(event.get("total"), int):
                    self.total_frames = event["total"]
            elif kind == "done":
                self.written = event.get("written")
            elif kind == "error":
                self.message = str(event.get("message", "error"))
            self._changed.notify_all()

    def _finish(self, exit_code: int) -> None:
        with self._changed:
            self.exit_code = exit_code
            if self._cancel_requested and exit_code != 0:
                self.state, self.message = CANCELLED, "cancelled"
            elif exit_code == 0:  # also when a cancel came after the last frame was written: it is done
                self.state = DONE
            else:
                self.state = FAILED
                if self.message is None:
                    self.message = "; ".join(self._stderr_tail) or f"exited with code {exit_code}"
            self.finished_at = time.time()
            self.events.append({"event": "job_state", "state": self.state, "exit_code": exit_code})
            self._changed.notify_all()


def _event_from_line(line: str) -> dict:
    """A progress line -> its JSON object; anything else (a stray print) -> a `log` event."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return {"event": "log", "line": line.rstrip("\n")}
    return event if isinstance(event, dict) else {"event": "log", "line": line.rstrip("\n")}


def _signal_group(process: subprocess.Popen, signal_number: int) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal_number)
        elif signal_number == signal.SIGTERM:
            process.terminate()
        else:
            process.kill()
    except ProcessLookupError:
        pass  # already gone


class JobManager:
    """Starts jobs on the server's plate, finds them by id, cancels them.

    `server_arguments` are the `run` options that must match the preview (`--weights`, `--size`,
    `--layer`, `--colour-space`): the server decides them, not the client, so a job writes on each
    keyframe the matte its preview showed. `paths` (None: paths passed as they are) keeps outputs
    in the output root; `memory_limit_bytes` is each child's data-memory cap (None: none).
    """

    def __init__(self, plate_pattern: str, server_arguments: list[str] | tuple[str, ...] = (),
                 cli_command: tuple[str, ...] | list[str] = DEFAULT_CLI,
                 environment: dict[str, str] | None = None, *, paths: JobPaths | None = None,
                 max_running: int = DEFAULT_MAX_RUNNING_JOBS, max_threads: int | None = None,
                 memory_limit_bytes: int | None = None) -> None:
        if max_running < 1:
            raise ValueError(f"at least one job must be allowed to run, got {max_running}")
        self.plate_pattern = plate_pattern
        self.server_arguments = list(server_arguments)
        self.cli_command = list(cli_command)
        self.environment = environment
        self.paths = paths
        self.max_running = max_running
        self.max_threads = max_threads if max_threads is not None else available_cores()
        self.memory_limit_bytes = memory_limit_bytes
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def command_for(self, request: JobRequest) -> list[str]:
        return (self.cli_command + ["run", self.plate_pattern] + request.run_arguments() + self.server_arguments
                + ["--progress", "json"])

    def start(self, request: JobRequest) -> Job:
        """Start a job; HttpError 400/403 for its paths (`JobPaths`), 429 when `max_running` run already."""
        if self.paths is not None:
            request = self.paths.checked(request)
        if request.threads is not None and request.threads > self.max_threads:
            request = dataclasses.replace(request, threads=self.max_threads)
        with self._lock:  # counted and started under one hold: concurrent requests cannot overshoot
            running = [job for job in self._jobs.values() if not job.finished]
            if len(running) >= self.max_running:
                ids = ", ".join(job.id for job in running)
                raise too_many_requests(
                    f"{len(running)} job(s) running already (id {ids}) and this server runs at most {self.max_running} "
                    f"at once (serve --max-jobs): wait for one to finish, or cancel it (DELETE /jobs/<id>)",
                    RETRY_AFTER_S)
            job = Job(str(next(self._ids)), self.command_for(request), request, self.memory_limit_bytes)
            job.start(self.environment)  # under the lock: a job is counted once its process exists
            self._jobs[job.id] = job
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def has_running(self) -> bool:
        return any(not job.finished for job in self.all())

    def cancel_all(self) -> None:
        for job in self.all():
            job.cancel()

"""Whole-shot jobs: `rmpsam-matte run ... --progress json` as child processes, watched and stoppable.

A job is the real command line a farm would run, not an in-process shortcut: the same exit codes,
the same output files, the same resume behaviour, and a crash in it cannot take the preview server
down. Its stdout is one JSON object per line (`start`, `frame`, `done`, `error` events); each line
is kept, progress is read from the `frame` and `skip` events, and clients can stream the lines as they come.

Cancelling terminates the child's whole process group (SIGTERM, the signal the command treats as
"interrupted", exit 5), then kills it if it has not gone within `TERMINATE_GRACE_S`.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

from rmpsam_plugin.server.request_bodies import JobRequest

RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"
TERMINATE_GRACE_S = 5.0
STDERR_LINES_KEPT = 40
# The installed command, run by the interpreter serving now, so a job uses the same installation.
DEFAULT_CLI = (sys.executable, "-c", "import sys; from rmpsam_cli.main import main; sys.exit(main(prog_name='rmpsam-matte'))")


class Job:
    """One child process and everything it said. Thread-safe: all state changes hold `_changed`."""

    def __init__(self, job_id: str, command: list[str], request: JobRequest) -> None:
        self.id = job_id
        self.command = command
        self.request = request
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
            self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
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
    keyframe the matte its preview showed.
    """

    def __init__(self, plate_pattern: str, server_arguments: list[str] | tuple[str, ...] = (),
                 cli_command: tuple[str, ...] | list[str] = DEFAULT_CLI,
                 environment: dict[str, str] | None = None) -> None:
        self.plate_pattern = plate_pattern
        self.server_arguments = list(server_arguments)
        self.cli_command = list(cli_command)
        self.environment = environment
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def command_for(self, request: JobRequest) -> list[str]:
        return (self.cli_command + ["run", self.plate_pattern] + request.run_arguments() + self.server_arguments
                + ["--progress", "json"])

    def start(self, request: JobRequest) -> Job:
        with self._lock:
            job = Job(str(next(self._ids)), self.command_for(request), request)
            self._jobs[job.id] = job
        job.start(self.environment)
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

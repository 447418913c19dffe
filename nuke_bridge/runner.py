"""Run `rmpsam-matte run` in the background with a Nuke progress bar that can cancel it.

Threads: Nuke's node graph may only be touched from the main thread, so the worker thread here
touches no node and no knob. Everything it needs (command, paths, instance names) is gathered on
the main thread before it starts; when the process ends, the result goes back through
`nuke.executeInMainThread(on_finished, ...)`, and only that callback (on the main thread) loads
nodes. `nuke.ProgressTask` is not a node: Foundry's own example creates and updates it from the
worker thread, and `isCancelled()` is how the artist's Cancel button reaches us.

Cancelling sends SIGINT (CTRL_BREAK on Windows): the CLI exits with code 5 after finishing the
frame in hand, its writes are atomic, and rerunning the same job resumes; after a grace period
the process is killed.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import threading
import time
from typing import Callable, List, NamedTuple, Optional, Sequence

import nuke

from .progress import ProgressState

POLL_S = 0.2
CANCEL_GRACE_S = 20.0
INTERRUPTED_EXIT = 5  # rmpsam_cli.exit_codes.INTERRUPTED


class RunResult(NamedTuple):
    returncode: Optional[int]
    cancelled: bool
    error: Optional[str]        # the CLI's error event, else the end of its stderr on failure
    done_event: Optional[dict]
    events: List[dict]
    command: List[str]

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.cancelled


def run_command(prefix: Sequence[str], plate: str, prompts: str, output: str, frames: Optional[Sequence[int]] = None,
                weights: Optional[str] = None, threads: int = 0, cryptomatte: bool = True,
                extra: Sequence[str] = ()) -> List[str]:
    """The argv of one run, `--progress json` always (this module parses it)."""
    command = list(prefix) + ["run", plate, "--prompts", prompts, "--output", output, "--progress", "json"]
    if frames is not None:
        command += ["--frames", "%d-%d" % (frames[0], frames[1])]
    if weights:
        command += ["--weights", weights]
    if threads:
        command += ["--threads", str(int(threads))]
    if not cryptomatte:
        command.append("--no-cryptomatte")
    return command + list(extra)


class BackgroundRun:
    """One process, one monitoring thread, one ProgressTask. `start()` returns at once."""

    def __init__(self, command: Sequence[str], title: str,
                 on_finished: Optional[Callable[[RunResult], None]] = None) -> None:
        self.command = list(command)
        self.title = title
        self.on_finished = on_finished
        self.state = ProgressState()
        self.result = None  # type: Optional[RunResult]
        self.finished = threading.Event()
        self._process = None  # type: Optional[subprocess.Popen]
        self._stderr_tail = collections.deque(maxlen=40)  # type: collections.deque
        self._thread = None  # type: Optional[threading.Thread]

    def start(self) -> "BackgroundRun":
        kwargs = {}
        if os.name == "nt":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        self._process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         stdin=subprocess.DEVNULL, universal_newlines=True, bufsize=1, **kwargs)
        self._thread = threading.Thread(target=self._monitor, name="rmpsam-run", daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self.finished.wait(timeout)

    # ---- worker thread: no nodes below this line ---------------------------------------------
    def _monitor(self) -> None:
        process = self._process
        lines = collections.deque()  # type: collections.deque
        readers = [threading.Thread(target=_pump, args=(process.stdout, lines.append), daemon=True),
                   threading.Thread(target=_pump, args=(process.stderr, self._stderr_tail.append), daemon=True)]
        for reader in readers:
            reader.start()
        task = nuke.ProgressTask(self.title)
        task.setMessage("starting rmpsam-matte")
        cancelled = False
        cancel_deadline = None
        try:
            while True:
                while lines:
                    self.state.feed(lines.popleft())
                    task.setProgress(self.state.percent)
                    task.setMessage(self.state.message)
                if process.poll() is not None and not readers[0].is_alive():
                    while lines:
                        self.state.feed(lines.popleft())
                    break
                if not cancelled and task.isCancelled():
                    cancelled = True
                    cancel_deadline = time.monotonic() + CANCEL_GRACE_S
                    task.setMessage("cancelling (the frame in hand is finished first)")
                    _interrupt(process)
                elif cancelled and time.monotonic() > cancel_deadline and process.poll() is None:
                    process.kill()
                readers[0].join(POLL_S)
            for reader in readers:
                reader.join(5.0)
        finally:
            del task  # Nuke closes the progress bar when the task object goes away
        error = self.state.error
        if process.returncode not in (0, None) and not error and not cancelled:
            error = "".join(self._stderr_tail).strip() or "rmpsam-matte exited with code %s" % process.returncode
        self.result = RunResult(process.returncode, cancelled, error, self.state.done_event, list(self.state.events),
                                self.command)
        self.finished.set()
        if self.on_finished is not None:
            nuke.executeInMainThread(self.on_finished, args=(self.result,))


def _pump(stream, sink: Callable[[str], None]) -> None:
    try:
        for line in iter(stream.readline, ""):
            sink(line)
    finally:
        stream.close()


def _interrupt(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    if os.name == "nt":
        process.send_signal(signal.CTRL_BREAK_EVENT)
    else:
        process.send_signal(signal.SIGINT)

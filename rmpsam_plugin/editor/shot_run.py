"""Running the shot: the ordinary `rmpsam-matte run ... --progress json` as a child process.

The editor runs exactly what a farm would, so a shot reviewed here is the shot a farm writes.
The child gets its own process group, and Cancel signals the whole group (SIGTERM, then SIGKILL
after `CANCEL_GRACE_S`), so nothing it started outlives it. Its JSON progress lines are read on a
thread and arrive as Qt signals; the UI never waits on the child.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections import deque

from PyQt5.QtCore import QObject, pyqtSignal

from rmpsam_plugin.server.jobs import DEFAULT_CLI

CANCEL_GRACE_S = 5.0


class ShotRun(QObject):
    progress = pyqtSignal(int, int)  # frames done, total
    finished = pyqtSignal(int, str)  # exit code, message ('' when it succeeded)

    def __init__(self, run_arguments: list[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.arguments = [*DEFAULT_CLI, "run", *run_arguments, "--progress", "json"]
        self.process: subprocess.Popen | None = None
        self.cancelled = False
        self._stderr: deque[str] = deque(maxlen=20)
        self._error = ""

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        self.process = subprocess.Popen(self.arguments, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, start_new_session=True)
        threading.Thread(target=self._read_stderr, name="run-stderr", daemon=True).start()
        threading.Thread(target=self._read_progress, name="run-progress", daemon=True).start()

    def cancel(self) -> None:
        """Stop the run's process group; returns at once (a thread kills it if it lingers)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.cancelled = True
        self._signal(signal.SIGTERM)
        threading.Thread(target=self._kill_if_lingering, name="run-cancel", daemon=True).start()

    def _signal(self, number: int) -> None:
        try:
            os.killpg(self.process.pid, number)
        except ProcessLookupError:
            pass

    def _kill_if_lingering(self) -> None:
        try:
            self.process.wait(CANCEL_GRACE_S)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self._stderr.append(line.rstrip())

    def _read_progress(self) -> None:
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("event") in ("frame", "skip"):
                self.progress.emit(int(event["done"]), int(event["total"]))
            elif event.get("event") == "start":
                self.progress.emit(0, int(event["frames"]))
            elif event.get("event") == "error":
                self._error = str(event.get("message", ""))
        code = self.process.wait()
        self._signal(signal.SIGKILL)  # anything the run left in its group goes with it
        if self.cancelled:
            message = "cancelled; run again to resume"
        elif code != 0:
            message = self._error or (self._stderr[-1] if self._stderr else f"exit code {code}")
        else:
            message = ""
        self.finished.emit(code, message)

"""A background thread for work the UI must not wait on: network decodes, plate reads.

The UI thread only ever submits and later receives a signal, so it never blocks on the network
or the disk. Jobs are keyed: a newer job for a key replaces one still waiting (ten quick clicks
on one instance cost one decode of the latest prompts, not ten queued ones), and jobs run in the
order their keys were first submitted. `setup` runs first on the thread (loading weights takes
seconds) and its result is handed to every job.

Signals are emitted from the worker thread; Qt queues them to the receivers' (UI) thread.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from PyQt5.QtCore import QObject, pyqtSignal

Job = Callable[[object, Callable[[str], None]], object]  # (context, report) -> result


class BackgroundWorker(QObject):
    finished = pyqtSignal(object, object, float)  # key, result, seconds since submitted
    failed = pyqtSignal(object, str)  # key, message
    busyChanged = pyqtSignal(bool, str)  # busy, what it is doing
    ready = pyqtSignal()
    setupFailed = pyqtSignal(str)

    def __init__(self, name: str, setup: Callable[[], object] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._setup = setup
        self._pending: OrderedDict[object, tuple[Job, float]] = OrderedDict()
        self._condition = threading.Condition()
        self._stopping = False
        self.context: object = None
        self.is_ready = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, key: object, job: Job) -> None:
        """Queue `job` under `key`, replacing a job of that key not yet started. Never blocks."""
        with self._condition:
            submitted = self._pending[key][1] if key in self._pending else time.perf_counter()
            self._pending[key] = (job, submitted)
            self._condition.notify()

    def discard(self, key: object) -> None:
        with self._condition:
            self._pending.pop(key, None)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop after the job in hand (a network call cannot be interrupted); waits at most
        `timeout_s`, after which the daemon thread is left to finish on its own."""
        with self._condition:
            self._stopping = True
            self._pending.clear()
            self._condition.notify()
        self._thread.join(timeout_s)

    def _loop(self) -> None:
        if self._setup is not None:
            self.busyChanged.emit(True, "loading the network")
            try:
                self.context = self._setup()
            except Exception as error:  # reported to the artist, who can choose other weights
                self.busyChanged.emit(False, "")
                self.setupFailed.emit(str(error) or type(error).__name__)
                return
        self.is_ready = True
        self.ready.emit()
        busy = self._setup is not None  # still showing "loading the network": cleared when idle
        while True:
            with self._condition:
                if not self._pending and busy:
                    busy = False
                    self.busyChanged.emit(False, "")
                while not self._pending and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    return
                key, (job, submitted) = self._pending.popitem(last=False)
            busy = True
            self.busyChanged.emit(True, "working")
            try:
                result = job(self.context, lambda what: self.busyChanged.emit(True, what))
            except Exception as error:  # one bad frame or prompt must not stop the previews
                self.failed.emit(key, str(error) or type(error).__name__)
                continue
            self.finished.emit(key, result, time.perf_counter() - submitted)

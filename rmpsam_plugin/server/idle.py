"""The idle timer: a preview server nobody talks to ends itself.

Artists start a server from Nuke and forget it; a warm network holds hundreds of megabytes and a
listening port. Every request counts as activity, from the moment its token is accepted until its
answer has been sent (a slow upload, a long decode or a stream of job events is never cut off), and
so does a running job (a client may only be checking on it every few minutes): `busy` says whether
either is under way. The server only ends when nothing has happened for `timeout_s` seconds since
the last request ended, none is in progress and no job is running.
"""

from __future__ import annotations

import threading
import time
from typing import Callable


class IdleTimer:
    def __init__(self, timeout_s: float, busy: Callable[[], bool], on_idle: Callable[[], None]) -> None:
        if timeout_s <= 0:
            raise ValueError(f"idle timeout must be positive, got {timeout_s}")
        self.timeout_s = timeout_s
        self._busy = busy
        self._on_idle = on_idle
        self._last_activity = time.monotonic()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="idle-timer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def touch(self) -> None:
        """Record activity now."""
        self._last_activity = time.monotonic()

    def idle_for(self) -> float:
        return time.monotonic() - self._last_activity

    def _watch(self) -> None:
        check_every = min(1.0, self.timeout_s / 4)
        while not self._stopped.wait(check_every):
            if self._busy():
                self.touch()
            elif self.idle_for() >= self.timeout_s:
                self._on_idle()
                return

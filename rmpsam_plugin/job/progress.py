"""Progress for people (a bar on stderr) and for machines (one JSON object per line on stdout).

Render-farm wranglers parse the JSON lines; the event names and fields are part of the
interface (README "Progress events"): `detect` (prompt-free mode only), `start`, `propagate`,
`frame`, `skip`, `done`, `error`.

Thread-safe: frames are reported by the threads that write them while the network reports its
propagation steps, and each event stays one whole line.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Callable, TextIO

from tqdm import tqdm


class ProgressReporter:
    def __init__(self, mode: str = "bar", stream: TextIO | None = None,
                 listener: Callable[[dict], None] | None = None) -> None:
        """`listener`: called with every event as a dict, the same objects `json` mode prints
        (the Python API's progress callback), whatever the mode."""
        if mode not in ("bar", "json", "none"):
            raise ValueError(f"progress mode must be bar, json or none, not {mode!r}")
        self.mode = mode
        self.listener = listener
        self.stream = stream or sys.stdout
        self._bar: tqdm | None = None
        self._started = time.monotonic()
        self._lock = threading.RLock()

    def detected(self, frame: int, instances: int, total: int) -> None:
        """Prompt-free mode: one frame searched for instances (before any matte is written)."""
        self._emit({"event": "detect", "frame": frame, "instances": instances, "total": total})
        if self.mode == "bar":
            if self._bar is None:
                self._bar = tqdm(total=total, unit="frame", desc="finding instances", file=sys.stderr, dynamic_ncols=True)
            self._bar.update(1)
            if self._bar.n >= total:
                self._bar.close()
                self._bar = None

    def start(self, total_frames: int, **details: object) -> None:
        self._emit({"event": "start", "frames": total_frames, **details})
        if self.mode == "bar":
            self._bar = tqdm(total=total_frames, unit="frame", desc="mattes", file=sys.stderr, dynamic_ncols=True)

    def propagated(self, direction: str, frame: int) -> None:
        with self._lock:
            self._emit({"event": "propagate", "direction": direction, "frame": frame})
            if self._bar is not None:
                self._bar.set_postfix_str(f"{direction} {frame}", refresh=True)

    def frame_written(self, frame: int, path: str, done: int, total: int, skipped: bool = False) -> None:
        with self._lock:
            self._emit({"event": "skip" if skipped else "frame", "frame": frame, "path": path, "done": done, "total": total})
            if self._bar is not None:
                self._bar.update(1)

    def done(self, written: int, skipped: int, output: str) -> None:
        if self._bar is not None:
            self._bar.close()
        self._emit({"event": "done", "written": written, "skipped": skipped, "output": output,
                    "seconds": round(time.monotonic() - self._started, 3)})

    def error(self, message: str, **details: object) -> None:
        if self._bar is not None:
            self._bar.close()
        self._emit({"event": "error", "message": message, **details})

    def _emit(self, event: dict) -> None:
        if self.listener is not None:
            self.listener(dict(event))
        if self.mode == "json":
            self.stream.write(json.dumps(event) + "\n")
            self.stream.flush()

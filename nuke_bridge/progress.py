"""`rmpsam-matte run --progress json` lines -> what a progress bar shows.

The events are the CLI's documented interface (rmpsam_plugin/job/progress.py): `start` (frames),
`propagate` (direction, frame), `frame`/`skip` (frame, path, done, total), `done`, `error`
(message). Lines that are not JSON objects (a library's stray print) are ignored, not fatal: the
exit code, not the chatter, decides success.
"""

from __future__ import annotations

import json
from typing import Optional


class ProgressState:
    """Folds events into a percentage and a message; keeps the last error and the done event."""

    def __init__(self) -> None:
        self.total = 0
        self.done_frames = 0
        self.percent = 0
        self.message = "starting"
        self.error = None  # type: Optional[str]
        self.done_event = None  # type: Optional[dict]
        self.events = []  # type: list

    def feed(self, line: str) -> Optional[dict]:
        """Take one stdout line; returns the event it carried, or None."""
        try:
            event = json.loads(line)
        except ValueError:
            return None
        if not isinstance(event, dict) or "event" not in event:
            return None
        self.events.append(event)
        kind = event["event"]
        if kind == "start":
            self.total = int(event.get("frames", 0))
            self.message = "%d frames to matte" % self.total
        elif kind == "propagate":
            self.message = "tracking %s, frame %s" % (event.get("direction", ""), event.get("frame", ""))
        elif kind in ("frame", "skip"):
            self.done_frames = int(event.get("done", self.done_frames + 1))
            self.total = int(event.get("total", self.total))
            verb = "kept" if kind == "skip" else "wrote"
            self.message = "%s frame %s (%d/%d)" % (verb, event.get("frame"), self.done_frames, self.total)
        elif kind == "done":
            self.done_event = event
            self.done_frames = self.total or self.done_frames
            self.message = "done: %s written, %s kept" % (event.get("written", 0), event.get("skipped", 0))
        elif kind == "error":
            self.error = str(event.get("message", "unknown error"))
            self.message = "error: " + self.error
        if self.total:
            self.percent = max(0, min(100, int(100 * self.done_frames / self.total)))
        if kind == "done":
            self.percent = 100
        return event

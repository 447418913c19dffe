"""Where a job's CPU goes, step by step: a timing hook that costs nothing when nobody listens.

The job's steps (reading, network image, edge guide, refinement, stabiliser, Cryptomatte, EXR
write...) run on several threads at once: the network's, the plate readers' and the finishing
pool's. Each step is therefore timed on its own thread with `time.thread_time` (CPU seconds of
that thread alone) and `time.perf_counter` (wall seconds), so steps running side by side do not
count each other's work. A step inside another (plate reads the network asks for) is counted
once, in the inner step. What this does not see: helper threads a step hands work to (torch's
intra-op threads under the network, OpenCV's parallel loops): their CPU shows only in the whole
process's CPU, which `bench pipeline --breakdown` prints beside the steps.

Off (the default) `step` returns one shared do-nothing context: a job that is not measured pays
a function call per step, nothing else. `recording()` turns it on for the process while a bench
runs one job.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from collections.abc import Iterator

_OFF = contextlib.nullcontext()


class StepRecorder:
    """Thread CPU and wall seconds per step name, summed over every thread and every call."""

    def __init__(self) -> None:
        self.cpu_seconds: dict[str, float] = defaultdict(float)
        self.wall_seconds: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()
        self._threads = threading.local()

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        stack = self._threads.__dict__.setdefault("stack", [])
        stack.append([0.0, 0.0])  # CPU and wall seconds of steps inside this one, on this thread
        cpu_start, wall_start = time.thread_time(), time.perf_counter()
        try:
            yield
        finally:
            cpu, wall = time.thread_time() - cpu_start, time.perf_counter() - wall_start
            inner_cpu, inner_wall = stack.pop()
            if stack:
                stack[-1][0] += cpu
                stack[-1][1] += wall
            with self._lock:
                self.cpu_seconds[name] += cpu - inner_cpu
                self.wall_seconds[name] += wall - inner_wall


_recorder: StepRecorder | None = None


def step(name: str) -> contextlib.AbstractContextManager:
    """`with step("EXR write"): ...` times the block while `recording()` is on; otherwise nothing."""
    recorder = _recorder
    return _OFF if recorder is None else recorder.step(name)


@contextlib.contextmanager
def recording() -> Iterator[StepRecorder]:
    """Record every step of this process until the block ends (one measured job at a time)."""
    global _recorder
    previous, _recorder = _recorder, StepRecorder()
    try:
        yield _recorder
    finally:
        _recorder = previous

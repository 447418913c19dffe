"""The step timing hook: off it is one shared no-op; on, each step counts its own time, nested steps once."""

from __future__ import annotations

import threading
import time

from rmpsam_plugin import step_timing
from rmpsam_plugin.step_timing import recording, step


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_off_every_step_is_the_same_do_nothing_context():
    assert step("read") is step("EXR write")
    with step("read"):
        pass
    assert step_timing._recorder is None


def test_nested_steps_count_once_and_threads_do_not_count_each_other():
    with recording() as recorder:
        def finish() -> None:
            with step("refinement"):
                _spin(0.05)

        with step("network"):
            _spin(0.05)
            with step("read"):
                _spin(0.03)
            worker = threading.Thread(target=finish)
            worker.start()
            worker.join()  # waiting costs this thread wall time, not CPU
    assert step("read") is step("network")  # off again after the block
    cpu, wall = recorder.cpu_seconds, recorder.wall_seconds
    assert 0.045 <= cpu["network"] <= 0.07 and 0.028 <= cpu["read"] <= 0.045 and 0.045 <= cpu["refinement"] <= 0.07
    assert wall["network"] >= wall["refinement"] > 0  # the join is the network thread's wall, not its CPU
    assert wall["network"] + wall["read"] <= 0.5

"""A shot as farm work: one task per keyframe segment, estimates for the scheduler, the commands.

The tasks are the split `run --dry-run` prints (`JobPlan.summary()["segments"]`): inside a
keyframe segment every instance is propagated from the same keyframes, so segments run in
parallel on one output (`run` locks only the frames it writes) and assemble to a single run's
frames. A segment whose frames are all finished already (same weights and prompts digests,
every layer: `check.py`) gets no task; a shot with none left is refused, since a job of zero
tasks would look submitted and do nothing.

Every task runs the ordinary `rmpsam-matte run ... --segment A-B --progress json`, started by
`executable` (`--executable`, else $RMPSAM_MATTE_EXECUTABLE, else `rmpsam-matte` on the node's
PATH): a venv's `rmpsam-matte`, or a wrapper such as `rez env rmpsam -- rmpsam-matte` or
`conda run -n rmpsam rmpsam-matte`. The weights file is always passed explicitly, resolved on
the submitting machine, so every task and the check use the digest the plan was made with.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from rmpsam_model.loading import LoadedModel, load_model
from rmpsam_model.preprocess import InferenceSize
from rmpsam_plugin.errors import InputError
from rmpsam_plugin.farm.check import ShotStatus, expected_writer, shot_status
from rmpsam_plugin.job.plan import JobPlan, plan_job
from rmpsam_plugin.job.settings import RunSettings

# Calibration, from the README's "Measured" section (`bench pipeline`: a 2048x1080 plate, so a
# 1024x540 network image at the released size, 2 instances, a 2-core CPU with a thread per core):
MEASURED_NETWORK_PIXELS = 1024 * 540
MEASURED_SECONDS_PER_FRAME = 1.409  # `run` wall seconds a frame, 24 frames / 4 keyframes
MEASURED_CORES = 2
FEATURE_BYTES_PER_FRAME = 35e6  # the network's features of one frame at the measured size
# The job's peak resident memory was 2.02 GB with 4-frame segments: what its kept plates
# (62 MB a frame with the linear copy) and features (35 MB a frame) leave is the process itself.
PROCESS_MIB = 1500
HEADROOM = 1.25  # a request a little above the estimate: a task over its memory gets killed
DEFAULT_VCPUS = MEASURED_CORES
CHECK_MEMORY_MIB = 2048  # the check reads headers and hashes the weights: the process alone


class FarmError(InputError):
    """The shot cannot be made into a farm job (exit code 3, like any bad input)."""


class Paths(NamedTuple):
    """The four paths a task names; a job template puts its own parameter references here."""

    plate: str
    prompts: str
    output: str
    weights: str


@dataclass(frozen=True)
class FarmRequest:
    """What the wrangler asked for: the run's settings, plus how farm nodes start the tool."""

    settings: RunSettings  # as `run` would parse them (prompts and output always set)
    run_args: tuple[str, ...]  # more `run` options, passed to every task as given
    executable: tuple[str, ...]  # argv that starts rmpsam-matte on a farm node
    name: str | None = None  # job name; default from the output pattern


@dataclass(frozen=True)
class FarmTask:
    first: int
    last: int

    @property
    def frames(self) -> int:
        return self.last - self.first + 1

    @property
    def segment(self) -> str:
        return f"{self.first}-{self.last}"


@dataclass(frozen=True)
class Estimate:
    """What one task needs: a request for the scheduler, not a measurement of this shot."""

    peak_memory_mib: int
    core_seconds: float  # CPU time; with --device cuda the network runs on the GPU instead
    vcpus: int
    gpus: int
    gpu_memory_mib: int  # the feature cache and network, on the GPU with --device cuda


@dataclass
class FarmJob:
    request: FarmRequest
    plan: JobPlan
    weights: LoadedModel
    tasks: list[FarmTask]
    status: ShotStatus  # of every frame of the shot when the job was planned

    @property
    def settings(self) -> RunSettings:
        return self.request.settings

    @property
    def name(self) -> str:
        """Letters, digits and _ only: OpenCue job names are XML NMTOKENs, Deadline shows them as is."""
        name = self.request.name or "rmpsam_" + (Path(self.settings.output).name.split(".")[0] or "shot")
        return re.sub(r"[^A-Za-z0-9_]", "_", name)

    @property
    def shot_frames(self) -> str:
        first, last = self.plan.shot_range
        return f"{first}-{last}"

    def paths(self) -> Paths:
        return Paths(self.settings.plate, str(self.settings.prompts), self.settings.output, str(self.weights.path))

    def run_arguments(self, paths: Paths | None = None) -> list[str]:
        """`run` for this shot, up to (not including) `--segment` and `--progress`."""
        paths = paths or self.paths()
        arguments = ["run", paths.plate, "--prompts", paths.prompts, "-o", paths.output, "--frames", self.shot_frames,
                     "--weights", paths.weights, "--device", self.settings.device]
        if self.settings.threads:
            arguments += ["--threads", str(self.settings.threads)]
        return arguments + list(self.request.run_args)

    def task_arguments(self, segment: str, paths: Paths | None = None) -> list[str]:
        """The ordinary run of one segment ("1001-1004", or a manager's token for it)."""
        return self.run_arguments(paths) + ["--segment", segment, "--progress", "json"]

    def task_by_first_frame_arguments(self, first_frame_token: str) -> list[str]:
        """For managers whose tasks are numbered frames (OpenCue, Deadline): the task's frame is
        its segment's first frame, and `farm segment` maps it to the segment's run."""
        segments = ",".join(task.segment for task in self.tasks)
        return ["farm", "segment", "--segments", segments, first_frame_token, "--", *self.run_arguments()[1:]]

    def check_arguments(self, paths: Paths | None = None) -> list[str]:
        paths = paths or self.paths()
        arguments = ["farm", "check", paths.plate, "--prompts", paths.prompts, "-o", paths.output,
                     "--frames", self.shot_frames, "--weights", paths.weights]
        if self.request.run_args:
            arguments += ["--run-args", shlex.join(self.request.run_args)]
        return arguments

    def estimate(self, task: FarmTask) -> Estimate:
        display = self.plan.display_window
        size = InferenceSize(self.settings.size, self.settings.size) if self.settings.size else self.weights.inference_size
        scale = size.scale_for(display.height, display.width)
        network_pixels = round(display.height * scale) * round(display.width * scale)
        relative = network_pixels / MEASURED_NETWORK_PIXELS
        plate_channels = len(self.plan.header.layer(self.settings.layer).channel_names)
        kept_plate = display.width * display.height * (plate_channels + 3) * 4  # the plate and its linear RGB
        logits = len(self.plan.prompts.names) * network_pixels * 4 * 2  # blended and refined copies
        features = min(self.settings.feature_cache_gib * 2**30, task.frames * FEATURE_BYTES_PER_FRAME * relative)
        network = self.weights.path.stat().st_size * 2  # the weights and their working copy
        gpu = self.settings.device.startswith("cuda")
        host_bytes = task.frames * (kept_plate + logits) + network + (0 if gpu else features)
        peak = HEADROOM * (PROCESS_MIB + host_bytes / 2**20)
        return Estimate(
            peak_memory_mib=_round_up(peak, 256),
            core_seconds=round(task.frames * MEASURED_SECONDS_PER_FRAME * MEASURED_CORES * relative, 1),
            vcpus=self.settings.threads or DEFAULT_VCPUS,
            gpus=1 if gpu else 0,
            gpu_memory_mib=_round_up(HEADROOM * (features + network) / 2**20, 256) if gpu else 0,
        )

    def summary(self) -> dict[str, object]:
        """`farm plan --json`: the tasks with their frames and estimates, then the check task."""
        tasks = []
        for task in self.tasks:
            estimate = self.estimate(task)
            tasks.append({"name": f"segment {task.segment}", "frames": [task.first, task.last],
                          "frame_count": task.frames, "peak_memory_mib": estimate.peak_memory_mib,
                          "core_seconds": estimate.core_seconds, "vcpus": estimate.vcpus, "gpus": estimate.gpus,
                          "gpu_memory_mib": estimate.gpu_memory_mib,
                          "command": [*self.request.executable, *self.task_arguments(task.segment)]})
        first, last = self.plan.shot_range
        return {
            "job": self.name,
            "plate": self.settings.plate,
            "output": self.settings.output,
            "shot_frames": [first, last],
            "weights": str(self.weights.path),
            "device": self.settings.device,
            "finished_frames": len(self.status.finished),
            "tasks": tasks,
            "check": {"name": "check", "frames": [first, last],
                      "command": [*self.request.executable, *self.check_arguments()]},
        }


def plan_farm_job(request: FarmRequest) -> FarmJob:
    """Plan the shot as `run --dry-run` does (every input checked, an output over an input
    refused), then cut it into tasks. Raises `InputError`s naming the file or field at fault."""
    plan = plan_job(request.settings)
    weights = load_model(request.settings.weights)
    writer = expected_writer(plan, weights.digest, request.settings.cryptomatte)
    first, last = plan.shot_range
    status = shot_status(writer, range(first, last + 1))
    finished = set(status.finished)
    tasks = []
    for segment in plan.prompts.segments(first, last):
        task = FarmTask(max(segment.first_frame, first), min(segment.last_frame, last))
        if task.first <= task.last and not finished.issuperset(range(task.first, task.last + 1)):
            tasks.append(task)
    if not tasks:
        raise FarmError(f"nothing to submit: all {last - first + 1} frames of {request.settings.output} are already "
                        f"written with these weights and prompts (`rmpsam-matte farm check` verifies them)",
                        path=request.settings.output)
    return FarmJob(request, plan, weights, tasks, status)


def _round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)

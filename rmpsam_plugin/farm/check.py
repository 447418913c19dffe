"""Which frames of a shot are finished: the farm job's last task, also usable alone.

A frame is finished when its EXR exists, was written with the job's weights, prompts and
result-changing settings (the provenance header every frame carries, as `run` checks when it
resumes: `already_written`, `job_provenance`)
and holds every layer the job writes: one per instance and, unless the job was run with
`--no-cryptomatte`, the Cryptomatte's. The layer rule is the writer's own (`MatteWriter`), so a
renamed instance or a changed Cryptomatte depth cannot pass unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rmpsam_plugin.images.layer_names import CRYPTOMATTE_LAYER
from rmpsam_plugin.images.reader import read_header
from rmpsam_plugin.job.plan import JobPlan
from rmpsam_plugin.job.runner import already_written, job_provenance
from rmpsam_plugin.mattes.writer import MatteWriter


@dataclass
class ShotStatus:
    """Frames of the shot by state; `finished` + the three problem lists cover every frame."""

    finished: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)  # written with other weights, prompts or result-changing settings
    incomplete: dict[int, list[str]] = field(default_factory=dict)  # frame -> layers it lacks

    @property
    def ok(self) -> bool:
        return not (self.missing or self.stale or self.incomplete)

    def problems(self, writer: MatteWriter) -> list[str]:
        """One line per kind of problem, naming the frames' files."""
        lines = []
        if self.missing:
            lines.append(f"missing frames {_frames(self.missing)}: {_paths(writer, self.missing)}")
        if self.stale:
            lines.append(f"stale frames (other weights, prompts or settings) {_frames(self.stale)}: {_paths(writer, self.stale)}")
        for frame, layers in sorted(self.incomplete.items()):
            lines.append(f"frame {frame} ({writer.path(frame)}) lacks layers {', '.join(layers)}")
        return lines


def expected_writer(plan: JobPlan, weights_digest: str, cryptomatte: bool) -> MatteWriter:
    """A writer set up exactly as the job's runner sets up its own: the paths and layer names to expect."""
    return MatteWriter(plan.settings.output, plan.prompts.names, job_provenance(plan, weights_digest),
                       cryptomatte_layer=CRYPTOMATTE_LAYER if cryptomatte else None)


def expected_layers(writer: MatteWriter) -> list[str]:
    layers = [writer.layer_names[name] for name in writer.instance_names]
    if writer.cryptomatte_layer:
        layers += [f"{writer.cryptomatte_layer}{rank:02d}" for rank in range(writer.cryptomatte_levels // 2)]
    return layers


def shot_status(writer: MatteWriter, frames: range) -> ShotStatus:
    status = ShotStatus()
    wanted = expected_layers(writer)
    for frame in frames:
        path = writer.path(frame)
        if not path.is_file():
            status.missing.append(frame)
        elif not already_written(path, writer.provenance):
            status.stale.append(frame)
        else:
            lacking = [layer for layer in wanted if layer not in read_header(path).layers]
            if lacking:
                status.incomplete[frame] = lacking
            else:
                status.finished.append(frame)
    return status


def _frames(frames: list[int]) -> str:
    """1001-1003,1007: consecutive runs collapsed, as farm logs and frame lists write them."""
    runs: list[list[int]] = []
    for frame in frames:
        if runs and frame == runs[-1][-1] + 1:
            runs[-1].append(frame)
        else:
            runs.append([frame])
    return ",".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)


def _paths(writer: MatteWriter, frames: list[int]) -> str:
    shown = [str(writer.path(frame)) for frame in frames[:3]]
    return ", ".join(shown) + (f" and {len(frames) - 3} more" if len(frames) > 3 else "")

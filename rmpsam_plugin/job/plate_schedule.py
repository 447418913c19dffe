"""How a job's plate reads meet the network (see `mattes.plate_source` for the two schedules),
and the plates of a planned job, read from its sequence's files."""

from __future__ import annotations

import os

import torch

from rmpsam_plugin.images.geometry import PlateGeometry
from rmpsam_plugin.images.reader import read_plate
from rmpsam_plugin.job.plan import JobPlan
from rmpsam_plugin.job.settings import RunSettings
from rmpsam_plugin.mattes.plate_source import PlateSource


def network_leaves_cpu_free(settings: RunSettings) -> bool:
    """False when the network runs on the CPU with a thread on every core: then reading plates
    beside it slows it more than reading in turns does (module docstring)."""
    if torch.device(settings.device).type != "cpu":
        return True
    return (settings.threads or torch.get_num_threads()) < (os.cpu_count() or 1)


def plan_plates(plan: JobPlan, geometry: PlateGeometry, *, keep_plates: bool = False,
                overlap_reads: bool = True, readers: int | None = None) -> PlateSource:
    """The plates of a planned job, read from its sequence's files (`readers`: see `PlateSource`).
    Only their colour channels are read unless the plate is passed through to the output: an
    alpha channel costs a quarter of an RGBA plate's reading and nothing in the mattes uses it."""
    layer, colour_only = plan.settings.layer, not plan.settings.passthrough

    def read(frame: int):
        return read_plate(plan.sequence.path(frame), layer, frame=frame, colour_only=colour_only)

    return PlateSource(read, plan.shot_range,
                       plan.settings.colour_space, geometry, keep_plates=keep_plates, overlap_reads=overlap_reads,
                       readers=readers)

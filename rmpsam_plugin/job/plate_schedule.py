"""The plates of a planned job, read from its sequence's files.

Jobs read and finish beside the network on every device (`mattes.plate_source` has both
schedules and why): since plates are decoded without holding Python's GIL, taking turns with a
CPU network that fills the cores lost to working beside it in four of the five same-run
comparisons measured here, by 4% to 25%, and won one by 3% (`rmpsam-matte bench pipeline
--compare-schedules`; README, "Against the float32 floor")."""

from __future__ import annotations

from rmpsam_plugin.images.geometry import PlateGeometry
from rmpsam_plugin.images.reader import read_plate
from rmpsam_plugin.job.plan import JobPlan
from rmpsam_plugin.mattes.plate_source import PlateSource


def plan_plates(plan: JobPlan, geometry: PlateGeometry, *, keep_plates: bool = False,
                overlap_reads: bool = True, readers: int | None = None) -> PlateSource:
    """The plates of a planned job, read from its sequence's files (`readers`: see `PlateSource`).
    Only their colour channels are read unless the plate is passed through to the output: an
    alpha channel costs a quarter of an RGBA plate's reading and nothing in the mattes uses it."""
    layer, colour_only = plan.settings.layer, not plan.settings.passthrough

    def read(frame: int):
        return read_plate(plan.sequence.path(frame), layer, frame=frame, colour_only=colour_only)

    return PlateSource(read, plan.shot_range, plan.settings.colour_space, geometry, keep_plates=keep_plates,
                       overlap_reads=overlap_reads, readers=readers)

"""A shot's plates for the network and the finishing: read ahead, kept while they are needed.

Reading, colour-converting and resizing a 2K plate costs more than a tenth of a second, and a job
asks for each frame several times: the forward pass, the backward pass and the temporal
stabiliser want the network image, and finishing the frame (edge refinement, passthrough) wants
the full-resolution plate.

Reads meet the network in one of two schedules:
- beside it (`overlap_reads=True`, what jobs do): the next `READ_AHEAD` frames are read on a
  background thread as the network works;
- in turns with it: a frame the network asks for that is not read yet is read together with the
  `READ_AHEAD` after it, on two threads, while the network waits. This was the schedule for a
  CPU network on every core while OpenEXR's decoder held Python's GIL: a reader beside torch's
  threads then stalled the network's Python for each whole decode. Decoding without it
  (`images.exr_input`), beside won four of the five comparisons `rmpsam-matte bench pipeline
  --compare-schedules` made; in turns stays for that comparison and for `VideoSession`, which
  reads a frame when it is asked for.

Both are kept within byte budgets, so a frame is normally read once:
- network images: least recently used out first, `NETWORK_IMAGE_CACHE_BYTES`;
- full-resolution plates and their scene-linear RGB (when `keep_plates`): kept from the read
  that made the network image until `kept_plate` hands them to the finishing step,
  `PLATE_CACHE_BYTES` at most; a plate that did not fit is read again when its frame is finished.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from rmpsam_plugin.images.colour import linear_to_network_rgb, to_linear_rgb
from rmpsam_plugin.images.geometry import PlateGeometry
from rmpsam_plugin.images.reader import Plate
from rmpsam_plugin.step_timing import step

READ_AHEAD = 3
NETWORK_IMAGE_CACHE_BYTES = 512 * 2**20  # about 80 frames at the released 1024 px size
PLATE_CACHE_BYTES = 1024 * 2**20  # about 16 frames at 2K (RGBA plate and linear RGB), 4 at 4K


@dataclass(frozen=True)
class KeptPlate:
    """A frame's plate as read, and its scene-linear RGB (the edge refinement's guide).

    `prepared_guides` holds what `ShotMattes` derived from it for the edge refinement, so a plate
    kept across edits (a video session's keyframe) is prepared once, not on every edit."""

    plate: Plate
    linear_rgb: np.ndarray
    prepared_guides: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def nbytes(self) -> int:
        return self.plate.pixels.nbytes + self.linear_rgb.nbytes


class PlateSource:
    """Plates and network images of one job, by frame number."""

    def __init__(self, read: Callable[[int], Plate], shot_range: tuple[int, int], colour_space: str | None,
                 geometry: PlateGeometry, *, keep_plates: bool = False, overlap_reads: bool = True,
                 readers: int | None = None) -> None:
        """`read`: a frame's plate (from its file, or from memory for `VideoSession.from_arrays`);
        `shot_range`: the frames read-ahead may ask for; `overlap_reads`: read ahead while the
        network runs, or in turns with it (module docstring). `readers`: reading
        threads (default one beside the network, two in turns with it)."""
        self.read = read
        self.shot_range = shot_range
        self.colour_space = colour_space
        self.geometry = geometry
        self.overlap_reads = overlap_reads
        readers = readers or (1 if overlap_reads else 2)
        self._pool = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="plate-reader")
        self._pending: dict[int, Future] = {}
        self._images: OrderedDict[int, np.ndarray] = OrderedDict()
        height, width = geometry.network_hw
        self._image_capacity = max(READ_AHEAD + 1, NETWORK_IMAGE_CACHE_BYTES // (height * width * 3 * 4))
        self._plates: dict[int, KeptPlate] = {}
        self._plate_budget = PLATE_CACHE_BYTES if keep_plates else 0
        self._lock = threading.Lock()
        self._last_frame: int | None = None  # the last of the frames asked for one after another
        self._last_jump: int | None = None  # a frame asked for away from them since
        self._direction = 1

    def kept_plate(self, frame: int) -> KeptPlate | None:
        """The plate kept from the frame's first read, handed over (not kept any longer); None if not kept."""
        with self._lock:
            return self._plates.pop(frame, None)

    def drop_kept(self, through: int) -> None:
        """Forget kept plates of frames up to `through`: segments are written in frame order, so
        those are margins or frames already finished, and no finishing step will ask for them."""
        with self._lock:
            for frame in [f for f in self._plates if f <= through]:
                del self._plates[frame]

    def linear_rgb(self, plate: Plate) -> np.ndarray:
        return to_linear_rgb(plate, self.colour_space)

    def network_image(self, frame: int) -> np.ndarray:
        """The frame as the network sees it. The next frames in the same direction are read ahead:
        in the background, or, taking turns, before this returns.

        The direction is that of the frames asked for one after another. A frame away from them
        (a keyframe, asked for when propagation first decodes from it) is read alone, and turns
        nothing around: propagation then goes on from the frame it left, and the frames already
        being read ahead are still wanted. Frames asked for next to it go on from there (a
        session's new range)."""
        with self._lock:
            passing = self._passing(frame)
            cached = self._images.get(frame)
            if cached is not None:
                self._images.move_to_end(frame)
            else:
                future = self._pending.pop(frame, None) or self._pool.submit(self._load, frame)
            first, last = self.shot_range
            # Taking turns, frames ahead are read only when the network has to wait anyway.
            read_ahead = READ_AHEAD if passing and (self.overlap_reads or cached is None) else 0
            for ahead in range(1, read_ahead + 1):
                upcoming = frame + self._direction * ahead
                if first <= upcoming <= last and upcoming not in self._pending and upcoming not in self._images:
                    self._pending[upcoming] = self._pool.submit(self._load, upcoming)
            behind = [f for f in self._pending if (f - frame) * self._direction < 0] if passing else []
            for stale in behind:
                self._pending.pop(stale).cancel()
            burst = [] if self.overlap_reads or cached is not None else list(self._pending.values())
        wait(burst)  # a failed read raises later, when its own frame is asked for
        return cached if cached is not None else future.result()

    def _passing(self, frame: int) -> bool:
        """Whether `frame` continues the frames asked for one after another (or starts them), the
        direction moved on if so; False for a frame away from them, remembered as a possible new
        start. Call with the lock held."""
        if self._last_frame is None:
            start = frame
        elif abs(frame - self._last_frame) <= 1:
            start = self._last_frame
        elif self._last_jump is not None and abs(frame - self._last_jump) <= 1:
            start = self._last_jump
        else:
            self._last_jump = frame
            return False
        if frame != start:
            self._direction = 1 if frame > start else -1
        self._last_frame, self._last_jump = frame, None
        return True

    def _load(self, frame: int) -> np.ndarray:
        with step("read"):
            plate = self.read(frame)
        with step("network image"):
            linear = self.linear_rgb(plate)
            self._keep(frame, KeptPlate(plate, linear))
            image = linear_to_network_rgb(self.geometry.image_to_network(linear))
        with self._lock:  # cached here, not by the caller: a read-ahead nobody waited for still counts
            self._images[frame] = image
            while len(self._images) > self._image_capacity:
                self._images.popitem(last=False)
        return image

    def _keep(self, frame: int, kept: KeptPlate) -> None:
        with self._lock:
            used = sum(other.nbytes for other in self._plates.values())
            if used + kept.nbytes <= self._plate_budget:
                self._plates[frame] = kept

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._plates.clear()

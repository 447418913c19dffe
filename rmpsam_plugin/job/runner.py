"""Run a planned job: the mattes of `shot_mattes.ShotMattes`, written one EXR per frame.

The shot is processed segment by segment (cut at keyframes, `PromptSet.segments`), so the frames
of finished segments are on disk before later ones start. Finishing a frame (upsampling, edge
refinement, Cryptomatte, EXR) runs on a small pool; frames are reported in order as they land
on disk. Where the network leaves the CPU free (a GPU), plates are read ahead on a background
thread and a segment is finished while the network works on the next one. Where the network's
threads fill every core, side work beside them slows the network by about twice its own CPU
time, so both take turns with it instead (`mattes.plate_source`; `rmpsam-matte bench pipeline
--compare-schedules` measures both schedules in one run, README "Scheduling").

Resume: every propagation step is kept in a cache folder beside the output (`.rmpsam_cache/`,
keyed by weights, prompts, plate and the settings that change results), and a frame whose EXR
already carries the same weights and prompts digests is not rewritten. A killed run restarted
with the same command therefore produces the same mattes as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

import torch

from rmpsam_model.loading import LoadedModel
from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_model.preprocess import InferenceSize
from rmpsam_plugin import __version__
from rmpsam_plugin.images.geometry import PlateGeometry
from rmpsam_plugin.images.layer_names import CRYPTOMATTE_LAYER
from rmpsam_plugin.images.reader import read_header
from rmpsam_plugin.job.output_lock import OutputLock
from rmpsam_plugin.job.plan import JobPlan
from rmpsam_plugin.job.plate_schedule import plan_plates
from rmpsam_plugin.job.progress import ProgressReporter
from rmpsam_plugin.job.settings import RunSettings
from rmpsam_plugin.mattes.plate_source import KeptPlate
from rmpsam_plugin.mattes.shot_mattes import ShotMattes, network_predictor
from rmpsam_plugin.mattes.writer import MatteWriter, OutputFormat, Provenance
from rmpsam_plugin.prompts import prompts_digest
from rmpsam_plugin.propagation.pass_cache import PassCache


def job_predictor(settings: RunSettings, weights: LoadedModel) -> RMPSAMPredictor:
    """The predictor of a job and of its `--auto` detection pass (which hands its features on)."""
    size = InferenceSize(settings.size, settings.size) if settings.size else weights.inference_size
    return network_predictor(weights.model, size, settings.device, settings.feature_cache_gib)


def result_cache_key(plan: JobPlan, weights: LoadedModel, prompt_digest: str) -> str:
    document = {
        "version": __version__,
        "weights": weights.digest,
        "prompts": prompt_digest,
        "plate": plan.sequence.pattern,
        "settings": plan.settings.result_key(),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


def job_provenance(plan: JobPlan, weights_digest: str) -> Provenance:
    """What every frame of this job records in its header, and what a frame must carry to count
    as done: the weights, the prompts and the settings that change mattes. The runner writes it;
    resume and the farm's check task compare against it."""
    return Provenance(weights_digest=weights_digest, prompts_digest=prompts_digest(plan.prompts),
                      settings=plan.settings.result_header())


def already_written(path: Path, provenance: Provenance) -> bool:
    """True when `path` is a finished frame of this very job (same weights, prompts and settings that
    change mattes: a rerun with `--overlap exclusive` over `independent` frames rewrites them)."""
    if not path.is_file():
        return False
    try:
        attributes = read_header(path).attributes
    except Exception:  # an unreadable leftover is simply rewritten
        return False
    return (attributes.get("rmpsam/weightsDigest") == provenance.weights_digest
            and attributes.get("rmpsam/promptsDigest") == provenance.prompts_digest
            and attributes.get("rmpsam/settings") == provenance.settings)


class FrameTally:
    """Counts frames written and skipped and reports them in frame order, each as soon as it and
    every frame before it are on disk (frames are finished on several threads, so a later frame
    can land first: it is held back until the earlier ones have landed)."""

    def __init__(self, progress: ProgressReporter, total: int) -> None:
        self.progress = progress
        self.total = total
        self.written = self.skipped = 0
        self._expected: deque[int] = deque()
        self._landed: dict[int, tuple[Path, bool]] = {}
        self._lock = threading.Lock()

    def expect(self, frames: range) -> None:
        with self._lock:
            self._expected.extend(frames)

    def record(self, frame: int, path: Path, skipped: bool = False) -> None:
        with self._lock:
            self._landed[frame] = (path, skipped)
            while self._expected and self._expected[0] in self._landed:
                ready = self._expected.popleft()
                ready_path, ready_skipped = self._landed.pop(ready)
                if ready_skipped:
                    self.skipped += 1
                else:
                    self.written += 1
                self.progress.frame_written(ready, str(ready_path), self.written + self.skipped, self.total,
                                            skipped=ready_skipped)


def _raise_first_failure(futures: list[Future]) -> None:
    for future in futures:
        if future.done() and not future.cancelled():
            future.result()  # raises the finishing step's error, if it had one


class JobRunner:
    def __init__(self, plan: JobPlan, weights: LoadedModel, progress: ProgressReporter,
                 predictor: RMPSAMPredictor | None = None, overlap: bool = True,
                 workers: int | None = None) -> None:
        """`predictor`: one from `job_predictor` that already holds features of this shot's
        frames (the `--auto` detection pass), so they are not computed twice. `overlap`: read
        and finish beside the network (True, every job: `job.plate_schedule`) or in turns with
        it (False), which only `bench pipeline --compare-schedules` runs, to measure the two.
        `workers`: threads finishing frames, and threads reading plates (default: two finishing;
        reading as `PlateSource` chooses); `bench pipeline --network none` measures 1 and 2."""
        settings = plan.settings
        self.plan = plan
        self.progress = progress
        self.predictor = predictor or job_predictor(settings, weights)
        header = plan.header
        self.geometry = PlateGeometry.for_plate(header.display_window, header.pixel_aspect, self.predictor.size)
        digest = prompts_digest(plan.prompts)
        self.provenance = job_provenance(plan, weights.digest)
        self.writer = MatteWriter(
            settings.output, plan.prompts.names, self.provenance,
            output_format=OutputFormat(settings.pixel_type, settings.compression),
            cryptomatte_layer=CRYPTOMATTE_LAYER if settings.cryptomatte else None,
            passthrough_layer=settings.layer if settings.passthrough else None,
        )
        self.overlap = overlap
        self.finishing_workers = workers or 2
        self.plates = plan_plates(plan, self.geometry, keep_plates=True, overlap_reads=self.overlap, readers=workers)
        self.mattes = ShotMattes(
            self.predictor, self.plates, self.geometry, plan.prompts, plan.shot_range, tracker=settings.tracker,
            blend=settings.blend, temporal=settings.temporal, refine_edges=settings.refine_edges,
            overlap=settings.overlap,
            cache=PassCache(plan.output_dir / ".rmpsam_cache" / result_cache_key(plan, weights, digest)),
            on_step=progress.propagated)

    def run(self) -> int:
        first, last = self.plan.write_range
        if self.plan.settings.threads:
            torch.set_num_threads(self.plan.settings.threads)
        tally = FrameTally(self.progress, last - first + 1)
        finishing: list[Future] = []
        with OutputLock(self.plan.settings.output, self.plan.output_dir, self.plan.write_range), \
                ThreadPoolExecutor(max_workers=self.finishing_workers, thread_name_prefix="matte-writer") as finishers:
            self.progress.start(last - first + 1, instances=self.plan.prompts.names, output=self.plan.settings.output)
            try:
                for keyframe_segment, (segment_first, segment_last) in self._segments():
                    _raise_first_failure(finishing)  # a frame that could not be written stops the job here
                    frames = range(segment_first, segment_last + 1)
                    todo = [f for f in frames if not already_written(self.writer.path(f), self.provenance)]
                    tally.expect(frames)
                    for frame in sorted(set(frames) - set(todo)):
                        tally.record(frame, self.writer.path(frame), skipped=True)
                    if not todo:
                        continue
                    logits = self.mattes.segment_logits(keyframe_segment, todo)
                    for frame in todo:  # finished beside the next segment's network, or before it (self.overlap)
                        kept = self.plates.kept_plate(frame)
                        finishing.append(finishers.submit(self._finish_and_record, frame, logits, kept, tally))
                    self.plates.drop_kept(through=segment_last)
                    if not self.overlap:
                        wait(finishing)
                for future in finishing:
                    future.result()
            except BaseException as error:
                # An error (a corrupt plate in the next segment...) leaves the frames already
                # computed to be written as the pool closes; an interrupt stops at once.
                if not isinstance(error, Exception):
                    for future in finishing:
                        future.cancel()
                raise
            finally:
                self.plates.close()
        self.progress.done(tally.written, tally.skipped, self.plan.settings.output)
        return tally.written

    def _finish_and_record(self, frame: int, logits: dict[int, dict[str, torch.Tensor]], kept: KeptPlate | None,
                           tally: FrameTally) -> Path:
        path = self._finish(frame, logits, kept)
        tally.record(frame, path)
        return path

    def _segments(self) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """(the keyframe segment, the part of it this run writes) for each segment that has one."""
        first, last = self.plan.write_range
        spans = []
        for segment_first, segment_last in self.mattes.segments():
            lo, hi = max(segment_first, first), min(segment_last, last)
            if lo <= hi:
                spans.append(((segment_first, segment_last), (lo, hi)))
        return spans

    def _finish(self, frame: int, logits: dict[int, dict[str, torch.Tensor]], kept: KeptPlate | None) -> Path:
        """Full-resolution mattes of one frame, refined against its plate, written to disk."""
        plate, mattes = self.mattes.frame_mattes(frame, logits, kept)
        return self.writer.write(frame, mattes, self.geometry.frame_window, plate)

"""Run a planned job: read plates, propagate every instance, refine, write one EXR per frame.

The shot is processed segment by segment (cut at keyframes, `PromptSet.segments`), so the frames
of finished segments are on disk before later ones start. Finishing a frame (upsampling, edge
refinement, Cryptomatte, EXR) runs on a small pool; frames are reported in order as they land
on disk. Where the network leaves the CPU free (a GPU), plates are read ahead on a background
thread and a segment is finished while the network works on the next one. Where the network's
threads fill every core, side work beside them slows the network by about twice its own CPU
time, so both take turns with it instead (`plate_source`): on 24 frames with 4 keyframes at 2K
the job's overhead over the network was +19.2% in turns against +24.7% beside it
(`rmpsam-matte bench pipeline --compare-schedules`).

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

import numpy as np
import torch

from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_model.preprocess import InferenceGeometry, InferenceSize
from rmpsam_plugin import __version__
from rmpsam_plugin.image_reader import read_header
from rmpsam_plugin.job.output_lock import OutputLock
from rmpsam_plugin.job.plan import JobPlan
from rmpsam_plugin.job.plate_source import KeptPlate, PlateSource, network_leaves_cpu_free
from rmpsam_plugin.job.progress import ProgressReporter
from rmpsam_plugin.job.settings import RunSettings
from rmpsam_plugin.job.weights import LoadedWeights
from rmpsam_plugin.matte_writer import MatteWriter, OutputFormat, Provenance
from rmpsam_plugin.plate_geometry import PlateGeometry
from rmpsam_plugin.prompts import Keyframe, load_mask, prompts_digest
from rmpsam_plugin.propagation.engine import InstanceKeyframes, PropagationEngine
from rmpsam_plugin.propagation.keyframe_decode import NetworkPrompts
from rmpsam_plugin.propagation.pass_cache import PassCache
from rmpsam_plugin.refine.edges import EdgeRefineSettings, PreparedGuide, refine_edges
from rmpsam_plugin.refine.temporal import motion_links, stabilise_sequence

CRYPTOMATTE_LAYER = "CryptoObject"


def job_predictor(settings: RunSettings, weights: LoadedWeights) -> RMPSAMPredictor:
    """The predictor a job (and its `--auto` detection pass) runs the network through.

    Its feature cache is bounded in bytes, not frames: at the released size one frame's features
    are 35 MB, so a 256-frame segment would hold 9 GB (on the GPU, with `--device cuda`). A
    segment longer than the budget still gives the same mattes; its backward pass recomputes the
    features that were let go.
    """
    size = InferenceSize(settings.size, settings.size) if settings.size else weights.inference_size
    return RMPSAMPredictor(weights.model, size, device=settings.device, max_cached_frames=None,
                           max_cached_bytes=int(settings.feature_cache_gib * 2**30))


def network_prompts(keyframe: Keyframe, geometry: PlateGeometry) -> NetworkPrompts:
    """Display-window prompts of one keyframe -> network pixels (desqueezed and resized)."""
    mask = None
    if keyframe.mask_path is not None:
        mask = geometry.image_to_network(load_mask(keyframe)[..., None])
        mask = mask[..., 0] if mask.ndim == 3 else mask
    return NetworkPrompts(
        positive_clicks=geometry.points_to_network(keyframe.positive_clicks),
        negative_clicks=geometry.points_to_network(keyframe.negative_clicks),
        boxes=geometry.boxes_to_network(keyframe.boxes),
        mask=mask,
    )


def result_cache_key(plan: JobPlan, weights: LoadedWeights, prompt_digest: str) -> str:
    document = {
        "version": __version__,
        "weights": weights.digest,
        "prompts": prompt_digest,
        "plate": plan.sequence.pattern,
        "settings": plan.settings.result_key(),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


def already_written(path: Path, provenance: Provenance) -> bool:
    """True when `path` is a finished frame of this very job (same weights and prompts)."""
    if not path.is_file():
        return False
    try:
        attributes = read_header(path).attributes
    except Exception:  # an unreadable leftover is simply rewritten
        return False
    return (attributes.get("rmpsam/weightsDigest") == provenance.weights_digest
            and attributes.get("rmpsam/promptsDigest") == provenance.prompts_digest)


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
    def __init__(self, plan: JobPlan, weights: LoadedWeights, progress: ProgressReporter,
                 predictor: RMPSAMPredictor | None = None, overlap: bool | None = None) -> None:
        """`predictor`: one from `job_predictor` that already holds features of this shot's
        frames (the `--auto` detection pass), so they are not computed twice. `overlap`: read
        and finish beside the network (True) or in turns with it (False); None decides by
        `network_leaves_cpu_free`, and only `bench pipeline` sets it, to compare the two."""
        settings = plan.settings
        self.plan = plan
        self.progress = progress
        self.predictor = predictor or job_predictor(settings, weights)
        size = self.predictor.size
        header = plan.header
        self.geometry = PlateGeometry.for_plate(header.display_window, header.pixel_aspect, size)
        self.network_geometry = InferenceGeometry.for_image(*self.geometry.network_hw, size)
        digest = prompts_digest(plan.prompts)
        self.provenance = Provenance(weights_digest=weights.digest, prompts_digest=digest)
        self.cache = PassCache(plan.output_dir / ".rmpsam_cache" / result_cache_key(plan, weights, digest))
        self.writer = MatteWriter(
            settings.output, plan.prompts.names, self.provenance,
            output_format=OutputFormat(settings.pixel_type, settings.compression),
            cryptomatte_layer=CRYPTOMATTE_LAYER if settings.cryptomatte else None,
            passthrough_layer=settings.layer if settings.passthrough else None,
        )
        # On a CPU the network fills, side work takes turns with it rather than running beside it
        # (see `plate_source`): plates are read, and a segment's frames finished, while it waits.
        self.overlap = network_leaves_cpu_free(settings) if overlap is None else overlap
        self.plates = PlateSource(plan, self.geometry, keep_plates=True, overlap_reads=self.overlap)
        instances = [
            InstanceKeyframes(track.name, {frame: network_prompts(kf, self.geometry) for frame, kf in track.keyframes.items()})
            for track in plan.prompts.instances
        ]
        self.engine = PropagationEngine(self.predictor, self.plates.network_image, instances, plan.shot_range,
                                        tracker=settings.tracker, cache=self.cache, on_step=progress.propagated,
                                        blend=settings.blend)
        self.keyframes = {track.name: set(track.keyframes) for track in plan.prompts.instances}

    def run(self) -> int:
        first, last = self.plan.write_range
        if self.plan.settings.threads:
            torch.set_num_threads(self.plan.settings.threads)
        tally = FrameTally(self.progress, last - first + 1)
        finishing: list[Future] = []
        with OutputLock(self.plan.settings.output, self.plan.output_dir, self.plan.write_range), \
                ThreadPoolExecutor(max_workers=2, thread_name_prefix="matte-writer") as finishers:
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
                    logits = self._segment_logits(keyframe_segment, todo)
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
        for segment in self.plan.prompts.segments(*self.plan.shot_range):
            lo, hi = max(segment.first_frame, first), min(segment.last_frame, last)
            if lo <= hi:
                spans.append(((segment.first_frame, segment.last_frame), (lo, hi)))
        return spans

    def _segment_logits(self, keyframe_segment: tuple[int, int], todo: list[int]) -> dict[int, dict[str, torch.Tensor]]:
        """Blended (and, if asked, temporally stabilised) low-res logits of the frames `todo`.

        The stabiliser's result on a frame depends on every frame of the range it filters, so it
        always filters the whole keyframe segment, whichever of its frames are left to write: a
        resumed run or a `--segment` task then gives each frame exactly the mattes of one
        uninterrupted run (the segment's propagation comes back from the pass cache). Without
        the stabiliser each frame stands alone and only the frames to write are computed.
        """
        if not self.plan.settings.temporal:
            return self.engine.run(min(todo), max(todo))
        first, last = keyframe_segment
        blended = self.engine.run(first, last, margin=1)
        frames = sorted(blended)
        images = [self.plates.network_image(frame) for frame in frames]
        links = motion_links(images)  # one flow per pair of frames, shared by every instance
        stabilised: dict[int, dict[str, torch.Tensor]] = {frame: {} for frame in frames}
        for name in self.plan.prompts.names:
            network_logits = [self.network_geometry.logits_to_original(blended[f][name][None])[0].numpy() for f in frames]
            anchors = [frame in self.keyframes[name] for frame in frames]
            smoothed = stabilise_sequence(images, network_logits, anchors, links=links)
            for frame, plane, anchored in zip(frames, smoothed, anchors):
                # A keyframe's matte is the artist's decode, bit for bit: keep its own logits.
                stabilised[frame][name] = blended[frame][name] if anchored else torch.from_numpy(
                    np.ascontiguousarray(plane, dtype=np.float32))
        return stabilised

    def _finish(self, frame: int, logits: dict[int, dict[str, torch.Tensor]], kept: KeptPlate | None) -> Path:
        """Full-resolution mattes of one frame, refined against its plate (read now if not kept), written to disk."""
        plate = kept.plate if kept else self.plates.read(frame)
        guide = None
        if self.plan.settings.refine_edges:
            guide = self._edge_guide(kept.linear_rgb if kept else self.plates.linear_rgb(plate))
        mattes = {name: self._full_resolution(plane, guide) for name, plane in logits[frame].items()}
        return self.writer.write(frame, mattes, self.geometry.frame_window, plate)

    def _edge_guide(self, linear_rgb: np.ndarray) -> PreparedGuide:
        """The plate prepared once per frame for every instance's edge refinement.

        Logits come at stride 4 or, after stabilisation, at the network size, but they hold no
        more detail than the stride-4 decode either way: the refinement is set for the stride-4 step.
        """
        resized_h, resized_w = self.network_geometry.resized_hw
        factor = max(linear_rgb.shape[0] / (resized_h / 4), linear_rgb.shape[1] / (resized_w / 4))
        return PreparedGuide.from_plate(linear_rgb, EdgeRefineSettings.for_upsampling(factor))

    def _full_resolution(self, plane: torch.Tensor, guide: PreparedGuide | None) -> np.ndarray:
        """Logits at stride 4 (or at the network size, after stabilisation) -> a soft matte over
        the frame window, squeezed back for anamorphic plates."""
        at_network_size = tuple(plane.shape[-2:]) == tuple(self.geometry.network_hw)
        if guide is not None:
            resized_h, resized_w = self.network_geometry.resized_hw
            extent = plane.shape if at_network_size else (resized_h / 4, resized_w / 4)
            return refine_edges(plane.numpy(), guide, logits=True, low_res_extent=extent)
        network_logits = plane if at_network_size else self.network_geometry.logits_to_original(plane[None])[0]
        frame_logits = self.geometry.matte_to_frame(network_logits.numpy().astype(np.float32))
        return (1.0 / (1.0 + np.exp(-np.clip(frame_logits, -30, 30)))).astype(np.float32)

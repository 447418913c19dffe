"""Run a planned job: read plates, propagate every instance, refine, write one EXR per frame.

The shot is processed segment by segment (cut at keyframes, `PromptSet.segments`), so the frames
of finished segments are on disk before later ones start. Reads run ahead of the network on a
background thread, and finishing a frame (upsampling, edge refinement, Cryptomatte, EXR) runs on
a small pool while the network works on the next segment's frames.

Resume: every propagation step is kept in a cache folder beside the output (`.rmpsam_cache/`,
keyed by weights, prompts, plate and the settings that change results), and a frame whose EXR
already carries the same weights and prompts digests is not rewritten. A killed run restarted
with the same command therefore produces the same mattes as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_model.preprocess import InferenceGeometry, InferenceSize
from rmpsam_plugin import __version__
from rmpsam_plugin.colour import linear_to_network_rgb, to_linear_rgb
from rmpsam_plugin.image_reader import Plate, read_header, read_plate
from rmpsam_plugin.job.plan import JobPlan
from rmpsam_plugin.job.progress import ProgressReporter
from rmpsam_plugin.job.weights import LoadedWeights
from rmpsam_plugin.matte_writer import MatteWriter, OutputFormat, Provenance
from rmpsam_plugin.plate_geometry import PlateGeometry
from rmpsam_plugin.prompts import Keyframe, load_mask, prompts_digest
from rmpsam_plugin.propagation.engine import InstanceKeyframes, PropagationEngine
from rmpsam_plugin.propagation.keyframe_decode import NetworkPrompts
from rmpsam_plugin.propagation.pass_cache import PassCache
from rmpsam_plugin.refine.edges import EdgeRefineSettings, refine_edges
from rmpsam_plugin.refine.temporal import motion_links, stabilise_sequence

CRYPTOMATTE_LAYER = "CryptoObject"
READ_AHEAD = 3
NETWORK_IMAGE_CACHE_BYTES = 512 * 2**20  # about 80 frames at the released 1024 px size


class PlateSource:
    """Plates of one job, read on a background thread a few frames ahead of the network.

    Network images are kept (up to `NETWORK_IMAGE_CACHE_BYTES`, least recently used out first):
    a segment's frames are asked for by the forward pass, the backward pass and the temporal
    stabiliser, and reading, converting and resizing a 2K plate costs more than a tenth of a
    second each time. A full-resolution plate is not kept; finishing a frame reads it again.
    """

    def __init__(self, plan: JobPlan, geometry: PlateGeometry) -> None:
        self.plan = plan
        self.geometry = geometry
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plate-reader")
        self._pending: dict[int, Future] = {}
        self._images: OrderedDict[int, np.ndarray] = OrderedDict()
        height, width = geometry.network_hw
        self._capacity = max(READ_AHEAD + 1, NETWORK_IMAGE_CACHE_BYTES // (height * width * 3 * 4))
        self._lock = threading.Lock()
        self._last_frame: int | None = None

    def plate(self, frame: int) -> Plate:
        return read_plate(self.plan.sequence.path(frame), self.plan.settings.layer, frame=frame)

    def linear_rgb(self, plate: Plate) -> np.ndarray:
        return to_linear_rgb(plate, self.plan.settings.colour_space)

    def network_image(self, frame: int) -> np.ndarray:
        """The frame as the network sees it; reading the next frames in the same direction starts now."""
        with self._lock:
            direction = 1 if self._last_frame is None or frame >= self._last_frame else -1
            self._last_frame = frame
            cached = self._images.get(frame)
            if cached is not None:
                self._images.move_to_end(frame)
            else:
                future = self._pending.pop(frame, None) or self._pool.submit(self._load, frame)
            first, last = self.plan.shot_range
            for ahead in range(1, READ_AHEAD + 1):
                upcoming = frame + direction * ahead
                if first <= upcoming <= last and upcoming not in self._pending and upcoming not in self._images:
                    self._pending[upcoming] = self._pool.submit(self._load, upcoming)
            for stale in [f for f in self._pending if (f - frame) * direction < 0]:
                self._pending.pop(stale).cancel()
        if cached is not None:
            return cached
        image = future.result()
        with self._lock:
            self._images[frame] = image
            while len(self._images) > self._capacity:
                self._images.popitem(last=False)
        return image

    def _load(self, frame: int) -> np.ndarray:
        return linear_to_network_rgb(self.geometry.image_to_network(self.linear_rgb(self.plate(frame))))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


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


class JobRunner:
    def __init__(self, plan: JobPlan, weights: LoadedWeights, progress: ProgressReporter) -> None:
        settings = plan.settings
        self.plan = plan
        self.progress = progress
        size = (InferenceSize(settings.size, settings.size) if settings.size else weights.inference_size)
        header = plan.header
        self.geometry = PlateGeometry.for_plate(header.display_window, header.pixel_aspect, size)
        self.predictor = RMPSAMPredictor(weights.model, size, device=settings.device, max_cached_frames=256)
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
        self.plates = PlateSource(plan, self.geometry)
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
        total = last - first + 1
        if self.plan.settings.threads:
            torch.set_num_threads(self.plan.settings.threads)
        self.progress.start(total, instances=self.plan.prompts.names, output=self.plan.settings.output)
        written = skipped = 0
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="matte-writer") as finishers:
            try:
                for segment_first, segment_last in self._segments():
                    frames = range(segment_first, segment_last + 1)
                    todo = [f for f in frames if not already_written(self.writer.path(f), self.provenance)]
                    for frame in sorted(set(frames) - set(todo)):
                        skipped += 1
                        self.progress.frame_written(frame, str(self.writer.path(frame)), written + skipped, total, skipped=True)
                    if not todo:
                        continue
                    logits = self._segment_logits(min(todo), max(todo))
                    for frame, path in zip(todo, finishers.map(lambda f: self._finish(f, logits), todo)):
                        written += 1
                        self.progress.frame_written(frame, str(path), written + skipped, total)
            finally:
                self.plates.close()
        self.progress.done(written, skipped, self.plan.settings.output)
        return written

    def _segments(self) -> list[tuple[int, int]]:
        first, last = self.plan.write_range
        spans = []
        for segment in self.plan.prompts.segments(*self.plan.shot_range):
            lo, hi = max(segment.first_frame, first), min(segment.last_frame, last)
            if lo <= hi:
                spans.append((lo, hi))
        return spans

    def _segment_logits(self, first: int, last: int) -> dict[int, dict[str, torch.Tensor]]:
        """Blended (and, if asked, temporally stabilised) low-res logits of frames first..last."""
        margin = 1 if self.plan.settings.temporal else 0
        blended = self.engine.run(first, last, margin=margin)
        if not self.plan.settings.temporal:
            return blended
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

    def _finish(self, frame: int, logits: dict[int, dict[str, torch.Tensor]]) -> Path:
        """Full-resolution mattes of one frame, refined against its plate, written to disk."""
        plate = self.plates.plate(frame)
        guide = self.plates.linear_rgb(plate) if self.plan.settings.refine_edges else None
        mattes = {name: self._full_resolution(plane, guide) for name, plane in logits[frame].items()}
        return self.writer.write(frame, mattes, self.geometry.frame_window, plate)

    def _full_resolution(self, plane: torch.Tensor, guide: np.ndarray | None) -> np.ndarray:
        """Logits at stride 4 (or at the network size, after stabilisation) -> a soft matte over
        the frame window, squeezed back for anamorphic plates."""
        at_network_size = tuple(plane.shape[-2:]) == tuple(self.geometry.network_hw)
        if guide is not None:
            resized_h, resized_w = self.network_geometry.resized_hw
            extent = plane.shape if at_network_size else (resized_h / 4, resized_w / 4)
            # Stabilised logits come at the network size but hold no more detail than the
            # stride-4 decode they were made from: refine for the stride-4 step either way.
            factor = max(guide.shape[0] / (resized_h / 4), guide.shape[1] / (resized_w / 4))
            settings = EdgeRefineSettings.for_upsampling(factor)
            return refine_edges(plane.numpy(), guide, logits=True, low_res_extent=extent, settings=settings)
        network_logits = plane if at_network_size else self.network_geometry.logits_to_original(plane[None])[0]
        frame_logits = self.geometry.matte_to_frame(network_logits.numpy().astype(np.float32))
        return (1.0 / (1.0 + np.exp(-np.clip(frame_logits, -30, 30)))).astype(np.float32)

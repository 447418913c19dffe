"""Prompts and plates in, each frame's full-resolution soft mattes out: the job's whole recipe.

One recipe for every door into the tool: the batch job (`runner.JobRunner`, which adds files,
resume and locks) and the Python API's video session (`rmpsam_plugin.session`, which keeps
everything in memory) both call this, so a TD's script and `rmpsam-matte run` give the same
mattes for the same prompts. The steps, per keyframe segment of the shot:

1. propagation (`propagation.engine`): every instance decoded on its keyframes and carried
   forward and backward with the tracker, the two runs blended between keyframes;
2. temporal stabilisation (`refine.temporal`), over the whole keyframe segment, keyframes anchored;
3. per frame, full resolution: edges refined against the plate (`refine.edges`) or plain
   upsampling, squeezed back for anamorphic plates;
4. per frame, overlaps between instances kept or shared (`mattes.overlaps`, `--overlap`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import cv2
import numpy as np
import torch

from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_model.preprocess import InferenceGeometry, InferenceSize
from rmpsam_plugin.images.geometry import PlateGeometry
from rmpsam_plugin.images.reader import Plate
from rmpsam_plugin.mattes.overlaps import DEFAULT_OVERLAP, resolve_overlaps
from rmpsam_plugin.mattes.plate_source import KeptPlate, PlateSource
from rmpsam_plugin.prompts import Keyframe, PromptSet, load_mask
from rmpsam_plugin.propagation.engine import InstanceKeyframes, PropagationEngine
from rmpsam_plugin.propagation.keyframe_decode import NetworkPrompts
from rmpsam_plugin.propagation.pass_cache import PassCache
from rmpsam_plugin.propagation.trackers import DEFAULT_TRACKER
from rmpsam_plugin.refine.edges import EdgeRefineSettings, PreparedGuide, refine_edges
from rmpsam_plugin.refine.temporal import motion_links, stabilise_sequence
from rmpsam_plugin.step_timing import step


def network_predictor(model: torch.nn.Module, size: InferenceSize, device: str = "cpu",
                      feature_cache_gib: float = 4.0) -> RMPSAMPredictor:
    """The predictor a job (and its `--auto` detection pass, and a video session) runs through.

    Its feature cache is bounded in bytes, not frames: at the released size one frame's features
    are 35 MB, so a 256-frame segment would hold 9 GB (on the GPU, with `--device cuda`). A
    segment longer than the budget still gives the same mattes: the keyframes' features, used on
    every frame, stay, and a tracker's backward sweep recomputes the features that were let go.
    """
    return RMPSAMPredictor(model, size, device=device, max_cached_frames=None,
                           max_cached_bytes=int(feature_cache_gib * 2**30))


def network_prompts(keyframe: Keyframe, geometry: PlateGeometry, mask: np.ndarray | None = None) -> NetworkPrompts:
    """Display-window prompts of one keyframe -> network pixels (desqueezed and resized).

    `mask`: the keyframe's mask held in memory (a video session's), instead of its mask file."""
    if mask is None and keyframe.mask_path is not None:
        mask = load_mask(keyframe)
    if mask is not None:
        mask = geometry.image_to_network(np.asarray(mask, np.float32)[..., None])
        mask = mask[..., 0] if mask.ndim == 3 else mask
    return NetworkPrompts(
        positive_clicks=geometry.points_to_network(keyframe.positive_clicks),
        negative_clicks=geometry.points_to_network(keyframe.negative_clicks),
        boxes=geometry.boxes_to_network(keyframe.boxes),
        mask=mask,
    )


STABILISER_MIN_SIDE = 256
"""The stabiliser works at half the network image's size while that keeps this many pixels on the
short side (the released network's 1024x540 image: 512x270); below, at the network image's size."""


def stabiliser_size(network_hw: tuple[int, int]) -> tuple[int, int]:
    """Where the temporal stabiliser filters: (height, width).

    Its inputs hold no detail finer than the network's stride-4 logits, so half the network
    image still gives the flow and the filter twice the logits' resolution, for a quarter of the
    pixels: the optical flow, the warps and the per-instance conversions were the costliest CPU
    step of a job outside the network (`bench pipeline --breakdown`). Small network images (the
    shipped weights' 192 px) keep their size, where DIS flow would run out of pixels. README,
    "Propagation", measures both on the same shots."""
    height, width = network_hw
    if min(height, width) // 2 < STABILISER_MIN_SIDE:
        return height, width
    return (height + 1) // 2, (width + 1) // 2


class ShotMattes:
    """The recipe above for one shot, one set of prompts and one network."""

    def __init__(self, predictor: RMPSAMPredictor, plates: PlateSource, geometry: PlateGeometry, prompts: PromptSet,
                 shot_range: tuple[int, int], *, tracker: str = DEFAULT_TRACKER, blend: str = "linear",
                 temporal: bool = True, refine_edges: bool = True, overlap: str = DEFAULT_OVERLAP,
                 cache: PassCache | None = None, on_step: Callable[[str, int], None] | None = None,
                 masks: Mapping[tuple[str, int], np.ndarray] | None = None) -> None:
        """`masks`: keyframe masks held in memory, by (instance, frame), in place of mask files.
        `overlap`: `independent` or `exclusive` (`mattes.overlaps`)."""
        self.prompts = prompts
        self.plates = plates
        self.geometry = geometry
        self.shot_range = shot_range
        self.temporal = temporal
        self.refine = refine_edges
        self.overlap = overlap
        self.network_geometry = InferenceGeometry.for_image(*geometry.network_hw, predictor.size)
        self.stabiliser_hw = stabiliser_size(geometry.network_hw)
        instances = [
            InstanceKeyframes(track.name, {frame: network_prompts(kf, geometry, (masks or {}).get((track.name, frame)))
                                           for frame, kf in track.keyframes.items()})
            for track in prompts.instances
        ]
        self.engine = PropagationEngine(predictor, plates.network_image, instances, shot_range, tracker=tracker,
                                        cache=cache, on_step=on_step, blend=blend)
        self.keyframes = {track.name: set(track.keyframes) for track in prompts.instances}

    def segments(self) -> list[tuple[int, int]]:
        """The shot's keyframe segments (`PromptSet.segments`), first to last."""
        return [(s.first_frame, s.last_frame) for s in self.prompts.segments(*self.shot_range)]

    def segment_logits(self, keyframe_segment: tuple[int, int], todo: list[int]) -> dict[int, dict[str, torch.Tensor]]:
        """Blended (and, if asked, temporally stabilised) low-res logits of the frames `todo`.

        The stabiliser's result on a frame depends on every frame of the range it filters, so it
        always filters the whole keyframe segment, whichever of its frames are left to write: a
        resumed run or a `--segment` task then gives each frame exactly the mattes of one
        uninterrupted run (the segment's propagation comes back from the pass cache). Without
        the stabiliser each frame stands alone and only the frames asked for are computed.
        """
        if not self.temporal:
            with step("network"):
                return self.engine.run(min(todo), max(todo))
        first, last = keyframe_segment
        with step("network"):
            blended = self.engine.run(first, last, margin=1)
        with step("stabiliser"):
            return self._stabilise(blended)

    def _stabilise(self, blended: dict[int, dict[str, torch.Tensor]]) -> dict[int, dict[str, torch.Tensor]]:
        """The stabiliser over every frame of `blended`, keyframes kept as decoded (a step of its own in
        `bench pipeline --breakdown`). It filters at `stabiliser_hw` and hands back logits at the
        network image's size, where the edge refinement expects them."""
        frames = sorted(blended)
        working_hw = self.stabiliser_hw
        images = [self._at_stabiliser_size(self.plates.network_image(frame), cv2.INTER_AREA) for frame in frames]
        links = motion_links(images)  # one flow per pair of frames, shared by every instance
        stabilised: dict[int, dict[str, torch.Tensor]] = {frame: {} for frame in frames}
        network_h, network_w = self.geometry.network_hw
        for name in self.prompts.names:
            working_logits = [self._at_stabiliser_size(self._at_network_size(blended[f][name]), cv2.INTER_AREA)
                              for f in frames]
            anchors = [frame in self.keyframes[name] for frame in frames]
            smoothed = stabilise_sequence(images, working_logits, anchors, links=links)
            for frame, plane, anchored in zip(frames, smoothed, anchors):
                # A keyframe's matte is the artist's decode, bit for bit: keep its own logits.
                if anchored:
                    stabilised[frame][name] = blended[frame][name]
                    continue
                if working_hw != (network_h, network_w):
                    plane = cv2.resize(plane, (network_w, network_h), interpolation=cv2.INTER_LINEAR)
                stabilised[frame][name] = torch.from_numpy(np.ascontiguousarray(plane, dtype=np.float32))
        return stabilised

    def _at_stabiliser_size(self, image: np.ndarray, interpolation: int) -> np.ndarray:
        """An image or plane at the network image's size -> at `stabiliser_hw` (itself if equal)."""
        height, width = self.stabiliser_hw
        if image.shape[:2] == (height, width):
            return image
        return cv2.resize(image, (width, height), interpolation=interpolation)

    def _at_network_size(self, logits: torch.Tensor) -> np.ndarray:
        """(h/4, w/4) logits -> the network image's size, laid out as `logits_to_original` lays them
        (bilinear to the padded input, cropped), with OpenCV's bilinear rather than torch's: 14x
        faster on one plane, and equal within 2e-6 in logit, far inside the half-float step of the
        matte stored. The network image is made at the network size, so the second resampling of
        `logits_to_original` is the identity; where it is not, torch's is kept."""
        geometry = self.network_geometry
        if geometry.resized_hw != geometry.original_hw:
            return geometry.logits_to_original(logits[None])[0].numpy()
        (padded_h, padded_w), (resized_h, resized_w) = geometry.padded_hw, geometry.resized_hw
        plane = cv2.resize(logits.numpy(), (padded_w, padded_h), interpolation=cv2.INTER_LINEAR)
        return np.ascontiguousarray(plane[:resized_h, :resized_w])

    def frame_mattes(self, frame: int, logits: dict[int, dict[str, torch.Tensor]],
                     kept: KeptPlate | None = None) -> tuple[Plate, dict[str, np.ndarray]]:
        """The frame's plate and its instances' mattes over `geometry.frame_window`, refined
        against the plate (read now if not `kept`), overlaps resolved last: the rule shares out
        the pixels as the refined edges cover them, the mattes that are stored."""
        with step("read"):
            plate = kept.plate if kept else self.plates.read(frame)
        guide = None
        if self.refine:
            with step("edge guide"):
                guide = self._edge_guide(kept) if kept else self._prepared_guide(self.plates.linear_rgb(plate))
        with step("refinement" if self.refine else "upsampling"):
            mattes = {name: self._full_resolution(plane, guide) for name, plane in logits[frame].items()}
        with step("overlaps"):
            return plate, resolve_overlaps(mattes, self.overlap)

    def _edge_guide(self, kept: KeptPlate) -> PreparedGuide:
        """A kept plate's prepared guide, made on first use and kept with the plate."""
        guide = kept.prepared_guides.get(self.network_geometry)
        if guide is None:
            guide = kept.prepared_guides[self.network_geometry] = self._prepared_guide(kept.linear_rgb)
        return guide

    def _prepared_guide(self, linear_rgb: np.ndarray) -> PreparedGuide:
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

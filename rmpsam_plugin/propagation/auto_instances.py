"""Prompt-free mode: find every instance of some classes in a shot and turn them into prompts.

`rmpsam-matte run --auto --classes car,person` uses the network's learned object queries (the
video-instance mode, scored against the class vocabulary) on every frame, links the detections
into tracks, and writes an ordinary prompt file: one instance per track, named `<class>_<n>`,
with a box on the frame where that track was detected most confidently. The job then runs exactly
as with an artist's prompts (propagation, blending, refinement, resume), and the compositor gets
a prompt file to correct and rerun instead of a black box.

Linking: detections of the same class on consecutive frames are matched one to one by mask IoU
(Hungarian assignment); a match needs IoU >= `LINK_IOU`. A track survives a gap of up to
`MAX_GAP` frames without detections (an occlusion, a missed detection); a track detected on fewer
than `MIN_TRACK_FRAMES` frames is dropped as a false positive. Within a frame, detections that
overlap an already kept one of the same class by IoU >= `DUPLICATE_IOU` are duplicates (several
queries answering for one object) and are dropped, as in Mask2Former's instance post-processing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_plugin.images.geometry import PlateGeometry
from rmpsam_plugin.prompts import InstanceTrack, Keyframe, PlateInfo, PromptSet

LINK_IOU = 0.3
MAX_GAP = 3
MIN_TRACK_FRAMES = 2
DUPLICATE_IOU = 0.5
DEFAULT_MIN_SCORE = 0.5


class UnknownClassError(ValueError):
    """A requested class is not in the weights' vocabulary; the message lists the vocabulary."""


@dataclass
class Detection:
    frame: int
    label: int
    score: float
    mask: np.ndarray  # bool (H, W) in network pixels


@dataclass
class Track:
    label: int
    detections: list[Detection] = field(default_factory=list)

    @property
    def last(self) -> Detection:
        return self.detections[-1]

    @property
    def best(self) -> Detection:
        """The most confident detection; ties go to the earliest frame (deterministic)."""
        return max(self.detections, key=lambda d: (d.score, -d.frame))


def class_indices(requested: Sequence[str], vocabulary: Sequence[str]) -> list[int]:
    """Vocabulary indices of the requested class names (exact, then case-insensitive match)."""
    lowered = {name.lower(): index for index, name in enumerate(vocabulary)}
    indices, unknown = [], []
    for name in requested:
        index = lowered.get(name.lower())
        (unknown.append(name) if index is None else indices.append(index))
    if unknown:
        known = ", ".join(vocabulary) if vocabulary else "(these weights carry no class names)"
        raise UnknownClassError(f"--classes: {', '.join(unknown)} not in the weights' vocabulary: {known}")
    return indices


def detect_frame(predictor: RMPSAMPredictor, frame: int, image: np.ndarray, wanted: set[int],
                 min_score: float) -> list[Detection]:
    """Confident, de-duplicated detections of the wanted classes on one frame."""
    predictor.add_frame(frame, image)
    result = predictor.predict_instances(frame)
    kept: list[Detection] = []
    for mask, score, label in zip(result.masks.cpu().numpy(), result.scores.tolist(), result.labels.tolist()):
        if score < min_score or label not in wanted or not mask.any():
            continue  # scores are sorted, but a lower one may still belong to a wanted class
        if any(d.label == label and mask_iou(d.mask, mask) >= DUPLICATE_IOU for d in kept):
            continue
        kept.append(Detection(frame, label, float(score), mask))
    return kept


def link_detections(per_frame: Iterable[list[Detection]]) -> list[Track]:
    """Tracks from detections given frame by frame in shot order (see the module notes)."""
    finished: list[Track] = []
    active: list[Track] = []
    for detections in per_frame:
        if not detections:
            continue
        frame = detections[0].frame
        still_active = [t for t in active if frame - t.last.frame <= MAX_GAP + 1]
        finished += [t for t in active if t not in still_active]
        active = still_active
        unmatched = set(range(len(detections)))
        if active:
            cost = np.array([[0.0 if t.label != d.label else -mask_iou(t.last.mask, d.mask) for d in detections]
                             for t in active])
            for row, col in zip(*linear_sum_assignment(cost)):
                if -cost[row, col] >= LINK_IOU:
                    active[row].detections.append(detections[col])
                    unmatched.discard(col)
        active += [Track(detections[i].label, [detections[i]]) for i in sorted(unmatched)]
    tracks = finished + active
    tracks = [t for t in tracks if len(t.detections) >= MIN_TRACK_FRAMES]
    return sorted(tracks, key=lambda t: (t.detections[0].frame, -t.detections[0].score))


def tracks_to_prompts(tracks: Sequence[Track], class_names: Sequence[str], geometry: PlateGeometry,
                      plate: PlateInfo) -> PromptSet:
    """One instance per track, `<class>_<n>` numbered per class from 1 in order of appearance,
    prompted by the box of its best detection in display-window pixels."""
    counts: dict[str, int] = {}
    instances = []
    for track in tracks:
        class_name = class_names[track.label]
        counts[class_name] = counts.get(class_name, 0) + 1
        best = track.best
        rows, cols = np.nonzero(best.mask)
        corners = geometry.points_to_display(np.array([[cols.min(), rows.min()], [cols.max() + 1, rows.max() + 1]], np.float64))
        box = np.clip(corners.reshape(4), 0, [plate.width, plate.height, plate.width, plate.height])
        keyframe = Keyframe(best.frame, boxes=box[None])
        instances.append(InstanceTrack(f"{class_name}_{counts[class_name]}", class_name, {best.frame: keyframe}))
    return PromptSet(instances, plate)


def detect_instances(predictor: RMPSAMPredictor, frames: Sequence[int], network_image: Callable[[int], np.ndarray],
                     class_names: Sequence[str], wanted: Sequence[int], geometry: PlateGeometry, plate: PlateInfo,
                     min_score: float = DEFAULT_MIN_SCORE,
                     on_frame: Callable[[int, int], None] | None = None) -> PromptSet:
    """The whole prompt-free pass: detect on every frame, link, and write prompts."""
    wanted_set = set(wanted)

    def per_frame():
        for frame in frames:
            detections = detect_frame(predictor, frame, network_image(frame), wanted_set, min_score)
            if on_frame is not None:
                on_frame(frame, len(detections))
            yield detections

    return tracks_to_prompts(link_detections(per_frame()), class_names, geometry, plate)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0

"""The warm part of the server: one network, the features of recently used frames, one lock.

Running the backbone and neck on a frame costs seconds; decoding a click on cached features costs
milliseconds. The predictor keeps the features of the last `cache_frames` frames (least recently
used forgotten first: an artist moves between a few keyframes), so only the first click on a
frame pays for the backbone.

A preview is the job's own keyframe decode (`propagation.keyframe_decode.decode_keyframe`: the
union of positive clicks and boxes, less what negative clicks claim more strongly), brought to
the display window the way the job brings it (`JobRunner._full_resolution` without a guide): what the artist
sees is what `run` writes on that keyframe, except that the job also refines edges against the
plate and stabilises over time, which a single-frame preview cannot do cheaply.

The network is not safe to run from several threads at once (and on a CPU two concurrent runs
only fight over the same cores), so every call into it holds `model_lock`. Reading and colour-
converting a frame from disk happens outside the lock: another client's click on a warm frame is
not kept waiting behind a slow file server. A decode waits at most `model_wait_s` for the lock
(`NetworkBusy` after that, a 429 to the client): with prompts capped per decode each hold is short,
so only a flood of clicks waits that long, and it then gets an answer rather than a stuck thread.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_model.preprocess import InferenceGeometry
from rmpsam_plugin.propagation.keyframe_decode import NetworkPrompts, decode_keyframe
from rmpsam_plugin.server.plate_frames import PlateFrames

DEFAULT_MODEL_WAIT_S = 30.0


class NetworkBusy(Exception):
    """The network stayed busy with other requests for longer than a decode may wait."""


@dataclass(frozen=True)
class DecodeRequest:
    """One instance's prompts on one frame, in display-window pixels (origin top-left, y down)."""

    frame: int
    positive_clicks: np.ndarray  # (N, 2)
    negative_clicks: np.ndarray  # (M, 2)
    boxes: np.ndarray  # (K, 4) x1, y1, x2, y2
    encoding: str = "png"


@dataclass
class DecodedMatte:
    """The instance's soft matte over the display window, and where the time went."""

    frame: int
    matte: np.ndarray  # (height, width) float32 0..1
    iou: float  # the network's quality estimate of the best positive prompt
    features_were_cached: bool
    timings_ms: dict[str, float] = field(default_factory=dict)


class PreviewSession:
    """Answers decode requests for one plate with one warm predictor."""

    def __init__(self, predictor: RMPSAMPredictor, frames: PlateFrames, model_wait_s: float = DEFAULT_MODEL_WAIT_S) -> None:
        self.predictor = predictor
        self.frames = frames
        self.model_wait_s = model_wait_s
        self.model_lock = threading.Lock()
        self._network_geometry = InferenceGeometry.for_image(*frames.geometry.network_hw, predictor.size)

    def cached_frames(self) -> list[int]:
        """Frames whose features are cached now (a click on them skips the backbone)."""
        with self.model_lock:
            return [frame for frame in self.frames.sequence.present if self.predictor.has_frame(frame)]

    def decode(self, request: DecodeRequest) -> DecodedMatte:
        """Decode the request's prompts on its frame. The frame must exist (`frames.has_frame`).

        Whether the features are cached is decided under the same hold of `model_lock` as the
        decode itself: between two holds another client's frame may have pushed this one out of
        the cache. A frame found missing is read outside the lock and the check is made again."""
        start = time.perf_counter()
        timings: dict[str, float] = {}
        geometry = self.frames.geometry
        prompts = NetworkPrompts(
            positive_clicks=geometry.points_to_network(request.positive_clicks),
            negative_clicks=geometry.points_to_network(request.negative_clicks),
            boxes=geometry.boxes_to_network(request.boxes),
        )
        image: np.ndarray | None = None
        while True:
            if not self.model_lock.acquire(timeout=self.model_wait_s):
                raise NetworkBusy(f"the network was busy with other requests for {self.model_wait_s:g} s; "
                                  f"try again shortly")
            try:
                cached = self.predictor.has_frame(request.frame)
                if cached or image is not None:
                    if not cached:
                        features_start = time.perf_counter()
                        self.predictor.add_frame(request.frame, image)
                        timings["features"] = _ms_since(features_start)
                    decode_start = time.perf_counter()
                    state = decode_keyframe(self.predictor, request.frame, prompts)
                    network_logits = self._network_geometry.logits_to_original(state.logits[None])[0]
                    timings["decode"] = _ms_since(decode_start)
                    break
            finally:
                self.model_lock.release()
            read_start = time.perf_counter()  # not cached: read the plate without holding up other clients
            image = self.frames.network_image(request.frame)
            timings["read_plate"] = _ms_since(read_start)
        resize_start = time.perf_counter()
        frame_logits = geometry.matte_to_frame(network_logits.numpy().astype(np.float32))
        matte = (1.0 / (1.0 + np.exp(-np.clip(frame_logits, -30, 30)))).astype(np.float32)
        timings["to_frame"] = _ms_since(resize_start)
        timings["total"] = _ms_since(start)
        return DecodedMatte(request.frame, matte, state.iou, cached, timings)


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1e3, 3)

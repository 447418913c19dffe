"""The editor's way to the network: `load_model` and `VideoSession`, shaped as the project's
public inference API (`rmpsam_plugin.session`, being written) and built, until it lands, on the
preview server's own decode path (`server.sessions.PreviewSession.decode`), so the editor shows
exactly what `serve` answers and what `run` writes on a keyframe, with no third copy of it.

Everything here blocks for as long as the network runs: call it from a worker thread
(`preview.PreviewWorker`), never from the UI thread.

A painted mask has no place in the preview server's request, so here it joins the decoded matte
as the job joins it (the per-pixel maximum: a mask is a union member); a keyframe with a mask and
no click or box shows the mask as painted, as the job writes it. What the preview does not show:
a negative click cutting into the painted mask itself (the job does cut it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_model.preprocess import InferenceSize
from rmpsam_plugin.image_reader import DEFAULT_LAYER
from rmpsam_plugin.job.weights import load_job_weights
from rmpsam_plugin.prompts import InstanceTrack, Keyframe, PromptSet
from rmpsam_plugin.server.plate_frames import PlateFrames
from rmpsam_plugin.server.sessions import DecodeRequest, PreviewSession

CACHED_FRAMES = 8  # an artist moves between a few keyframes; each costs ~40 MB at the released size


@dataclass
class Model:
    """A loaded network, ready for inference, and the image size it runs at."""

    network: object
    inference_size: InferenceSize
    weights_path: Path
    device: str


def load_model(weights: str | Path | None = None, device: str = "cpu", size: int | None = None) -> Model:
    """The network `run` would use (`--weights`, else configured, else shipped), fused for
    inference as `serve` runs it. `size` is `run --size`: the network image's long side."""
    loaded = load_job_weights(Path(weights) if weights is not None else None)
    loaded.model.requires_grad_(False).fuse_for_inference()
    inference_size = InferenceSize(size, size) if size is not None else loaded.inference_size
    return Model(loaded.model, inference_size, loaded.path, device)


class VideoSession:
    """Prompts on the frames of one plate -> each instance's soft matte on that frame."""

    def __init__(self, preview: PreviewSession) -> None:
        self._preview = preview
        self._tracks: dict[str, dict[int, Keyframe]] = {}

    @classmethod
    def open(cls, plate_pattern: str, model: Model, layer: str = DEFAULT_LAYER,
             colour_space: str | None = None) -> VideoSession:
        frames = PlateFrames(plate_pattern, model.inference_size, layer, colour_space)
        predictor = RMPSAMPredictor(model.network, model.inference_size, device=model.device,
                                    max_cached_frames=CACHED_FRAMES)
        return cls(PreviewSession(predictor, frames))

    @property
    def prompts(self) -> PromptSet:
        return PromptSet([InstanceTrack(name, None, keyframes) for name, keyframes in self._tracks.items()])

    def has_cached_features(self, frame: int) -> bool:
        return frame in self._preview.cached_frames()

    def set_prompts(self, frame: int, instance: str, clicks=(), negative=(), boxes=(), mask: np.ndarray | None = None) -> np.ndarray:
        """Replace `instance`'s prompts on `frame`; its matte there, (height, width) float32 over
        the display window. Raises ValueError when nothing positive is given."""
        keyframe = Keyframe(frame, np.asarray(clicks, np.float64).reshape(-1, 2), np.asarray(negative, np.float64).reshape(-1, 2),
                            np.asarray(boxes, np.float64).reshape(-1, 4))
        matte = self._decode(keyframe, mask)
        self._tracks.setdefault(instance, {})[frame] = keyframe
        return matte

    def add_prompts(self, frame: int, instance: str, clicks=(), negative=(), boxes=(), mask: np.ndarray | None = None) -> np.ndarray:
        """As `set_prompts`, with the new prompts appended to those already on the frame."""
        old = self._tracks.get(instance, {}).get(frame, Keyframe(frame))
        return self.set_prompts(frame, instance, np.concatenate([old.positive_clicks, np.asarray(clicks, np.float64).reshape(-1, 2)]),
                                np.concatenate([old.negative_clicks, np.asarray(negative, np.float64).reshape(-1, 2)]),
                                np.concatenate([old.boxes, np.asarray(boxes, np.float64).reshape(-1, 4)]), mask)

    def _decode(self, keyframe: Keyframe, mask: np.ndarray | None) -> np.ndarray:
        if len(keyframe.positive_clicks) + len(keyframe.boxes) == 0:
            if mask is None or not mask.any():
                raise ValueError(f"frame {keyframe.frame}: an instance needs at least one positive click, box or mask")
            return np.clip(mask, 0, 1).astype(np.float32)
        request = DecodeRequest(keyframe.frame, keyframe.positive_clicks, keyframe.negative_clicks, keyframe.boxes)
        matte = self._preview.decode(request).matte
        return matte if mask is None else np.maximum(matte, mask.astype(np.float32))

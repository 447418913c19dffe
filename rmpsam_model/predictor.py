"""The inference API: give it frames once, ask it questions many times.

Shaped like segment-anything's predictor: `set_image` / `set_images` run the expensive part (backbone
and neck) once and cache the stride-4 feature maps; prompt decodes, object decodes and clip decodes
then reuse them. Callers speak original-image pixels; resizing, padding, normalisation and the way
back to the original resolution happen here (see `preprocess.InferenceGeometry`).

Prompt semantics are the released model's: a click at (x, y) becomes the 6-pixel box
(x-3, y-3, x+3, y+3) in network pixels with label 1, a box keeps label 0, and every prompt is its own
query decoded independently of the others. Combining prompts into one instance is the pipeline's job.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from rmpsam_model.network import RMPSAM
from rmpsam_model.postprocess import InstanceResult, PanopticResult, instance_results, panoptic_result
from rmpsam_model.preprocess import InferenceGeometry, InferenceSize, prepare_image

CLICK_HALF_SIZE = 3.0  # pixels of the network input, as in the authors' click evaluation
CLICK_LABEL = 1
BOX_LABEL = 0


@dataclass
class PromptPrediction:
    """One answer per prompt, in the order clicks then boxes."""

    logits: torch.Tensor  # (P, H, W) at the original resolution; > 0 is the released binary mask
    iou: torch.Tensor  # (P,) the network's own quality estimate
    kernels: torch.Tensor  # (P, 256) final query kernels, reusable to decode other frames
    low_res_logits: torch.Tensor  # (P, h/4, w/4) as the network produced them

    @property
    def masks(self) -> torch.Tensor:
        return self.logits > 0


@dataclass
class ObjectPrediction:
    """The 100 learned object queries decoded on one frame."""

    low_res_logits: torch.Tensor  # (N, h/4, w/4)
    class_logits: torch.Tensor  # (N, C + 1); the last column is "no object"
    kernels: torch.Tensor  # (N, 256)


class RMPSAMPredictor:
    """Caches feature maps of one or more frames and answers decodes against them."""

    def __init__(
        self,
        model: RMPSAM,
        size: InferenceSize = InferenceSize(),
        device: str | torch.device = "cpu",
        autocast_dtype: torch.dtype | None = None,
        class_names: Sequence[str] | None = None,
        thing_flags: Sequence[bool] | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.size = size
        self.autocast_dtype = autocast_dtype
        self.class_names = list(class_names) if class_names is not None else None
        self.thing_flags = list(thing_flags) if thing_flags is not None else None
        self._features: torch.Tensor | None = None
        self._geometries: list[InferenceGeometry] = []

    # ---- caching -------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        """Run backbone and neck on one RGB image (H, W, 3; uint8 or float 0..1) and cache it."""
        self.set_images([image])

    def set_images(self, images: Sequence[np.ndarray]) -> None:
        """Cache features of several frames (all the same size), addressed by their index."""
        if not images:
            raise ValueError("set_images needs at least one image")
        height, width = images[0].shape[:2]
        geometry = InferenceGeometry.for_image(height, width, self.size)
        batch = torch.stack([prepare_image(image, geometry) for image in images]).to(self.device)
        with self._inference_context():
            features = self.model.extract_features(batch)
        self._features = features.float()
        self._geometries = [geometry] * len(images)

    @property
    def num_frames(self) -> int:
        return 0 if self._features is None else self._features.shape[0]

    def geometry(self, frame_index: int = 0) -> InferenceGeometry:
        self._check_frame(frame_index)
        return self._geometries[frame_index]

    def features(self, frame_index: int = 0) -> torch.Tensor:
        """The cached (1, 256, h/4, w/4) feature map of one frame."""
        self._check_frame(frame_index)
        return self._features[frame_index : frame_index + 1]

    # ---- decodes ---------------------------------------------------------------------------
    def predict_prompts(
        self,
        points: np.ndarray | Sequence[Sequence[float]] | None = None,
        boxes: np.ndarray | Sequence[Sequence[float]] | None = None,
        frame_index: int = 0,
    ) -> PromptPrediction:
        """Decode clicks (N, 2) and boxes (M, 4 as x1, y1, x2, y2), original pixels, each alone."""
        geometry = self.geometry(frame_index)
        network_boxes, labels = self._prompt_queries(geometry, points, boxes)
        with self._inference_context():
            output = self.model.decode_prompts(
                self.features(frame_index),
                torch.from_numpy(network_boxes).to(self.device),
                torch.from_numpy(labels).to(self.device),
                geometry.resized_hw,
            )
        low_res = output.masks[0].float()
        return PromptPrediction(
            logits=geometry.logits_to_original(low_res),
            iou=output.iou[0, :, 0].float(),
            kernels=output.kernels[0].float(),
            low_res_logits=low_res,
        )

    def predict_objects(self, frame_index: int = 0) -> ObjectPrediction:
        """Decode the learned object queries (the panoptic / instance mode)."""
        with self._inference_context():
            output = self.model.decode_objects(self.features(frame_index))
        return ObjectPrediction(output.masks[0].float(), output.cls[0].float(), output.kernels[0].float())

    def predict_instances(self, frame_index: int = 0, top_k: int = 100) -> InstanceResult:
        """Instance masks at the original resolution with class labels and scores."""
        prediction = self.predict_objects(frame_index)
        result = instance_results(prediction.low_res_logits, prediction.class_logits, top_k)
        keep_logits = prediction.low_res_logits[result.query_indices]
        result.masks = self.geometry(frame_index).logits_to_original(keep_logits) > 0
        return result

    def predict_panoptic(self, frame_index: int = 0) -> PanopticResult:
        """Panoptic segmentation at the original resolution (needs the thing/stuff flags)."""
        if self.thing_flags is None:
            raise ValueError("panoptic results need thing_flags (from the class vocabulary)")
        prediction = self.predict_objects(frame_index)
        logits = self.geometry(frame_index).logits_to_original(prediction.low_res_logits)
        return panoptic_result(logits, prediction.class_logits, self.thing_flags)

    def predict_clip(self, frame_indices: Sequence[int] | None = None) -> ObjectPrediction:
        """Decode cached frames as one clip (the released video mode): one query is one object
        across all frames. `low_res_logits` is (N, T, h/4, w/4)."""
        indices = list(range(self.num_frames)) if frame_indices is None else list(frame_indices)
        for index in indices:
            self._check_frame(index)
        with self._inference_context():
            output = self.model.decode_clip(self._features[indices])
        return ObjectPrediction(output.masks[0].float(), output.cls[0].float(), output.kernels[0].float())

    def class_name(self, label: int) -> str:
        return self.class_names[label] if self.class_names is not None else str(label)

    # ---- internals ---------------------------------------------------------------------
    def _inference_context(self) -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        if self.autocast_dtype is not None:
            stack.enter_context(torch.autocast(self.device.type, dtype=self.autocast_dtype))
        return stack

    def _check_frame(self, frame_index: int) -> None:
        if self._features is None:
            raise RuntimeError("no image cached: call set_image or set_images first")
        if not 0 <= frame_index < self.num_frames:
            raise IndexError(f"frame index {frame_index} outside the {self.num_frames} cached frame(s)")

    @staticmethod
    def _prompt_queries(geometry: InferenceGeometry, points, boxes) -> tuple[np.ndarray, np.ndarray]:
        point_array = np.zeros((0, 2), np.float32) if points is None else np.asarray(points, np.float32).reshape(-1, 2)
        box_array = np.zeros((0, 4), np.float32) if boxes is None else np.asarray(boxes, np.float32).reshape(-1, 4)
        if len(point_array) + len(box_array) == 0:
            raise ValueError("give at least one click or box")
        sx, sy = geometry.xy_scale
        centres = point_array * np.array([sx, sy], np.float32)
        click_boxes = np.concatenate([centres - CLICK_HALF_SIZE, centres + CLICK_HALF_SIZE], axis=1)
        network_boxes = np.concatenate([click_boxes, geometry.boxes_to_network(box_array)]).astype(np.float32)
        labels = np.array([CLICK_LABEL] * len(point_array) + [BOX_LABEL] * len(box_array), dtype=np.int64)
        return network_boxes, labels

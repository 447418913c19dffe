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
from collections import OrderedDict
from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np
import torch

from rmpsam_model.network import RMPSAM
from rmpsam_model.postprocess import InstanceResult, PanopticResult, instance_results, panoptic_result
from rmpsam_model.preprocess import InferenceGeometry, InferenceSize, prepare_image

CLICK_HALF_SIZE = 3.0  # pixels of the network input, as in the authors' click evaluation
CLICK_LABEL = 1
BOX_LABEL = 0


ACROSS_BLOCK = 8
"""Rows of every stacked decode (`decode_queries_across`): queries are decoded in blocks of exactly
this many, the last one padded with zero queries. The decoder treats each query on its own (no
attention between them), but a matrix product's rounding can depend on how many rows it has, so
a fixed block keeps each query's logits the same bits whatever it is decoded with: the engine
decodes all instances that share a keyframe in one pass (a stacked decode costs the same for 2
queries as for 8: it is the stack's memory traffic), and `--instances` or a resumed run still get
the bits of each instance decoded alone."""

DECODE_INPUT_FRAMES = 4
"""Frames whose `DecodeInputs` stay cached (see `RMPSAMPredictor.__init__`): propagation decodes
each frame stacked under its two keyframes in turn (`rmpsam_plugin.propagation.engine`), so both
keyframes, the frame and the one before it stay while the frames pass through."""


@dataclass
class DecodeInputs:
    """What every prompt decode on one frame takes from its features, made once per frame.

    `product_features`: the features in the type of the decoder's mask products (themselves in
    float32; bfloat16 with `rmpsam_model.bfloat16`), so a stacked decode joins frames already
    converted rather than converting the whole stack twice per decode (20 ms each at the released
    size); `pixel_keys`: the prompt adapter's projected keys and values of every pixel."""

    product_features: torch.Tensor
    pixel_keys: tuple[torch.Tensor, torch.Tensor]


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
class AcrossFrames:
    """Prompt queries decoded over several frames at once (`decode_queries_across`)."""

    low_res_logits: torch.Tensor  # (P, T, h/4, w/4): each query's mask on each frame
    iou: torch.Tensor  # (P,) the network's quality estimate, one per query across the frames


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
        max_cached_frames: int | None = 64,
        max_cached_bytes: int | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.size = size
        self.autocast_dtype = autocast_dtype
        self.class_names = list(class_names) if class_names is not None else None
        self.thing_flags = list(thing_flags) if thing_flags is not None else None
        self.max_cached_frames = max_cached_frames
        self.max_cached_bytes = max_cached_bytes
        self._frames: OrderedDict[Hashable, tuple[torch.Tensor, InferenceGeometry]] = OrderedDict()
        # The decode inputs of the frames decoded last: the prompt adapter's pixel keys/values are
        # twice the size of the features, so only a few are kept (interactive clicks come on one
        # frame; propagation moves on and does not revisit a frame once both keyframes are done).
        self._decode_inputs: OrderedDict[Hashable, DecodeInputs] = OrderedDict()

    # ---- caching -------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        """Run backbone and neck on one RGB image (H, W, 3; uint8 or float 0..1) and cache it as
        frame 0, forgetting any other cached frame."""
        self.set_images([image])

    def set_images(self, images: Sequence[np.ndarray]) -> None:
        """Cache features of several frames (all the same size) as frames 0..n-1, in one batch."""
        if not images:
            raise ValueError("set_images needs at least one image")
        height, width = images[0].shape[:2]
        geometry = InferenceGeometry.for_image(height, width, self.size)
        batch = torch.stack([prepare_image(image, geometry) for image in images]).to(self.device)
        with self._inference_context():
            features = self.model.extract_features(batch).float()
        self._frames.clear()
        self._decode_inputs.clear()
        for index in range(len(images)):
            self._frames[index] = (features[index : index + 1], geometry)

    def add_frame(self, key: Hashable, image: np.ndarray) -> None:
        """Cache one frame's features under `key` (a frame number, say). The least recently used
        frame is forgotten once more than `max_cached_frames` are held, or their features take
        more than `max_cached_bytes` (the newest frame is always kept): a shot's propagation visits
        frames forward and then backward, so recent frames are the ones asked for again."""
        geometry = InferenceGeometry.for_image(image.shape[0], image.shape[1], self.size)
        with self._inference_context():
            features = self.model.extract_features(prepare_image(image, geometry)[None].to(self.device)).float()
        self._frames[key] = (features, geometry)
        self._frames.move_to_end(key)
        self._decode_inputs.pop(key, None)
        while len(self._frames) > 1 and (self._over_frame_limit() or self._over_byte_budget()):
            forgotten, _ = self._frames.popitem(last=False)
            self._decode_inputs.pop(forgotten, None)

    def _over_frame_limit(self) -> bool:
        return self.max_cached_frames is not None and len(self._frames) > self.max_cached_frames

    def _over_byte_budget(self) -> bool:
        return self.max_cached_bytes is not None and self.cached_feature_bytes > self.max_cached_bytes

    @property
    def cached_feature_bytes(self) -> int:
        """Memory held by cached feature maps (on the predictor's device)."""
        return sum(features.element_size() * features.nelement() for features, _ in self._frames.values())

    def has_frame(self, key: Hashable) -> bool:
        return key in self._frames

    @property
    def num_frames(self) -> int:
        return len(self._frames)

    def geometry(self, frame_index: Hashable = 0) -> InferenceGeometry:
        return self._entry(frame_index)[1]

    def features(self, frame_index: Hashable = 0) -> torch.Tensor:
        """The cached (1, 256, h/4, w/4) feature map of one frame."""
        return self._entry(frame_index)[0]

    # ---- decodes ---------------------------------------------------------------------------
    def predict_prompts(
        self,
        points: np.ndarray | Sequence[Sequence[float]] | None = None,
        boxes: np.ndarray | Sequence[Sequence[float]] | None = None,
        frame_index: Hashable = 0,
    ) -> PromptPrediction:
        """Decode clicks (N, 2) and boxes (M, 4 as x1, y1, x2, y2), original pixels, each alone."""
        return self.decode_queries(self.encode_prompts(points, boxes, frame_index), frame_index)

    def encode_prompts(
        self,
        points: np.ndarray | Sequence[Sequence[float]] | None = None,
        boxes: np.ndarray | Sequence[Sequence[float]] | None = None,
        frame_index: Hashable = 0,
    ) -> torch.Tensor:
        """The (P, 256) prompt queries for clicks then boxes in original pixels of `frame_index`.

        A query describes *what* was prompted; `decode_queries` can answer it on any frame of the
        same size, which is how propagation carries an instance from its keyframe."""
        geometry = self.geometry(frame_index)
        network_boxes, labels = self._prompt_queries(geometry, points, boxes)
        with self._inference_context():
            return self.model.panoptic_head.prompt_queries(
                torch.from_numpy(network_boxes).to(self.device),
                torch.from_numpy(labels).to(self.device),
                geometry.resized_hw,
            )

    def decode_queries(
        self, queries: torch.Tensor, frame_index: Hashable = 0, seed_logits: torch.Tensor | None = None
    ) -> PromptPrediction:
        """Decode (P, 256) prompt queries on a cached frame, each independently, through the
        stages and the prompt adapter. `seed_logits` (P, h/4, w/4), e.g. the previous frame's
        masks, replace the queries' own masks in the first pooling (docs/architecture.md, Propagation)."""
        geometry = self.geometry(frame_index)
        with self._inference_context():
            inputs = self._frame_decode_inputs(frame_index)
            seed = None if seed_logits is None else seed_logits[None].to(self.device)
            output = self.model.decode_from_kernels(inputs.product_features, queries[None].to(self.device), seed,
                                                    independent=True)
            output = self.model.panoptic_head.adapt_prompts(inputs.product_features, output, inputs.pixel_keys)
        low_res = output.masks[0].float()
        return PromptPrediction(
            logits=geometry.logits_to_original(low_res),
            iou=output.iou[0, :, 0].float(),
            kernels=output.kernels[0].float(),
            low_res_logits=low_res,
        )

    def decode_queries_across(self, queries: torch.Tensor, frame_indices: Sequence[Hashable]) -> AcrossFrames:
        """Decode (P, 256) prompt queries over several cached frames at once: their features are
        stacked along the height, as the released video mode stacks a clip, so each query is one
        object across the frames (the `clip` tracker: keyframe on top, new frame below). Queries
        go through in blocks of `ACROSS_BLOCK`, so a query's answer does not depend on the others."""
        count = queries.shape[0]
        blocks = torch.zeros(-(-count // ACROSS_BLOCK) * ACROSS_BLOCK, queries.shape[1], dtype=queries.dtype)
        blocks[:count] = queries
        masks, ious = [], []
        with self._inference_context():
            # Features and the adapter's pixel keys are per pixel, so the stack's are each frame's
            # one after the other (height-stacking flattens frame by frame): the keyframe's, asked
            # for on every frame of its segment, are made once and kept, and the attention runs
            # over the frames' keys block by block, never joined.
            inputs = [self._frame_decode_inputs(key) for key in frame_indices]
            stacked = torch.cat([frame.product_features for frame in inputs], dim=2)
            per_frame = [frame.pixel_keys for frame in inputs]
            for block in blocks.split(ACROSS_BLOCK):
                output = self.model.decode_from_kernels(stacked, block[None].to(self.device))
                output = self.model.panoptic_head.adapt_prompts(stacked, output, per_frame)
                masks.append(output.masks[0].float())
                ious.append(output.iou[0, :, 0].float())
        low_res = torch.cat(masks)[:count].unflatten(1, (len(inputs), stacked.shape[2] // len(inputs)))
        return AcrossFrames(low_res, torch.cat(ious)[:count])

    def predict_objects(self, frame_index: Hashable = 0) -> ObjectPrediction:
        """Decode the learned object queries (the panoptic / instance mode)."""
        with self._inference_context():
            output = self.model.decode_objects(self.features(frame_index))
        return ObjectPrediction(output.masks[0].float(), output.cls[0].float(), output.kernels[0].float())

    def predict_instances(self, frame_index: Hashable = 0, top_k: int = 100) -> InstanceResult:
        """Instance masks at the original resolution with class labels and scores."""
        prediction = self.predict_objects(frame_index)
        result = instance_results(prediction.low_res_logits, prediction.class_logits, top_k)
        keep_logits = prediction.low_res_logits[result.query_indices]
        result.masks = self.geometry(frame_index).logits_to_original(keep_logits) > 0
        return result

    def predict_panoptic(self, frame_index: Hashable = 0) -> PanopticResult:
        """Panoptic segmentation at the original resolution (needs the thing/stuff flags)."""
        if self.thing_flags is None:
            raise ValueError("panoptic results need thing_flags (from the class vocabulary)")
        prediction = self.predict_objects(frame_index)
        logits = self.geometry(frame_index).logits_to_original(prediction.low_res_logits)
        return panoptic_result(logits, prediction.class_logits, self.thing_flags)

    def predict_clip(self, frame_indices: Sequence[Hashable] | None = None) -> ObjectPrediction:
        """Decode cached frames as one clip (the released video mode): one query is one object
        across all frames. `low_res_logits` is (N, T, h/4, w/4)."""
        keys = list(self._frames) if frame_indices is None else list(frame_indices)
        features = torch.cat([self.features(key) for key in keys])
        with self._inference_context():
            output = self.model.decode_clip(features)
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

    def _entry(self, frame_index: Hashable) -> tuple[torch.Tensor, InferenceGeometry]:
        if not self._frames:
            raise RuntimeError("no image cached: call set_image, set_images or add_frame first")
        try:
            entry = self._frames[frame_index]
        except KeyError:
            raise KeyError(f"frame {frame_index!r} is not cached; cached: {list(self._frames)}") from None
        self._frames.move_to_end(frame_index)
        return entry

    def _frame_decode_inputs(self, frame_index: Hashable) -> DecodeInputs:
        """The frame's `DecodeInputs`, made on first use and kept for the `DECODE_INPUT_FRAMES`
        frames decoded last. Call inside the inference context. The frame's features are looked
        up every time, so a keyframe decoded on every frame of its segment stays the most recently
        used in the feature cache too, and is not let go and recomputed in a long segment."""
        features = self.features(frame_index)
        inputs = self._decode_inputs.get(frame_index)
        if inputs is None:
            head = self.model.panoptic_head
            product_features = head.product_features(features)
            inputs = DecodeInputs(product_features, head.prompt_pixel_keys(features, product_features))
            self._decode_inputs[frame_index] = inputs
            while len(self._decode_inputs) > DECODE_INPUT_FRAMES:
                self._decode_inputs.popitem(last=False)
        self._decode_inputs.move_to_end(frame_index)
        return inputs

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

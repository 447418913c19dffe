"""Ways to carry an instance from one frame to the next; the engine uses one of them.

Each tracker answers: given the instance's state on the previous frame (or on its keyframe) and a
new cached frame, where is the instance now? They are interchangeable so the choice is made by
measurement (`rmpsam-matte bench quality` / `bench propagation`), not by argument:

- `redecode`: decode the keyframe's prompt queries again on every frame, ignoring the previous
  frame. The baseline: it only works while the object stays where it was prompted.
- `carried`: carry the keyframe's prompt queries and seed the decoder's first pooling
  with each query's previous-frame mask (docs/architecture.md, Propagation). The query says *what* the object is, the seed
  says *where* it was; the decoder stages then lock on to where it is now.
- `reprompt`: derive a new box prompt from the previous frame's mask and decode it fresh.
- `clip`: the released video mode applied to prompts: the keyframe's features and the new
  frame's are stacked along the height axis and the keyframe's queries decoded over both, so a
  query is one object across the pair (docs/network.md, Video mode). The default: on held-out synthetic shots with
  the shipped weights it scored the best J&F and dtSSD of the four (README, "Propagation").

An instance that left the frame (see `InstanceState.present`) is looked for again on every
frame without a seed, so it is found when it comes back.

`clip` needs nothing of the previous frame, so the engine decodes every instance running from
one keyframe in a single stacked decode (`clip_together`): a stacked decode's cost is the stack's
memory traffic, not the queries, and the predictor's fixed query blocks keep each instance's
logits the bits it gets decoded alone.
"""

from __future__ import annotations

from typing import Callable, Hashable

import numpy as np
import torch

from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_plugin.propagation.keyframe_decode import InstanceState, box_around, combine

Tracker = Callable[[RMPSAMPredictor, InstanceState, InstanceState, Hashable, Hashable], InstanceState]
"""(predictor, keyframe state, previous state, keyframe key, frame key) -> state on frame."""


def _state_from(decoded, previous: InstanceState, queries: torch.Tensor | None = None) -> InstanceState:
    logits = combine(decoded.low_res_logits, previous.is_positive)
    best = float(decoded.iou[previous.is_positive].max())
    return InstanceState(previous.queries if queries is None else queries, previous.is_positive,
                         decoded.low_res_logits, logits, best)


def redecode(predictor, keyframe_state, previous, keyframe, frame) -> InstanceState:
    return _state_from(predictor.decode_queries(keyframe_state.queries, frame), keyframe_state)


def carried(predictor, keyframe_state, previous, keyframe, frame) -> InstanceState:
    seed = previous.prompt_logits if previous.present else None
    return _state_from(predictor.decode_queries(previous.queries, frame, seed_logits=seed), previous)


def reprompt(predictor, keyframe_state, previous, keyframe, frame) -> InstanceState:
    if not previous.present:
        return redecode(predictor, keyframe_state, previous, keyframe, frame)
    probabilities = previous.logits.sigmoid()
    network_box = box_around(probabilities.repeat_interleave(4, 0).repeat_interleave(4, 1).numpy())
    geometry = predictor.geometry(frame)
    height, width = geometry.original_hw
    network_box = np.clip(network_box, 0, [width, height, width, height])
    queries = predictor.encode_prompts(boxes=network_box[None], frame_index=frame)
    decoded = predictor.decode_queries(queries, frame)
    is_positive = torch.ones(1, dtype=torch.bool)
    return InstanceState(queries, is_positive, decoded.low_res_logits, decoded.low_res_logits[0], float(decoded.iou[0]))


def clip_together(predictor, keyframe_states: list[InstanceState], keyframe, frame) -> list[InstanceState]:
    """`clip` for several instances from the same keyframe, in one stacked decode."""
    decoded = predictor.decode_queries_across(torch.cat([state.queries for state in keyframe_states]), [keyframe, frame])
    states, start = [], 0
    for keyframe_state in keyframe_states:
        rows = slice(start, start + keyframe_state.queries.shape[0])
        start = rows.stop
        lower = decoded.low_res_logits[rows, -1].clone()  # its own storage: states outlive the batch
        logits = combine(lower, keyframe_state.is_positive)
        states.append(InstanceState(keyframe_state.queries, keyframe_state.is_positive, lower, logits,
                                    float(decoded.iou[rows][keyframe_state.is_positive].max())))
    return states


def clip(predictor, keyframe_state, previous, keyframe, frame) -> InstanceState:
    return clip_together(predictor, [keyframe_state], keyframe, frame)[0]


TRACKERS: dict[str, Tracker] = {"carried": carried, "redecode": redecode, "reprompt": reprompt, "clip": clip}
DEFAULT_TRACKER = "clip"

SharedDecode = Callable[[RMPSAMPredictor, list[InstanceState], Hashable, Hashable], list[InstanceState]]
"""(predictor, keyframe states of instances sharing the keyframe, keyframe key, frame key) -> their states on frame."""
SHARED_DECODES: dict[str, SharedDecode] = {"clip": clip_together}
"""Trackers whose instances from one keyframe can be decoded together, bit for bit as alone."""

"""Instances carried from one keyframe are decoded together, and each gets exactly the bits it gets alone.

The clip tracker's stacked decode costs the stack's memory traffic whatever the number of queries,
so the engine decodes every instance of a keyframe in one pass. `--instances`, resumed runs and
farm segments promise the same mattes whatever is decoded beside an instance; fixed query blocks
(`ACROSS_BLOCK`) keep that promise, checked here bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch

from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.network import RMPSAM
from rmpsam_model.predictor import ACROSS_BLOCK, RMPSAMPredictor
from rmpsam_model.preprocess import InferenceSize
from rmpsam_plugin.propagation.engine import InstanceKeyframes, PropagationEngine
from rmpsam_plugin.propagation.keyframe_decode import NetworkPrompts

FRAMES = np.random.default_rng(11).random((6, 64, 96, 3), dtype=np.float32)


def a_predictor() -> RMPSAMPredictor:
    torch.manual_seed(0)
    return RMPSAMPredictor(RMPSAM(RMPSAMConfig.parity_tiny()).eval(), InferenceSize(short_side=64, max_long_side=96))


def prompts(x: float, y: float, clicks: int = 1) -> NetworkPrompts:
    positives = np.array([[x + 3 * i, y] for i in range(clicks)], dtype=np.float64)
    return NetworkPrompts(positives, np.zeros((0, 2)), np.array([[x - 10, y - 10, x + 12, y + 12]], dtype=np.float64))


def test_queries_decoded_together_give_each_querys_bits_alone_across_blocks():
    predictor = a_predictor()
    for key in (0, 1):
        predictor.add_frame(key, FRAMES[key])
    groups = [predictor.encode_prompts(points=[[20 + 5 * i, 30]] * count, frame_index=0) for i, count in enumerate((3, 5, 4))]
    assert sum(len(group) for group in groups) > ACROSS_BLOCK  # the last group straddles two blocks
    together = predictor.decode_queries_across(torch.cat(groups), [0, 1])
    start = 0
    for group in groups:
        alone = predictor.decode_queries_across(group, [0, 1])
        rows = slice(start, start + len(group))
        assert torch.equal(together.low_res_logits[rows], alone.low_res_logits)
        assert torch.equal(together.iou[rows], alone.iou)
        start = rows.stop


def test_the_engine_decodes_a_keyframes_instances_in_one_pass_to_the_bits_of_each_alone():
    instances = [
        InstanceKeyframes("car", {0: prompts(30, 30), 5: prompts(40, 32)}),
        InstanceKeyframes("dog", {0: prompts(60, 20, clicks=2), 5: prompts(62, 25)}),
        InstanceKeyframes("kite", {2: prompts(70, 40)}),  # its own keyframe: decoded in its own pass
    ]
    predictor = a_predictor()
    stacked_decodes = []
    decode = predictor.decode_queries_across
    predictor.decode_queries_across = lambda queries, keys: stacked_decodes.append(tuple(keys)) or decode(queries, keys)
    together = PropagationEngine(predictor, FRAMES.__getitem__, instances, (0, 5)).run(0, 5)
    # Frames 1-4 from keyframe 0 forward and 1-4 from keyframe 5 backward: one pass each for car
    # and dog; kite adds 3-5 forward and 0-1 backward from its keyframe 2.
    assert sorted(stacked_decodes) == sorted([(0, f) for f in (1, 2, 3, 4)] + [(5, f) for f in (1, 2, 3, 4)]
                                             + [(2, f) for f in (3, 4, 5, 0, 1)])
    for inst in instances:
        alone = PropagationEngine(a_predictor(), FRAMES.__getitem__, [inst], (0, 5)).run(0, 5)
        for frame in range(6):
            assert torch.equal(together[frame][inst.name], alone[frame][inst.name]), (inst.name, frame)


def test_one_pass_both_ways_gives_the_bits_of_two_sweeps():
    """The clip tracker's runs are decoded frame by frame in both directions (`_both_directions`):
    the same states as a forward and a backward sweep, instances keyed on other frames included."""
    instances = [InstanceKeyframes("car", {0: prompts(30, 30), 5: prompts(40, 32)}),
                 InstanceKeyframes("kite", {2: prompts(70, 40)})]
    one_pass = PropagationEngine(a_predictor(), FRAMES.__getitem__, instances, (0, 5)).run(0, 5)
    sweeps = PropagationEngine(a_predictor(), FRAMES.__getitem__, instances, (0, 5))
    sweeps.shared_decode = None  # the clip tracker instance by instance, in two sweeps
    two_sweeps = sweeps.run(0, 5)
    for frame in range(6):
        for inst in instances:
            assert torch.equal(one_pass[frame][inst.name], two_sweeps[frame][inst.name]), (inst.name, frame)


def test_each_frames_pixel_keys_are_computed_once():
    """Frame by frame both ways, a frame's prompt-adapter keys are used by both of its decodes while
    cached, and the two keyframes' stay cached (`DECODE_INPUT_FRAMES`): two sweeps computed every
    frame between the keyframes twice."""
    instances = [InstanceKeyframes("car", {0: prompts(30, 30), 5: prompts(40, 32)}),
                 InstanceKeyframes("dog", {0: prompts(60, 20, clicks=2), 5: prompts(62, 25)})]
    predictor = a_predictor()
    computed = []
    head = predictor.model.panoptic_head
    own_keys = head.prompt_pixel_keys
    head.prompt_pixel_keys = lambda features, *made: computed.append(features.data_ptr()) or own_keys(features, *made)
    PropagationEngine(predictor, FRAMES.__getitem__, instances, (0, 5)).run(0, 5)
    assert len(computed) == len(set(computed)) == 6


def test_a_range_between_keyframes_decodes_only_its_own_frames():
    """A farm segment's range (frames 3-4 of a 0-9 run keyed at 0 and 9) decodes its frames from
    both keyframes and nothing between the keyframes and the range."""
    frames = np.random.default_rng(12).random((10, 64, 96, 3), dtype=np.float32)
    predictor = a_predictor()
    stacked_decodes = []
    decode = predictor.decode_queries_across
    predictor.decode_queries_across = lambda queries, keys: stacked_decodes.append(tuple(keys)) or decode(queries, keys)
    instances = [InstanceKeyframes("car", {0: prompts(30, 30), 9: prompts(40, 32)})]
    PropagationEngine(predictor, frames.__getitem__, instances, (0, 9)).run(3, 4)
    assert sorted(stacked_decodes) == [(0, 3), (0, 4), (9, 3), (9, 4)]
    stacked_decodes.clear()  # a keyframe alone (a video session's keyframe matte): its decode, nothing carried
    PropagationEngine(predictor, frames.__getitem__, instances, (0, 9)).run(0, 0)
    assert stacked_decodes == []

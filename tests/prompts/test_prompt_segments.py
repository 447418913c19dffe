"""Segments: the shot cut at the union of all instances' keyframes, with each instance's own
bracketing keyframes, so the farm knows exactly what every segment depends on."""

import pytest

from rmpsam_plugin.prompts import PlateInfo, from_dict

CLICK = {"positive_clicks": [[1.0, 1.0]]}


def _spans(segments):
    return [(segment.first_frame, segment.last_frame) for segment in segments]


def test_segments_of_a_multi_instance_shot():
    prompt_set = from_dict(
        {"car": {1010: CLICK, 1050: CLICK}, "tree": {1030: CLICK, 1050: CLICK}, "dog": {1080: CLICK}},
        plate=PlateInfo(first_frame=1001, last_frame=1100),
    )
    segments = prompt_set.segments()
    assert _spans(segments) == [(1001, 1009), (1010, 1029), (1030, 1049), (1050, 1079), (1080, 1100)]
    assert sum(len(segment) for segment in segments) == 100  # every frame exactly once
    assert [dict(segment.brackets) for segment in segments] == [
        {"car": (None, 1010), "tree": (None, 1030), "dog": (None, 1080)},
        {"car": (1010, 1050), "tree": (None, 1030), "dog": (None, 1080)},
        {"car": (1010, 1050), "tree": (1030, 1050), "dog": (None, 1080)},
        {"car": (1050, None), "tree": (1050, None), "dog": (None, 1080)},
        {"car": (1050, None), "tree": (1050, None), "dog": (1080, None)},
    ]
    # car's propagation into 1030-1049 starts at its own keyframe 1010: the worker decodes from there.
    assert segments[2].context == (1010, 1080)
    assert segments[4].context == (1050, 1100)


def test_open_ends_without_a_frame_range_and_no_leading_segment_on_the_first_frame():
    prompt_set = from_dict({"car": {1010: CLICK, 1020: CLICK}})
    segments = prompt_set.segments()
    assert _spans(segments) == [(None, 1009), (1010, 1019), (1020, None)]
    with pytest.raises(TypeError, match="open segment"):
        len(segments[0])
    assert _spans(prompt_set.segments(1010, 1030)) == [(1010, 1019), (1020, 1030)]


def test_single_keyframe_on_the_last_frame():
    prompt_set = from_dict({"car": {1100: CLICK}}, plate=PlateInfo(first_frame=1001, last_frame=1100))
    assert _spans(prompt_set.segments()) == [(1001, 1099), (1100, 1100)]

"""Checks beyond the schema, against the plate: every problem of a file comes back in one error."""

import numpy as np
import pytest
from prompt_files import good_document, write_image, write_json

from rmpsam_plugin.prompts import PlateInfo, PromptFileError, from_dict, load_prompts

PLATE = PlateInfo(first_frame=1001, last_frame=1100, width=2048, height=1080)


def _keyframe(frame, **prompts):
    return {"frame": frame, **prompts}


def test_every_semantic_problem_is_collected_in_one_error(tmp_path):
    write_image(tmp_path / "small.exr", np.ones((540, 1024, 1)), ["A"])
    (tmp_path / "garbage.exr").write_bytes(b"not an image at all")
    document = {
        "schema": "rmpsam-prompts",
        "version": 1,
        "instances": [
            {"name": "car", "keyframes": [
                _keyframe(1012, positive_clicks=[[100.0, 200.0], [2100.0, 40.0]], boxes=[[500, 300, 400, 350]]),
                _keyframe(1012, positive_clicks=[[1.0, 1.0]]),
                _keyframe(990, boxes=[[0, 0, 10, 10]]),
                _keyframe(1020, boxes=[[0, 5, 10, 5]], negative_clicks=[[3.0, 1080.5]]),
                _keyframe(1030, mask="masks/missing.exr"),
                _keyframe(1031, mask="garbage.exr"),
                _keyframe(1032, mask="small.exr"),
                _keyframe(1033, positive_clicks=[["x", 1.0]]),  # schema error: reported too, not hiding the rest
            ]},
            {"name": "car 1", "keyframes": [_keyframe(1001, positive_clicks=[[1.0, 1.0]])]},
            {"name": "car_1", "keyframes": [_keyframe(1001, positive_clicks=[[1.0, 1.0]])]},
            {"name": "car", "keyframes": [_keyframe(1001, positive_clicks=[[1.0, 1.0]])]},
        ],
    }
    with pytest.raises(PromptFileError) as caught:
        load_prompts(write_json(tmp_path / "shot.prompts.json", document), PLATE)
    found = [(issue.instance, issue.frame, issue.field, issue.message) for issue in caught.value.issues]
    expected = [
        ("car", None, "name", "more than one instance has this name"),
        ("car", 990, "frame", "frame 990 is outside the sequence's frame range 1001-1100"),
        ("car", 1012, "frame", "the instance has another keyframe on this frame"),
        ("car", 1012, "positive_clicks[1]", "(2100.0, 40.0) lies outside the 2048x1080 frame"),
        ("car", 1012, "boxes[0]", "(500.0, 300.0, 400.0, 350.0) has x2 < x1"),
        ("car", 1020, "negative_clicks[0]", "(3.0, 1080.5) lies outside the 2048x1080 frame"),
        ("car", 1020, "boxes[0]", "(0.0, 5.0, 10.0, 5.0) has zero area"),
        ("car", 1030, "mask", f"mask image not found: {tmp_path / 'masks' / 'missing.exr'}"),
        ("car", 1031, "mask", f"cannot read mask image {tmp_path / 'garbage.exr'}"),
        ("car", 1032, "mask", f"mask image {tmp_path / 'small.exr'} is 1024x540 but the plate is 2048x1080"),
        ("car", 1033, "positive_clicks[0][0]", 'must be a number, not the string "x"'),
        ("car_1", None, "name",
         'becomes the EXR layer "car_1", like instance "car 1": each instance is written as its own EXR layer'),
    ]
    assert len(found) == len(expected), "\n".join(map(str, caught.value.issues))
    for (instance, frame, field, message), (want_instance, want_frame, want_field, words) in zip(found, expected):
        assert (instance, frame, field) == (want_instance, want_frame, want_field)
        assert words in message, message
    assert 'instance "car", keyframe 1012, positive_clicks[1]: (2100.0, 40.0) lies outside the 2048x1080 frame' in str(
        caught.value
    )


def test_points_and_box_corners_on_the_frame_edge_are_inside():
    prompt_set = from_dict(
        {"matte": {1001: {"positive_clicks": [[0.0, 0.0], [2048.0, 1080.0]], "boxes": [[0.0, 0.0, 2048.0, 1080.0]]}}},
        plate=PLATE,
    )
    assert prompt_set.instance("matte").keyframes[1001].positive_clicks.shape == (2, 2)


def test_box_reaching_outside_the_frame_is_refused():
    with pytest.raises(PromptFileError) as caught:
        from_dict({"car": {1001: {"boxes": [[2000.0, 10.0, 2050.0, 50.0]]}}}, plate=PLATE)
    (issue,) = caught.value.issues
    assert issue.message == "(2000.0, 10.0, 2050.0, 50.0) reaches outside the 2048x1080 frame"


def test_the_plate_given_by_the_sequence_overrides_the_files_description(tmp_path):
    path = write_json(tmp_path / "shot.prompts.json", good_document())  # file says 2048x1080, 1001-1100
    with pytest.raises(PromptFileError) as caught:
        load_prompts(path, PlateInfo(first_frame=1020, last_frame=1100, width=4096, height=2160))
    found = [(issue.field, issue.frame) for issue in caught.value.issues]
    assert found == [("plate.width", None), ("plate.height", None), ("frame", 1012)]
    assert "placed on a plate with width 2048, but the sequence has 4096" in caught.value.issues[0].message


def test_without_any_plate_only_plate_free_checks_apply(tmp_path):
    document = good_document()
    del document["plate"]
    document["instances"][0]["keyframes"][0]["positive_clicks"] = [[99999.0, 99999.0]]
    assert load_prompts(write_json(tmp_path / "shot.prompts.json", document)).plate is None


def test_pixel_aspect_is_compared_at_the_precision_exr_stores_it(tmp_path):
    document = good_document()
    document["plate"]["pixel_aspect"] = 1.33
    path = write_json(tmp_path / "shot.prompts.json", document)
    float32_aspect = float(np.float32(1.33))
    assert load_prompts(path, PlateInfo(pixel_aspect=float32_aspect)).plate.pixel_aspect == 1.33
    with pytest.raises(PromptFileError, match="pixel_aspect 1.33, but the sequence has 2.0"):
        load_prompts(path, PlateInfo(pixel_aspect=2.0))


def test_plate_block_with_reversed_range_is_reported(tmp_path):
    document = good_document()
    document["plate"].update(first_frame=1100, last_frame=1001)
    with pytest.raises(PromptFileError) as caught:
        load_prompts(write_json(tmp_path / "shot.prompts.json", document))
    assert [str(issue) for issue in caught.value.issues] == ["plate: first_frame 1100 is after last_frame 1001"]

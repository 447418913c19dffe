"""Saving, loading and the dict form: exact round trips, canonical text, and the model's queries."""

import json

import numpy as np
import pytest
from prompt_files import GOOD_DOCUMENT, good_document, write_image, write_json

from rmpsam_plugin.prompts import (
    InstanceTrack,
    Keyframe,
    PlateInfo,
    PromptFileError,
    PromptSet,
    UnknownInstanceError,
    from_dict,
    load_prompts,
    save_prompts,
    to_dict,
)


def _awkward_prompt_set(tmp_path) -> PromptSet:
    """Floats that print long, a negative zero, an anamorphic plate and a mask beside the file."""
    (tmp_path / "masks").mkdir()
    mask = write_image(tmp_path / "masks" / "car.1012.exr", np.zeros((1080, 2048, 1)), ["A"])
    car = InstanceTrack("car", "vehicle", {
        1040: Keyframe(1040, boxes=[[0.1, 0.2, 1000.3333333333333, 900.0]]),
        1012: Keyframe(1012, positive_clicks=[[1 / 3, 2 / 7], [-0.0, 5e-324]], negative_clicks=[[2047.999999999, 1.0]],
                       mask_path=mask, mask_channel="A"),
    })
    tree = InstanceTrack("tree", None, {1001: Keyframe(1001, positive_clicks=[[5.5, 7.25]])})
    return PromptSet([car, tree], PlateInfo(1001, 1100, 2048, 1080, 2.0, "plates/shot.####.exr"))


def test_save_then_load_gives_back_exactly_the_same_prompts(tmp_path):
    original = _awkward_prompt_set(tmp_path)
    save_prompts(original, tmp_path / "shot.prompts.json")
    loaded = load_prompts(tmp_path / "shot.prompts.json")
    assert loaded == original
    assert loaded.instance("car").keyframes[1012].positive_clicks[0, 0] == 1 / 3  # bit-exact, not approximately
    assert np.signbit(loaded.instance("car").keyframes[1012].positive_clicks[1, 0])


def test_saved_text_is_canonical_and_loads_back_to_the_same_text(tmp_path):
    save_prompts(_awkward_prompt_set(tmp_path), tmp_path / "a.json")
    save_prompts(load_prompts(tmp_path / "a.json"), tmp_path / "b.json")
    text = (tmp_path / "a.json").read_text()
    assert (tmp_path / "b.json").read_text() == text
    document = json.loads(text)
    assert list(document) == ["schema", "version", "plate", "instances"]
    assert list(document["plate"]) == ["pattern", "first_frame", "last_frame", "width", "height", "pixel_aspect"]
    car = document["instances"][0]
    assert list(car) == ["name", "class", "keyframes"]
    assert [keyframe["frame"] for keyframe in car["keyframes"]] == [1012, 1040]  # sorted by frame
    assert list(car["keyframes"][0]) == ["frame", "positive_clicks", "negative_clicks", "boxes", "mask", "mask_channel"]
    assert car["keyframes"][0]["mask"] == "masks/car.1012.exr"  # relative to the file's folder
    assert '"boxes": [[0.1, 0.2, 1000.3333333333333, 900.0]]' in text  # clicks and boxes on one line
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_mask_paths_follow_the_file_to_another_folder(tmp_path):
    original = _awkward_prompt_set(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    save_prompts(original, tmp_path / "elsewhere" / "shot.prompts.json")
    document = json.loads((tmp_path / "elsewhere" / "shot.prompts.json").read_text())
    assert document["instances"][0]["keyframes"][0]["mask"] == "../masks/car.1012.exr"
    assert load_prompts(tmp_path / "elsewhere" / "shot.prompts.json") == original


def test_save_refuses_prompts_that_would_not_load_and_leaves_no_file(tmp_path):
    bad = PromptSet([InstanceTrack("car", None, {1001: Keyframe(1001, negative_clicks=[[1.0, 1.0]])})])
    with pytest.raises(PromptFileError, match="needs at least one positive click, box or mask"):
        save_prompts(bad, tmp_path / "shot.prompts.json")
    assert list(tmp_path.iterdir()) == []


def test_dict_form_round_trips_and_accepts_tuples_arrays_and_string_frames(tmp_path):
    original = _awkward_prompt_set(tmp_path)
    assert from_dict(to_dict(original), plate=original.plate) == original
    scripted = from_dict({
        "car": {"1012": {"positive_clicks": np.array([[10.0, 20.0]]), "boxes": [(1, 2, 30, 40)]}},
        "tree": {"class": "plant", "keyframes": {np.int64(1001): {"positive_clicks": [(np.float32(5.5), 7)]}}},
    })
    assert scripted == PromptSet([
        InstanceTrack("car", None, {1012: Keyframe(1012, positive_clicks=[[10, 20]], boxes=[[1, 2, 30, 40]])}),
        InstanceTrack("tree", "plant", {1001: Keyframe(1001, positive_clicks=[[5.5, 7]])}),
    ])


def test_dict_form_problems_use_the_files_names(tmp_path):
    with pytest.raises(PromptFileError) as caught:
        from_dict({"car": {1012: {"positive": [[1.0, 2.0]], "boxes": [[0.0, 0.0, float("nan"), 5.0]]}}})
    assert [str(issue) for issue in caught.value.issues] == [
        'instance "car", keyframe 1012, positive: unknown field; did you mean "positive_clicks"? '
        "allowed here: frame, positive_clicks, negative_clicks, boxes, mask, mask_channel",
        'instance "car", keyframe 1012, boxes[0][2]: must be a number, not nan (not a finite number)',
    ]


def test_dict_form_needs_frame_maps():
    with pytest.raises(PromptFileError) as caught:
        from_dict({"car": [[1.0, 2.0]], "tree": {"keyframes": [{"frame": 1001}]}, "dog": {1001: {"boxes": [[0, 0, 1, 1]]}}})
    assert [(issue.instance, issue.field) for issue in caught.value.issues] == [("car", "keyframes"), ("tree", "keyframes")]


def test_model_queries(tmp_path):
    prompt_set = load_prompts(write_json(tmp_path / "shot.prompts.json", GOOD_DOCUMENT))
    assert [keyframe.frame for keyframe in prompt_set.keyframes_sorted("car")] == [1012, 1040]
    assert prompt_set.keyframe_frames() == [1012, 1030, 1040]
    assert prompt_set.subset(["tree"]).names == ["tree"]
    assert prompt_set.subset(["tree", "car"]).names == ["car", "tree"]  # file order: layer order
    with pytest.raises(UnknownInstanceError) as caught:
        prompt_set.subset(["tree", "bus", "van"])
    assert str(caught.value) == "no instance named 'bus', 'van' in the prompts; they have 'car', 'tree'"
    with pytest.raises(UnknownInstanceError):
        prompt_set.keyframes_sorted("bus")


def test_keyframe_arrays_are_read_only(tmp_path):
    keyframe = load_prompts(write_json(tmp_path / "shot.prompts.json", good_document())).instance("car").keyframes[1012]
    with pytest.raises(ValueError):
        keyframe.positive_clicks[0, 0] = 5.0


def test_missing_file_is_a_prompt_file_error(tmp_path):
    with pytest.raises(PromptFileError) as caught:
        load_prompts(tmp_path / "nope.json")
    assert str(caught.value) == f"{tmp_path / 'nope.json'}: file not found"

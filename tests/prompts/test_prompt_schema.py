"""The published schema: valid itself, accepts a good file, and each broken field is reported by
instance, keyframe and field in words an artist understands."""

import json

import jsonschema
import numpy as np
import pytest
from prompt_files import GOOD_DOCUMENT, good_document, write_json

from rmpsam_plugin.prompts import SCHEMA_PATH, PromptFileError, PromptIssue, load_prompts


def _issues(tmp_path, document) -> list[PromptIssue]:
    with pytest.raises(PromptFileError) as caught:
        load_prompts(write_json(tmp_path / "shot.prompts.json", document))
    return caught.value.issues


def test_published_schema_is_valid_draft_2020_12_and_accepts_the_good_file():
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(GOOD_DOCUMENT)) == []


def test_good_file_loads_into_the_model(tmp_path):
    prompt_set = load_prompts(write_json(tmp_path / "shot.prompts.json", GOOD_DOCUMENT))
    assert prompt_set.names == ["car", "tree"]
    car = prompt_set.instance("car")
    assert car.class_name == "vehicle" and list(car.keyframes) == [1012, 1040]
    np.testing.assert_array_equal(car.keyframes[1012].positive_clicks, [[1024.5, 540.25], [1100.0, 560.0]])
    assert car.keyframes[1012].boxes.shape == (0, 4)
    assert car.keyframes[1040].positive_clicks.shape == (0, 2)
    assert prompt_set.plate.width == 2048 and prompt_set.plate.first_frame == 1001


def _break(path, value):
    """A copy of the good document with the item at `path` replaced (or deleted when value is ...)."""
    document = good_document()
    *parents, last = path
    target = document
    for key in parents:
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return document


CAR_1012 = ("instances", 0, "keyframes", 0)


@pytest.mark.parametrize(
    "path, value, instance, frame, field, words",
    [
        (CAR_1012 + ("positive_clicks", 1), [1.0, 2.0, 3.0], "car", 1012, "positive_clicks[1]", "has 2 numbers, this one has 3"),
        (CAR_1012 + ("positive_clicks", 0, 0), "left", "car", 1012, "positive_clicks[0][0]",
         'must be a number, not the string "left"'),
        (CAR_1012 + ("negative_clicks", 0, 1), -4.0, "car", 1012, "negative_clicks[0][1]", "coordinate must be >= 0, got -4.0"),
        (("instances", 0, "keyframes", 1, "boxes", 0), [1.0, 2.0, 3.0], "car", 1040, "boxes[0]",
         "box [x1, y1, x2, y2] has 4 numbers"),
        (CAR_1012 + ("frame",), 1012.5, "car", None, "keyframes[0].frame", "must be an integer, not 1012.5"),
        (CAR_1012 + ("frame",), ..., "car", None, "keyframes[0].frame", "is required but missing"),
        (CAR_1012 + ("positive_clicks",), ..., "car", 1012, "", "needs at least one positive click, box or mask"),
        (CAR_1012 + ("mask_channel",), "A", "car", 1012, "mask_channel", "no mask"),
        (CAR_1012 + ("boxs",), [[0.0, 0.0, 1.0, 1.0]], "car", 1012, "boxs", 'did you mean "boxes"?'),
        (("instances", 0, "class"), 7, "car", None, "class", "must be a string, not 7"),
        (("instances", 0, "keyframes"), [], "car", None, "keyframes", "needs at least one entry"),
        (("instances", 1, "name"), "", None, None, "instances[1].name", "must not be empty"),
        (("plate", "width"), 0, None, None, "plate.width", "width in pixels must be >= 1, got 0"),
        (("instances",), [], None, None, "instances", "needs at least one entry"),
    ],
)
def test_each_broken_field_is_named_by_instance_keyframe_and_field(tmp_path, path, value, instance, frame, field, words):
    issues = _issues(tmp_path, _break(path, value))
    assert len(issues) == 1, issues
    assert (issues[0].instance, issues[0].frame, issues[0].field) == (instance, frame, field)
    assert words in issues[0].message


def test_message_reads_instance_keyframe_field(tmp_path):
    issues = _issues(tmp_path, _break(CAR_1012 + ("positive_clicks", 1), [1.0, 2.0, 3.0]))
    assert str(issues[0]) == 'instance "car", keyframe 1012, positive_clicks[1]: a point [x, y] has 2 numbers, this one has 3'


def test_not_a_prompt_file_and_newer_versions_stop_with_one_clear_issue(tmp_path):
    (issue,) = _issues(tmp_path, {"nodes": []})
    assert issue.field == "schema" and "is this a prompt file?" in issue.message
    (issue,) = _issues(tmp_path, _break(("version",), 2))
    assert issue.field == "version" and "newer than this rmpsam-matte reads (1)" in issue.message
    (issue,) = _issues(tmp_path, _break(("version",), "1"))
    assert str(issue) == 'version: must be the integer 1, found the string "1"'


def test_integral_floats_are_integers_as_json_schema_says(tmp_path):
    document = _break(("version",), 1.0)
    document["instances"][0]["keyframes"][0]["frame"] = 1012.0
    prompt_set = load_prompts(write_json(tmp_path / "shot.prompts.json", document))
    assert list(prompt_set.instance("car").keyframes) == [1012, 1040]
    assert type(prompt_set.instance("car").keyframes[1012].frame) is int


def test_nan_and_infinity_are_refused_where_they_are(tmp_path):
    text = json.dumps(GOOD_DOCUMENT).replace("[10.0, 20.0]", "[NaN, 1e400]")
    path = tmp_path / "shot.prompts.json"
    path.write_text(text)
    with pytest.raises(PromptFileError) as caught:
        load_prompts(path)
    assert [(i.field, i.message) for i in caught.value.issues] == [
        ("negative_clicks[0][0]", "must be a number, not NaN (not a finite number)"),
        ("negative_clicks[0][1]", "must be a number, not 1e400 (not a finite number)"),
    ]


def test_json_syntax_error_gives_line_and_column(tmp_path):
    path = tmp_path / "shot.prompts.json"
    path.write_text('{\n  "schema": "rmpsam-prompts",\n  "version": 1,\n  "instances": [\n    {"name": "car",}\n  ]\n}\n')
    with pytest.raises(PromptFileError) as caught:
        load_prompts(path)
    (issue,) = caught.value.issues
    assert issue.message == "not valid JSON: Expecting property name enclosed in double quotes at line 5, column 20"


def test_a_key_written_twice_is_reported(tmp_path):
    text = json.dumps(GOOD_DOCUMENT).replace('"name": "tree"', '"name": "tree", "name": "bush"')
    path = tmp_path / "shot.prompts.json"
    path.write_text(text)
    with pytest.raises(PromptFileError) as caught:
        load_prompts(path)
    (issue,) = caught.value.issues
    assert (issue.instance, issue.field) == ("bush", "name") and "written twice" in issue.message

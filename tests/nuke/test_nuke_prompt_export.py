"""Prompts from viewer handles: the exported JSON, y flipped, proxy and pixel aspect handled, and
accepted by the tool's own prompt loader; prompt files read back into the same knobs."""

from __future__ import annotations

import json

import nuke
import pytest
from nuke_support import plate_read, rmpsam_below

from nuke_bridge import actions, animation, coordinates
from nuke_bridge import node as rmpsam_node
from nuke_bridge.plate_source import PlateError, plate_for_node
from nuke_bridge.prompt_export import PromptExportError, export_document


def key(knob, frame, values):
    animation.set_key(knob, frame, values, nuke.frame())


def car_and_tree(node):
    """Handles as an artist leaves them: keys on 1001 and 1005, spare slots unkeyed."""
    car = rmpsam_node.add_instance(node, "car", class_name="vehicle")
    key(car.positive[0], 1001, [100.0, 1000.0])     # near the top of a 1080-high frame
    key(car.positive[1], 1001, [640.5, 540.25])
    key(car.negative[0], 1001, [300.0, 80.0])
    key(car.boxes[0], 1001, [10.0, 20.0, 110.0, 220.0])  # x, y, r, t
    key(car.positive[0], 1005, [120.0, 990.0])      # the same handle, another keyframe
    tree = rmpsam_node.add_instance(node, "tree 2")
    key(tree.boxes[0], 1005, [1500.0, 0.0, 2048.0, 1080.0])  # the whole right edge, frame edges included
    return car, tree


EXPECTED_INSTANCES = [
    {"name": "car", "class": "vehicle", "keyframes": [
        {"frame": 1001, "positive_clicks": [[100.0, 80.0], [640.5, 539.75]], "negative_clicks": [[300.0, 1000.0]],
         "boxes": [[10.0, 860.0, 110.0, 1060.0]]},
        {"frame": 1005, "positive_clicks": [[120.0, 90.0]], "negative_clicks": [], "boxes": []}]},
    {"name": "tree 2", "keyframes": [
        {"frame": 1005, "positive_clicks": [], "negative_clicks": [], "boxes": [[1500.0, 0.0, 2048.0, 1080.0]]}]},
]


def test_exported_json_flips_y_and_uses_only_keyed_handles():
    node = rmpsam_below(plate_read())
    car_and_tree(node)
    nuke.frame(1003)  # between keys: interpolated values must not leak into the file
    plate = plate_for_node(node)
    document = export_document(node, plate.space, plate.plate_block())
    assert document == {
        "schema": "rmpsam-prompts", "version": 1,
        "plate": {"pattern": "/plates/sh010.####.exr", "first_frame": 1001, "last_frame": 1010,
                  "width": 2048, "height": 1080, "pixel_aspect": 1.0},
        "instances": EXPECTED_INSTANCES,
    }


def test_anamorphic_keeps_stored_pixels_and_records_the_aspect():
    """Nuke's knob values on a 2:1 anamorphic plate are stored (squeezed) pixels, as are the
    file's: x is not desqueezed, and the aspect only goes to the plate block. Checked against
    Foundry's NDK Dev Guide, "Coordinates and bounding boxes" (pixel aspect is a property of the
    format; positions are pixel coordinates, the viewer desqueezes for display:
    https://learn.foundry.com/nuke/8.0/content/getting_started/using_interface/pixel_aspect_ratio.html);
    see coordinates.py for what that page leaves open."""
    node = rmpsam_below(plate_read(width=1024, height=858, pixel_aspect=2.0))
    track = rmpsam_node.add_instance(node, "car")
    key(track.positive[0], 1001, [512.0, 858.0 - 100.0])
    plate = plate_for_node(node)
    document = export_document(node, plate.space, plate.plate_block())
    assert document["plate"]["pixel_aspect"] == 2.0
    assert document["instances"][0]["keyframes"][0]["positive_clicks"] == [[512.0, 100.0]]


def test_proxy_mode_does_not_change_knob_values_but_proxy_files_scale_them():
    read = plate_read(proxy="/plates/proxy/sh010.####.exr", proxy_size=(1024, 540))
    node = rmpsam_below(read)
    track = rmpsam_node.add_instance(node, "car")
    key(track.positive[0], 1001, [100.0, 1000.0])
    key(track.boxes[0], 1001, [10.0, 20.0, 110.0, 220.0])
    nuke.root()["proxy"].setValue(True)  # proxy mode on: knobs still hold full-res values
    full = plate_for_node(node)
    assert full.pattern == "/plates/sh010.####.exr" and (full.width, full.height) == (2048, 1080)
    frame = export_document(node, full.space, full.plate_block())["instances"][0]["keyframes"][0]
    assert frame["positive_clicks"] == [[100.0, 80.0]] and frame["boxes"] == [[10.0, 860.0, 110.0, 1060.0]]

    node["use_proxy_plate"].setValue(True)
    proxy = plate_for_node(node)
    document = export_document(node, proxy.space, proxy.plate_block())
    assert document["plate"]["pattern"] == "/plates/proxy/sh010.####.exr"
    assert (document["plate"]["width"], document["plate"]["height"]) == (1024, 540)
    frame = document["instances"][0]["keyframes"][0]
    assert frame["positive_clicks"] == [[50.0, 40.0]] and frame["boxes"] == [[5.0, 430.0, 55.0, 530.0]]


def test_coordinate_conversions_invert_each_other():
    space = coordinates.KnobSpace(2048, 1080, 1024, 540)
    for point in [(0.0, 0.0), (2048.0, 1080.0), (0.5, 0.5), (1023.25, 17.75)]:
        assert coordinates.tool_to_nuke_point(*coordinates.nuke_to_tool_point(*point, space), space) == point
    box = [10.0, 20.0, 110.0, 220.0]
    assert coordinates.tool_to_nuke_box(coordinates.nuke_to_tool_box(box, space), space) == box
    # a box dragged inside out still exports with ordered corners
    assert coordinates.nuke_to_tool_box([110.0, 220.0, 10.0, 20.0], coordinates.KnobSpace.full_res(2048, 1080)) == \
        [10.0, 860.0, 110.0, 1060.0]


def test_exported_file_is_what_the_tool_reads(tmp_path):
    """The CLI's own loader accepts the file and sees the same prompts."""
    from rmpsam_plugin.prompts import load_prompts

    node = rmpsam_below(plate_read())
    car_and_tree(node)
    path = actions.export_prompts(node, str(tmp_path / "prompts.json"))
    assert path is not None, nuke.MESSAGES
    prompt_set = load_prompts(path)
    assert prompt_set.names == ["car", "tree 2"]
    car = prompt_set.instance("car")
    assert car.class_name == "vehicle" and list(car.keyframes) == [1001, 1005]
    assert car.keyframes[1001].positive_clicks.tolist() == [[100.0, 80.0], [640.5, 539.75]]
    assert car.keyframes[1001].boxes.tolist() == [[10.0, 860.0, 110.0, 1060.0]]
    assert prompt_set.plate.width == 2048 and prompt_set.plate.pixel_aspect == 1.0


def test_problems_are_reported_together_with_instance_frame_and_knob():
    node = rmpsam_below(plate_read())
    car = rmpsam_node.add_instance(node, "car")
    key(car.positive[0], 1001, [2100.0, 10.0])   # right of the frame
    key(car.negative[0], 1002, [5.0, 5.0])       # a keyframe with only a negative click
    rmpsam_node.add_instance(node, "empty")      # nothing keyed
    plate = plate_for_node(node)
    with pytest.raises(PromptExportError) as caught:
        export_document(node, plate.space, plate.plate_block())
    issues = caught.value.issues
    assert any("car frame 1001" in issue and "i1_pos1" in issue and "outside" in issue for issue in issues)
    assert any("car frame 1002" in issue and "negative" in issue for issue in issues)
    assert any(issue.startswith("empty has no keyed handle") for issue in issues)


def test_plate_comes_from_the_read_upstream_through_dots_and_not_through_transforms():
    read = plate_read()
    assert plate_for_node(rmpsam_below(read, through=["Dot", "Grade"])).read_name == read.name()
    with pytest.raises(PlateError, match="moves the image"):
        plate_for_node(rmpsam_below(read, through=["Transform"]))
    lonely = rmpsam_node.create_node("lonely")
    lonely.setInput(0, None)
    with pytest.raises(PlateError, match="no Read upstream"):
        plate_for_node(lonely)


def test_prompt_file_loads_into_knobs_and_exports_back_unchanged(nuke_shot, tmp_path):
    source = nuke_shot / "prompts.json"
    original = json.loads(source.read_text())
    node = rmpsam_below(plate_read(nuke_shot / "plate.####.exr", 1001, 1004, 160, 96))
    rmpsam_node.add_instance(node, "stale")  # replaced by the file's instances
    nuke.frame(1002)  # not a keyframe: importing must not leave keys on the current frame
    assert actions.import_prompts(node, str(source)) == str(source), nuke.MESSAGES

    tracks = rmpsam_node.instances(node)
    assert [track.name.value() for track in tracks] == [entry["name"] for entry in original["instances"]]
    for track, entry in zip(tracks, original["instances"]):
        frames = sorted({f for knob in track.positive + track.negative + track.boxes
                         for f in animation.key_frames(knob)})
        assert frames == [keyframe["frame"] for keyframe in entry["keyframes"]]
        for keyframe in entry["keyframes"]:
            x, y = keyframe["positive_clicks"][0]
            assert animation.values_at(track.positive[0], keyframe["frame"]) == [x, 96.0 - y]

    plate = plate_for_node(node)
    exported = export_document(node, plate.space)
    # y goes through height - y twice: equal up to the last bit of a double (1e-12 of a pixel)
    assert exported == _approx(original)

    # and the knobs survive a second trip through a file
    path = actions.export_prompts(node, str(tmp_path / "again.json"))
    before = {k: (knob.getKeyList() if knob.isAnimated() else None) for k, knob in node.knobs().items()}
    assert actions.import_prompts(node, path) == path
    after = {k: (knob.getKeyList() if knob.isAnimated() else None) for k, knob in node.knobs().items()}
    assert before == after


def test_masks_survive_a_round_trip(tmp_path):
    document = {"schema": "rmpsam-prompts", "version": 1, "instances": [
        {"name": "car", "keyframes": [{"frame": 1001, "mask": "masks/car.1001.exr", "mask_channel": "A"},
                                      {"frame": 1003, "positive_clicks": [[4.0, 5.0]]}]}]}
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps(document))
    node = rmpsam_below(plate_read(width=160, height=96))
    assert actions.import_prompts(node, str(path)) is not None, nuke.MESSAGES
    plate = plate_for_node(node)
    exported = export_document(node, plate.space)
    frames = exported["instances"][0]["keyframes"]
    assert frames[0] == {"frame": 1001, "positive_clicks": [], "negative_clicks": [], "boxes": [],
                         "mask": str(tmp_path / "masks" / "car.1001.exr"), "mask_channel": "A"}
    assert frames[1]["positive_clicks"] == [[4.0, 5.0]]


def test_a_file_for_another_plate_size_is_refused(nuke_shot):
    node = rmpsam_below(plate_read(width=2048, height=1080))
    document = json.loads((nuke_shot / "prompts.json").read_text())
    document["plate"] = {"width": 160, "height": 96}
    path = nuke_shot.parent / "other_size.json"
    path.write_text(json.dumps(document))
    assert actions.import_prompts(node, str(path)) is None
    assert "160x96" in nuke.MESSAGES[-1]


def _approx(value):
    """`value` with every float replaced by pytest.approx of it (nested lists and dicts kept)."""
    if isinstance(value, dict):
        return {k: _approx(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_approx(v) for v in value]
    if isinstance(value, float):
        return pytest.approx(value, abs=1e-9, rel=0)
    return value

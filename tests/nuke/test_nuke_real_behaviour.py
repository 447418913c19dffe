"""The bridge against what Nuke really does, where a lenient stand-in would hide a bug (issue 17).

Each test names the page of Foundry's reference, or the public plugin, its rule was checked
against. Per call:

- `String_Knob.value()`/`getValue()`: "Get the evaluated value of this knob as a string";
  `getText()`: "Get the non-evaluated value"
  (https://learn.foundry.com/nuke/developers/12.2/pythonreference/nuke.String_Knob-class.html);
  evaluation expands brackets and dollar signs
  (https://learn.foundry.com/nuke/developers/131/pythondevguide/_autosummary/nuke.value.html).
- `File_Knob.value()`: "will be normalized to technical notation if sequence (%4d)"
  (https://learn.foundry.com/nuke/developers/70/pythonreference/nuke.File_Knob-class.html).
- `Array_Knob.isAnimated()`: "returns True if there is any sort of animation in the knob,
  including expressions"; `hasExpression()` tells them apart
  (https://learn.foundry.com/nuke/developers/132/pythondevguide/animation.html).
- Cryptomatte `matteList`: CSV with Nuke-string escaping, `*`/`?`/`[]` wildcards: Psyop/Cryptomatte
  nuke/cryptomatte_utilities.py (`StringEncoder`, `MatteList`) and its tests
  (nuke/cryptomatte_utilities_tests.py, `test_every_encoding_step`, `simulate_nuke_getvalue`).
- The gizmo's layer is its String `cryptoLayer`, and `update_cryptomatte_gizmo(node, force)` is
  the public call that rebuilds it, "Not invoked by gizmo button" (cryptomatte_utilities.py); the
  gizmo is told apart with `type(node) is nuke.Gizmo` (its `MatteList.__init__`).
- `nuke.executeInMainThread*` from the main thread, knobs off the main thread:
  https://learn.foundry.com/nuke/developers/140/pythondevguide/threading.html
"""

from __future__ import annotations

import csv
import json
import sys

import cryptomatte_utilities
import nuke
import pytest
from nuke_support import plate_read, rmpsam_below

from nuke_bridge import actions, animation
from nuke_bridge import node as rmpsam_node
from nuke_bridge.plate_source import PlateError, plate_for_node
from nuke_bridge.prompt_export import PromptExportError, export_document
from nuke_bridge.result_loader import load_result

HOSTILE_NAMES = ["car", "hero car", "a,b", 'say "hi"', "back\\slash", "brack[et]", "star*", "what?",
                 "\\brack*[et]", " lead", "[frame]", "$gui", "quote\\\"d"]


def key(knob, frame, values):
    animation.set_key(knob, frame, values, nuke.frame())


# ---- string knobs: raw text, not TCL-evaluated ----------------------------------------------------
def test_instance_names_classes_and_mask_paths_are_exported_as_typed(tmp_path):
    """Brackets, dollars and backslashes in what the artist typed are text, not TCL (String_Knob
    reference above): `value()` would run `[v2]` as a command or drop the backslash."""
    node = rmpsam_below(plate_read())
    car = rmpsam_node.add_instance(node, "car [v2]", class_name="vehicle $parked")
    key(car.positive[0], 1001, [100.0, 1000.0])
    mask = str(tmp_path / "take [2]" / "car.1003.exr")
    car.masks.setValue(json.dumps({"1003": {"mask": mask}}))
    back = rmpsam_node.add_instance(node, "back\\slash")
    key(back.positive[0], 1001, [10.0, 10.0])
    plate = plate_for_node(node)
    entries = export_document(node, plate.space, plate.plate_block())["instances"]
    assert [entry["name"] for entry in entries] == ["car [v2]", "back\\slash"]
    assert entries[0]["class"] == "vehicle $parked"
    assert entries[0]["keyframes"][1]["mask"] == mask


def test_the_plate_pattern_is_the_read_file_knobs_text():
    """File_Knob.value() turns `####` into `%04d` and evaluates TCL: the bridge reads getText(),
    so the prompt file names the plate as typed and a TCL expression is refused, not run."""
    node = rmpsam_below(plate_read("/plates/sh010.####.exr"))
    assert plate_for_node(node).plate_block()["pattern"] == "/plates/sh010.####.exr"
    node = rmpsam_below(plate_read("/plates/[value root.name]/sh010.####.exr"))
    with pytest.raises(PlateError, match="TCL"):
        plate_for_node(node)


def _recording_tool(folder):
    """An executable that writes its argv, one per line, beside itself and exits 0."""
    folder.mkdir(parents=True)
    tool = folder / "rmpsam-matte"
    tool.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > "$(dirname "$0")/argv.txt"\n')
    tool.chmod(0o755)
    return tool


@pytest.mark.skipif(sys.platform == "win32", reason="a /bin/sh tool")
def test_run_passes_executable_output_and_extra_arguments_as_typed(tmp_path):
    tool = _recording_tool(tmp_path / "tools [v2]")
    node = rmpsam_below(plate_read())
    key(rmpsam_node.add_instance(node, "car").positive[0], 1001, [100.0, 100.0])
    output = str(tmp_path / "mattes" / "sh.####.exr")
    node["executable"].setValue(str(tool))
    node["output"].setValue(output)
    node["extra_args"].setValue('--size 1024 --note "take [2] $HOME"')
    node["load_when_done"].setValue(False)
    run = actions.run_locally(node)
    assert run is not None, nuke.MESSAGES
    assert nuke.run_until(run.finished.is_set, timeout=60)
    argv = (tool.parent / "argv.txt").read_text().splitlines()
    assert run.command[0] == str(tool)
    assert argv[argv.index("--output") + 1] == output
    assert argv[-4:] == ["--size", "1024", "--note", "take [2] $HOME"]


def test_a_path_knob_holding_a_tcl_expression_is_refused_with_a_message():
    node = rmpsam_below(plate_read())
    key(rmpsam_node.add_instance(node, "car").positive[0], 1001, [100.0, 100.0])
    node["output"].setValue("/shots/[value root.name]/sh.####.exr")
    assert actions.run_locally(node) is None
    assert "output" in nuke.MESSAGES[-1] and "TCL" in nuke.MESSAGES[-1]


# ---- Cryptomatte ----------------------------------------------------------------------------------
def _as_cryptomatte_reads(knob):
    """The names a Cryptomatte node selects from its matteList, step by step as Psyop's MatteList
    reads it: the knob's evaluated value, backslashes restored, CSV with `\\` escapes, then the
    wildcard escapes (`\\*`, `\\?`, `\\[`, `\\]`, `\\\\`) undone."""
    text = knob.value().replace("\\", "\\\\").replace('\\\\"', '\\"')
    row = next(csv.reader([text], quotechar='"', delimiter=",", escapechar="\\", doublequote=False,
                          quoting=csv.QUOTE_ALL, skipinitialspace=True))
    names = []
    for matte in row:
        raw, escaped = "", False
        for char in matte:
            if escaped or char != "\\":
                raw += char
                escaped = False
            else:
                escaped = True
        names.append(raw)
    return names


def _wildcards(knob):
    """The unescaped `*`/`?` a Cryptomatte node would expand against its manifest."""
    text = knob.value().replace("\\", "\\\\").replace('\\\\"', '\\"')
    row = next(csv.reader([text], escapechar="\\", doublequote=False, skipinitialspace=True))
    found, escaped = [], False
    for matte in row:
        for char in matte:
            if not escaped and char in "*?":
                found.append(matte)
            escaped = not escaped and char == "\\"
    return found


def test_matte_list_round_trips_hostile_names():
    loaded = load_result("/mattes/sh.####.exr", 1001, 1010, HOSTILE_NAMES)
    matte_list = loaded.cryptomatte["matteList"]
    assert _as_cryptomatte_reads(matte_list) == HOSTILE_NAMES
    assert _wildcards(matte_list) == []  # "star*" and "what?" are names here, not patterns


def test_native_cryptomatte_picks_its_layer_with_cryptoLayerChoice():
    loaded = load_result("/mattes/sh.####.exr", 1001, 1010, ["car"])
    crypto = loaded.cryptomatte
    assert crypto.Class() == "Cryptomatte" and not isinstance(crypto, nuke.Gizmo)
    assert crypto["cryptoLayerChoice"].value() == "CryptoObject"
    assert crypto.input(0) is loaded.read
    assert cryptomatte_utilities.UPDATES == []


def test_the_psyop_gizmo_is_rebuilt_after_its_matte_list_is_set():
    nuke.PSYOP_GIZMO = True
    cryptomatte_utilities.UPDATES.clear()
    loaded = load_result("/mattes/sh.####.exr", 1001, 1010, ["car", "hero car"])
    gizmo = loaded.cryptomatte
    assert isinstance(gizmo, nuke.Gizmo)
    assert gizmo["cryptoLayer"].getText() == "CryptoObject"
    assert cryptomatte_utilities.UPDATES == [(gizmo.name(), gizmo["matteList"].getText(), True)]
    assert _as_cryptomatte_reads(gizmo["matteList"]) == ["car", "hero car"]


# ---- buttons --------------------------------------------------------------------------------------
def test_remove_instance_does_not_remove_the_button_that_runs_it():
    node = rmpsam_node.create_node()
    for name in ("car", "tree", "sky"):
        rmpsam_node.add_instance(node, name)
    node["i3_remove"].execute()   # the artist presses "Remove instance" on the last tab
    assert [track.name.getText() for track in rmpsam_node.instances(node)] == ["car", "tree"]
    leftover = node.knob("i3_remove")
    assert leftover is not None and not leftover.visible()
    assert [k for k in node.knobs() if k.startswith("i3_") and k != "i3_remove"] == []

    node["i1_remove"].execute()   # another button: the hidden leftover goes now
    assert node.knob("i3_remove") is None and node.knob("i1_remove") is not None
    added = rmpsam_node.add_instance(node, "sky again")
    assert added.index == 3 and node.knob("i1_remove") is None
    assert [track.name.getText() for track in rmpsam_node.instances(node)] == ["tree", "sky again"]


# ---- expressions ----------------------------------------------------------------------------------
def _tracker(values):
    """A Transform whose `translate` is keyed like a Tracker's output."""
    tracker = nuke.nodes.Transform()
    tracker.setName("Track1")
    tracker["translate"].setAnimated()
    for frame, (x, y) in values.items():
        tracker["translate"].setValueAt(x, frame, 0)
        tracker["translate"].setValueAt(y, frame, 1)
    tracker["translate"].removeKeyAt(1, -1)  # setAnimated keyed the current frame
    return tracker


def test_an_expression_linked_handle_counts_on_the_instances_keyframes():
    """isAnimated() is also true for an expression, whose curve has no keys: the handle is sampled
    on the frames where the instance's other handles have keys."""
    _tracker({1001: (200.0, 900.0), 1005: (260.0, 880.0)})
    node = rmpsam_below(plate_read())
    car = rmpsam_node.add_instance(node, "car")
    key(car.boxes[0], 1001, [10.0, 20.0, 110.0, 220.0])
    key(car.boxes[0], 1005, [12.0, 20.0, 112.0, 220.0])
    car.positive[0].setExpression("Track1.translate.x", 0)
    car.positive[0].setExpression("Track1.translate.y", 1)
    assert car.positive[0].isAnimated() and car.positive[0].hasExpression()
    plate = plate_for_node(node)
    frames = export_document(node, plate.space)["instances"][0]["keyframes"]
    assert [(f["frame"], f["positive_clicks"]) for f in frames] == [(1001, [[200.0, 180.0]]), (1005, [[260.0, 200.0]])]


def test_an_instance_with_only_expression_handles_is_refused_with_a_message():
    _tracker({1001: (200.0, 900.0)})
    node = rmpsam_below(plate_read())
    car = rmpsam_node.add_instance(node, "car")
    car.positive[0].setExpression("Track1.translate.x", 0)
    car.positive[0].setExpression("Track1.translate.y", 1)
    plate = plate_for_node(node)
    with pytest.raises(PromptExportError) as caught:
        export_document(node, plate.space)
    assert any("i1_pos1" in issue and "expression" in issue for issue in caught.value.issues)


# ---- the stand-in is as strict as Nuke ------------------------------------------------------------
def test_the_stand_in_refuses_what_nuke_refuses():
    with pytest.raises(RuntimeError, match="hangs"):
        nuke.executeInMainThread(lambda: None)
    with pytest.raises(RuntimeError, match="hangs"):
        nuke.executeInMainThreadWithResult(lambda: None)
    with pytest.raises(RuntimeError, match="unknown command"):
        nuke.nodes.NoSuchNode()
    knob = nuke.nodes.NoOp()["label"]
    errors = []

    def worker():
        try:
            knob.setValue("off the main thread")
        except nuke.ThreadError as error:
            errors.append(error)

    import threading
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert errors and knob.getText() == ""
    text = nuke.String_Knob("t")
    text.setValue("a \\[b\\] [frame] $gui")
    assert (text.getText(), text.value()) == ("a \\[b\\] [frame] $gui", "a [b] 1 1")
    text.setValue("car [v2]")
    with pytest.raises(RuntimeError, match="invalid command"):
        text.value()
    path = nuke.File_Knob("f")
    path.setValue("/p/sh.####.exr")
    assert (path.getText(), path.value()) == ("/p/sh.####.exr", "/p/sh.%04d.exr")

"""The RMPSAM node: a NoOp carrying the bridge's knobs, and the naming rule of its instance knobs.

A NoOp passes its input through untouched, so the node can sit on the plate's branch and its
XY/BBox knobs draw as viewer handles over the plate while its panel is open: no Group internals to
keep in sync, and the node costs nothing at render time.

Per instance `n` (1, 2, ... never renumbered, so expressions and keys stay attached when an
earlier instance is removed) the knobs are:

    i<n>_name   String    the instance name (the EXR layer after sanitising)
    i<n>_class  String    optional class, informative
    i<n>_pos<k> XY_Knob   positive click k        } a handle counts on the frames where it has a
    i<n>_neg<k> XY_Knob   negative click k        } key (see animation.py); unkeyed handles are
    i<n>_box<k> BBox_Knob box k (x, y, r, t)      } spare slots
    i<n>_masks  hidden    JSON {frame: {"mask": ..., "mask_channel": ...}} carried from prompt
                          files (a mask image has no viewer handle) so they survive a round trip

Only this module knows the names; the rest asks `instances(node)`.

String knobs are read with `getText()`, never `value()`: Nuke's `value()` is the TCL-evaluated text
(`[...]` run as a command, `$var` substituted, backslashes dropped; File knobs also turn `####`
into `%04d`), and an instance called `car [v2]` or a tool in `C:\tools` is text, not TCL.
"""

from __future__ import annotations

import re
from typing import Dict, List, NamedTuple, Optional

import nuke

NODE_CLASS = "NoOp"
MARKER_KNOB = "rmpsam_node"
DEFAULT_POSITIVE, DEFAULT_NEGATIVE, DEFAULT_BOXES = 3, 2, 1

_INSTANCE_KNOB = re.compile(r"^i(\d+)_(name|class|masks|tab|remove|pos(\d+)|neg(\d+)|box(\d+))$")
_BUTTON = "import nuke_bridge.actions as _rmpsam; _rmpsam.{0}(nuke.thisNode())"
_REMOVE_BUTTON = "import nuke_bridge.actions as _rmpsam; _rmpsam.remove_instance(nuke.thisNode(), {0})"

# Settings knobs: name -> (knob class, label, default, tooltip). Read through `setting()`.
SETTINGS = (
    ("executable", "String_Knob", "executable", "",
     "How to start the tool: a path to rmpsam-matte, or to a Python that has it installed. "
     "Empty: $RMPSAM_MATTE_EXECUTABLE, else rmpsam-matte on PATH."),
    ("weights", "File_Knob", "weights", "", "Weights file (empty: the tool's configured default)."),
    ("prompt_file", "File_Knob", "prompt file", "",
     "Where Run writes the prompts (empty: beside the output, <node>.prompts.json)."),
    ("output", "File_Knob", "output", "", "Output pattern, e.g. /shots/sh010/mattes/sh010.####.exr."),
    ("threads", "Int_Knob", "threads", 0, "CPU threads for the network (0: the tool's choice)."),
    ("extra_args", "String_Knob", "extra arguments", "",
     "More `rmpsam-matte run` options, e.g. --no-temporal --size 1024."),
    ("use_proxy_plate", "Boolean_Knob", "run on proxy files", False,
     "Run on the Read's proxy files instead of the full-res plate (prompts are scaled to them)."),
    ("cryptomatte", "Boolean_Knob", "cryptomatte", True, "Also write and load a Cryptomatte of all instances."),
    ("load_when_done", "Boolean_Knob", "load when done", True, "Load the result when a local run succeeds."),
    ("farm_manager", "String_Knob", "farm manager", "",
     "Submit to farm with: openjd, opencue or deadline (empty: $RMPSAM_FARM_MANAGER)."),
)
BUTTONS = (
    ("add_instance", "Add instance"),
    ("preview", "Preview frame"),
    ("run_locally", "Run locally"),
    ("submit_to_farm", "Submit to farm"),
    ("load_result", "Load result"),
    ("export_prompts", "Save prompts..."),
    ("import_prompts", "Load prompts..."),
)


class InstanceKnobs(NamedTuple):
    """One instance's knobs, slots in slot order."""

    index: int
    name: object
    class_name: object
    positive: List[object]
    negative: List[object]
    boxes: List[object]
    masks: object


def create_node(name: Optional[str] = None):
    """A new RMPSAM node with its settings and buttons and no instances yet. `nuke.createNode`
    connects it below the selected node, like any node made from the menu."""
    node = nuke.createNode(NODE_CLASS, inpanel=False)
    node.setName(name or "RMPSAM1")  # Nuke numbers on from there when the name is taken
    node.addKnob(nuke.Tab_Knob("rmpsam", "RMPSAM"))
    marker = nuke.Int_Knob(MARKER_KNOB, "")
    marker.setValue(1)
    marker.setVisible(False)
    node.addKnob(marker)
    for knob_name, label in BUTTONS:
        button = nuke.PyScript_Knob(knob_name, label, _BUTTON.format(knob_name))
        node.addKnob(button)
    node.addKnob(nuke.Text_Knob("settings_divider", "settings"))
    for knob_name, knob_class, label, default, tooltip in SETTINGS:
        knob = getattr(nuke, knob_class)(knob_name, label)
        knob.setValue(default)
        knob.setTooltip(tooltip)
        node.addKnob(knob)
    return node


def is_rmpsam_node(node) -> bool:
    return node is not None and node.knob(MARKER_KNOB) is not None


def setting(node, name: str):
    """A settings knob's value (see SETTINGS): the raw text of a string knob, else its value."""
    knob = node[name]
    return knob.getText() if hasattr(knob, "getText") else knob.value()


def path_setting(node, name: str) -> str:
    """A path knob's text. Nuke would evaluate a TCL expression in it and the tool cannot, so one
    is refused (ValueError, shown to the artist) rather than passed on as a literal path."""
    text = setting(node, name).strip()
    if "[" in text:
        raise ValueError("%s's %s knob holds a TCL expression (%s); the tool needs a plain path"
                         % (node.name(), name, text))
    return text


def add_instance(node, name: str, positive: int = DEFAULT_POSITIVE, negative: int = DEFAULT_NEGATIVE,
                 boxes: int = DEFAULT_BOXES, class_name: str = "") -> InstanceKnobs:
    """Add an instance tab with spare handle slots; returns its knobs."""
    _purge_removed(node)
    taken = _instance_numbers(node)
    index = max(taken) + 1 if taken else 1
    prefix = "i%d_" % index
    node.addKnob(nuke.Tab_Knob(prefix + "tab", name))
    name_knob = nuke.String_Knob(prefix + "name", "name")
    name_knob.setValue(name)
    node.addKnob(name_knob)
    class_knob = nuke.String_Knob(prefix + "class", "class")
    class_knob.setValue(class_name)
    node.addKnob(class_knob)
    masks = nuke.Multiline_Eval_String_Knob(prefix + "masks", "masks")
    masks.setValue("")
    masks.setVisible(False)
    node.addKnob(masks)
    node.addKnob(nuke.PyScript_Knob(prefix + "remove", "Remove instance", _REMOVE_BUTTON.format(index)))
    track = instance(node, index)
    ensure_slots(node, track, positive, negative, boxes)
    return instance(node, index)


def ensure_slots(node, track: InstanceKnobs, positive: int, negative: int, boxes: int) -> InstanceKnobs:
    """Add handle slots until the instance has at least the counts given."""
    prefix = "i%d_" % track.index
    for kind, knob_class, have, want, label in (
        ("pos", nuke.XY_Knob, len(track.positive), positive, "+"),
        ("neg", nuke.XY_Knob, len(track.negative), negative, "-"),
        ("box", nuke.BBox_Knob, len(track.boxes), boxes, "box "),
    ):
        for slot in range(have + 1, want + 1):
            node.addKnob(knob_class("%s%s%d" % (prefix, kind, slot), "%s%d" % (label, slot)))
    return instance(node, track.index)


def remove_instance(node, index: int) -> None:
    """Remove every knob of instance `index`; the other instances keep their numbers.

    The instance's own "Remove instance" button is usually the knob whose script is running, and
    Nuke crashes when a PyScript knob is removed under its running callback. So that one button
    is hidden and left behind (with no name knob it is no instance), and removed by the next
    add or remove, from another knob's callback."""
    _purge_removed(node)
    running = nuke.thisKnob()
    for knob_name in _knob_names(node, index):
        knob = node[knob_name]
        if knob is running:
            knob.setVisible(False)
        else:
            node.removeKnob(knob)


def _knob_names(node, index: int) -> List[str]:
    return [name for name in node.knobs() if _index_of(name) == index]


def _index_of(knob_name: str) -> Optional[int]:
    match = _INSTANCE_KNOB.match(knob_name)
    return int(match.group(1)) if match else None


def _instance_numbers(node) -> List[int]:
    """Numbers in use by any instance knob, a leftover button included (its name is still taken)."""
    return sorted({index for index in map(_index_of, node.knobs()) if index is not None})


def _purge_removed(node) -> None:
    """Remove the buttons left behind by `remove_instance`, except one whose script is running."""
    running = nuke.thisKnob()
    for index in _instance_numbers(node):
        names = _knob_names(node, index)
        if names == ["i%d_remove" % index] and node[names[0]] is not running:
            node.removeKnob(node[names[0]])


def instances(node) -> List[InstanceKnobs]:
    """Every instance of the node in instance-number order (the order layers are written)."""
    found = {}  # type: Dict[int, Dict[str, object]]
    for knob_name in node.knobs():
        match = _INSTANCE_KNOB.match(knob_name)
        if match:
            found.setdefault(int(match.group(1)), {})[match.group(2)] = node[knob_name]
    result = []
    for index in sorted(found):
        knobs = found[index]
        if "name" in knobs:
            result.append(_track(index, knobs))
    return result


def instance(node, index: int) -> InstanceKnobs:
    for track in instances(node):
        if track.index == index:
            return track
    raise KeyError("%s has no instance %d" % (node.name(), index))


def _track(index: int, knobs: Dict[str, object]) -> InstanceKnobs:
    def slots(kind: str) -> List[object]:
        numbered = sorted((int(key[len(kind):]), knob) for key, knob in knobs.items()
                          if key.startswith(kind) and key[len(kind):].isdigit())
        return [knob for _, knob in numbered]

    return InstanceKnobs(index, knobs["name"], knobs.get("class"), slots("pos"), slots("neg"), slots("box"),
                         knobs.get("masks"))

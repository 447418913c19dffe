"""A stand-in for Nuke's `nuke` module: the calls nuke_bridge makes, with Nuke's behaviour.

Nuke cannot be installed here, so this fakes it closely enough that the bridge's logic is really
exercised: nodes hold knobs and connect through `setInput`/`input`; array knobs animate per channel
(`setAnimated` keys the current frame like Nuke's "Set key", `setValueAt` only keys an animated
channel, `getValueAt` interpolates between keys, `isKeyAt`, `animations()`/`keys()`); unknown node
classes raise RuntimeError like Nuke's "unknown command"; menus, ProgressTask and messages are
recorded.

Threads: Nuke allows node work on the main thread only. Every Node/Knob method call is recorded
with the thread that made it (`TOUCHES`). `executeInMainThread` called from another thread queues the
call for the main thread, which runs it in `process_events()` (the test's stand-in for Nuke's event
loop).
`executeInMainThreadWithResult` blocks the calling thread until the main thread has run it.

Stricter than a plain stub, each rule with the page it was checked against (test_nuke_real_behaviour.py
cites them per call):
- String knobs: `value()`/`getValue()` return the TCL-evaluated text (`[frame]`, `[value knob]`,
  `$env(NAME)`, backslash escapes; an unknown command or variable raises, as `nuke.tcl` does),
  `getText()` the raw text. File knobs' `value()` also turns `####` into `%04d`.
  https://learn.foundry.com/nuke/developers/12.2/pythonreference/nuke.String_Knob-class.html
  https://learn.foundry.com/nuke/developers/70/pythonreference/nuke.File_Knob-class.html
- Off the main thread any node or knob call raises (Nuke's threading rules), and so does
  `executeInMainThread*` called *on* the main thread (Nuke hangs there).
- Removing the PyScript knob whose script is running raises (Nuke crashes).
- `isAnimated()` is true for an expression too; `hasExpression()` tells them apart.
  https://learn.foundry.com/nuke/developers/132/pythondevguide/animation.html
- The native Cryptomatte node (Nuke 13+) has `cryptoLayerChoice`, not the gizmo's `cryptoLayer`;
  with `PSYOP_GIZMO = True` `nuke.nodes.Cryptomatte()` makes the Psyop gizmo instead.
"""

from __future__ import annotations

import collections
import functools
import os
import re
import threading
import time

GUI = True
NUKE_VERSION_MAJOR = 15
NUKE_VERSION_MINOR = 1
env = {"NukeVersionMajor": NUKE_VERSION_MAJOR, "gui": True}

# ---- recorded state -------------------------------------------------------------------------------
TOUCHES = []            # (thread name, is main thread, "Class.method")
EXECUTE_CALLS = []      # (caller thread name, function name, ran inline)
MENU_CALLS = []         # names passed to nuke.menu / nuke.toolbar
MESSAGES = []
WARNINGS = []
PROGRESS_TASKS = []
INPUT_ANSWERS = collections.deque()
FILENAME_ANSWERS = collections.deque()
UNAVAILABLE_CLASSES = set()   # node classes this session does not have
PSYOP_GIZMO = False           # True: "Cryptomatte" is Psyop's gizmo, as where a studio installed it
_MAIN_QUEUE = collections.deque()
_BUILTIN_LAYERS = {"rgba": ["rgba.red", "rgba.green", "rgba.blue", "rgba.alpha"], "rgb": ["rgb.red", "rgb.green", "rgb.blue"],
                   "alpha": ["rgba.alpha"], "depth": ["depth.Z"]}
_LAYERS = dict(_BUILTIN_LAYERS)
_MENUS = {}
_NODES = []
_CONTEXT = threading.local()
_STATE = {"frame": 1}
_RUNNING = []           # PyScript knobs whose script is running now


def reset():
    """A fresh session: no nodes, menus, messages or queued calls."""
    for container in (TOUCHES, EXECUTE_CALLS, MENU_CALLS, MESSAGES, WARNINGS, PROGRESS_TASKS, INPUT_ANSWERS,
                      FILENAME_ANSWERS, _MAIN_QUEUE, _NODES, _RUNNING):
        container.clear()
    UNAVAILABLE_CLASSES.clear()
    global PSYOP_GIZMO
    PSYOP_GIZMO = False
    _LAYERS.clear()
    _LAYERS.update(_BUILTIN_LAYERS)
    _MENUS.clear()
    _STATE["frame"] = 1
    global _ROOT
    _ROOT = _make_root()
    TOUCHES.clear()  # setting up the root is the session's, not the code under test's


def _main():
    return threading.current_thread() is threading.main_thread()


class ThreadError(RuntimeError):
    """A node or knob touched off the main thread: in Nuke a crash or corrupt script, here an error.
    https://learn.foundry.com/nuke/developers/140/pythondevguide/threading.html"""


def _recording(function, owner):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        TOUCHES.append((threading.current_thread().name, _main(), "%s.%s" % (owner, function.__name__)))
        if not _main():
            raise ThreadError("%s.%s called from thread %s" % (owner, function.__name__,
                                                                threading.current_thread().name))
        return function(*args, **kwargs)

    return wrapper


# ---- formats --------------------------------------------------------------------------------------
class Format(object):
    def __init__(self, width, height, pixel_aspect=1.0, name=""):
        self._width, self._height, self._pixel_aspect, self._name = int(width), int(height), float(pixel_aspect), name

    def width(self):
        return self._width

    def height(self):
        return self._height

    def pixelAspect(self):
        return self._pixel_aspect

    def name(self):
        return self._name

    def __repr__(self):
        return "Format(%d, %d, %g, %r)" % (self._width, self._height, self._pixel_aspect, self._name)


# ---- animation ------------------------------------------------------------------------------------
class AnimationKey(object):
    def __init__(self, x, y):
        self.x, self.y = float(x), float(y)


class AnimationCurve(object):
    def __init__(self, knob, index):
        self._knob, self._index = knob, index
        self._keys = {}  # frame -> value
        self._expression = "curve"  # Nuke's default: the keys themselves

    def expression(self):
        return self._expression

    def noExpression(self):
        return self._expression == "curve"

    def keys(self):
        return [AnimationKey(x, y) for x, y in sorted(self._keys.items())]

    def setKey(self, t, y):
        self._keys[float(t)] = float(y)

    def evaluate(self, t):
        if not self.noExpression():
            return _evaluate_link(self._expression, t)
        keys = sorted(self._keys.items())
        if not keys:
            return 0.0
        t = float(t)
        if t <= keys[0][0]:
            return keys[0][1]
        if t >= keys[-1][0]:
            return keys[-1][1]
        for (x0, y0), (x1, y1) in zip(keys, keys[1:]):
            if x0 <= t <= x1:
                return y0 + (y1 - y0) * (t - x0) / (x1 - x0)
        raise AssertionError("unreachable")


_FIELDS = {"x": 0, "y": 1, "r": 2, "t": 3, "w": 0, "h": 1}


def _evaluate_link(expression, t):
    """A linking expression, `Node.knob.field` (e.g. `Tracker1.translate.x`), at frame `t`; any
    other expression is beyond this stand-in and raises rather than guessing."""
    match = re.match(r"^\s*(?:parent\.)?(\w+)\.(\w+)(?:\.(\w+))?\s*$", expression)
    node = toNode(match.group(1)) if match else None
    knob = node.knob(match.group(2)) if node is not None else None
    if knob is None:
        raise TclError("cannot evaluate expression %r in this stand-in" % expression)
    field = match.group(3)
    index = int(field) if field and field.isdigit() else _FIELDS.get(field, 0)
    return knob.getValueAt(t, index)


# ---- knobs ----------------------------------------------------------------------------------------
class Knob(object):
    def __init__(self, name, label=None, *args):
        self._name = name
        self._label = label if label is not None else name
        self._value = self._default()
        self._visible = True
        self._tooltip = ""
        self._node = None

    def _default(self):
        return ""

    def Class(self):
        return type(self).__name__

    def name(self):
        return self._name

    def label(self):
        return self._label

    def node(self):
        return self._node

    def value(self):
        return self._value

    def getValue(self):
        return self._value

    def setValue(self, value):
        self._value = value
        return True

    def setVisible(self, visible):
        self._visible = bool(visible)

    def visible(self):
        return self._visible

    def setTooltip(self, text):
        self._tooltip = text

    def tooltip(self):
        return self._tooltip

    def setFlag(self, flag):
        pass

    def isAnimated(self, index=-1):
        return False


class TclError(RuntimeError):
    """What `nuke.tcl` raises for an unknown command or variable."""


def _tcl_evaluate(text, node):
    """Nuke's evaluation of a string knob, the subset that matters here: backslash escapes (`\\x`
    -> `x`, as Tcl's rule of backslash substitution and Psyop's `simulate_nuke_getvalue` in
    cryptomatte_utilities_tests.py), `[frame]`, `[value knob]` / `[value node.knob]`, `$env(NAME)`,
    `$gui`. Anything else is an unknown command or variable, which raises."""
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            following = text[i + 1]
            out.append({"n": "\n", "t": "\t"}.get(following, following))
            i += 2
        elif char == "[":
            depth, j = 1, i + 1
            while j < len(text) and depth:
                depth += {"[": 1, "]": -1}.get(text[j], 0)
                j += 1
            if depth:
                raise TclError("missing close-bracket in %r" % text)
            out.append(_tcl_command(_tcl_evaluate(text[i + 1:j - 1], node).split(), node))
            i = j
        elif char == "$":
            match = re.match(r"\$(?:env\(([^)]*)\)|(\w+))", text[i:])
            if match is None:
                out.append(char)
                i += 1
                continue
            if match.group(1) is not None:
                if match.group(1) not in os.environ:
                    raise TclError("can't read \"env(%s)\": no such variable" % match.group(1))
                out.append(os.environ[match.group(1)])
            elif match.group(2) == "gui":
                out.append("1" if GUI else "0")
            else:
                raise TclError("can't read \"%s\": no such variable" % match.group(2))
            i += len(match.group(0))
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _tcl_command(words, node):
    if words == ["frame"]:
        return str(_STATE["frame"])
    if len(words) == 2 and words[0] == "value":
        owner, _, knob_name = words[1].rpartition(".")
        target = (_ROOT if owner == "root" else toNode(owner)) if owner else node
        if target is None or target.knob(knob_name) is None:
            raise TclError("no such knob %s" % words[1])
        return str(target.knob(knob_name).value())
    raise TclError("invalid command name \"%s\"" % (words[0] if words else ""))


class String_Knob(Knob):
    """Holds raw text (`getText`); `value()` is the evaluated text."""

    def setValue(self, value):
        self._value = "" if value is None else str(value)
        return True

    def setText(self, value):
        return self.setValue(value)

    def getText(self):
        return self._value

    def value(self):
        return _tcl_evaluate(self._value, self._node)

    def getValue(self):
        return self.value()


class File_Knob(String_Knob):
    """`value()`/`getValue()` evaluate and normalise a sequence to `%04d` notation."""

    def value(self):
        return re.sub(r"#+", lambda m: "%%0%dd" % len(m.group(0)), super(File_Knob, self).value())

    def getValue(self):
        return self.value()


class Multiline_Eval_String_Knob(String_Knob):
    pass


class Text_Knob(Knob):
    pass


class Tab_Knob(Knob):
    pass


class Channel_Knob(String_Knob):
    """A layer (or channel) picker: like Nuke, it only takes layers Nuke knows (`nuke.Layer`)."""

    def _default(self):
        return "none"

    def setValue(self, value):
        if value != "none" and value.split(".")[0] not in _LAYERS:
            raise ValueError("%s: unknown layer %r" % (self._name, value))
        self._value = value
        return True


class Boolean_Knob(Knob):
    def _default(self):
        return False

    def setValue(self, value):
        self._value = bool(value)
        return True


class Enumeration_Knob(Knob):
    def __init__(self, name, label=None, values=()):
        super(Enumeration_Knob, self).__init__(name, label)
        self._values = list(values)
        self._value = self._values[0] if self._values else ""

    def values(self):
        return list(self._values)

    def setValue(self, value):
        if isinstance(value, int):
            value = self._values[value]
        if value not in self._values:
            raise ValueError("%s: no such item %r" % (self._name, value))
        self._value = value
        return True


class PyScript_Knob(Knob):
    def __init__(self, name, label=None, command=""):
        super(PyScript_Knob, self).__init__(name, label)
        self._command = command

    def command(self):
        return self._command

    def execute(self):
        if self._command:
            _RUNNING.append(self)
            try:
                _with_this(self._node, self, lambda: exec(self._command, {"nuke": _module()}))
            finally:
                _RUNNING.remove(self)


class Format_Knob(Knob):
    def _default(self):
        return Format(2048, 1556, 1.0, "2K_Super_35(full-ap)")

    def setValue(self, value):
        if not isinstance(value, Format):
            raise TypeError("Format_Knob takes a Format in this fake")
        self._value = value
        return True


class Array_Knob(Knob):
    """Per-channel values; a channel is static or animated (a curve of keys)."""

    SIZE = 1

    def __init__(self, name, label=None, *args):
        super(Array_Knob, self).__init__(name, label)
        self._values = [0.0] * self.SIZE
        self._curves = [None] * self.SIZE

    def _channels(self, index):
        return range(self.SIZE) if index is None or index < 0 else [index]

    def arraySize(self):
        return self.SIZE

    def value(self, index=None):
        now = _STATE["frame"]
        if index is None:
            values = [self.getValueAt(now, i) for i in range(self.SIZE)]
            return values if self.SIZE > 1 else values[0]
        return self.getValueAt(now, index)

    def getValue(self, index=0):
        return self.getValueAt(_STATE["frame"], index)

    def array(self):
        return [self.getValue(i) for i in range(self.SIZE)]

    def getValueAt(self, time, index=0):
        curve = self._curves[index]
        return curve.evaluate(time) if curve is not None else self._values[index]

    def setValue(self, value, index=-1):
        values = list(value) if isinstance(value, (list, tuple)) else None
        for i in self._channels(index):
            v = float(values[i] if values is not None else value)
            if self._curves[i] is not None:  # Nuke: setting an animated knob keys the current frame
                self._curves[i].setKey(_STATE["frame"], v)
            else:
                self._values[i] = v
        return True

    def setValueAt(self, value, time, index=-1):
        """Keys an animated channel; on a static channel Nuke just sets the value, no key."""
        for i in self._channels(index):
            if self._curves[i] is not None:
                self._curves[i].setKey(time, value)
            else:
                self._values[i] = float(value)
        return True

    def setAnimated(self, index=-1):
        """Like Nuke's Set key: the channel becomes animated with a key at the current frame."""
        for i in self._channels(index):
            if self._curves[i] is None:
                curve = AnimationCurve(self, i)
                curve.setKey(_STATE["frame"], self._values[i])
                self._curves[i] = curve
        return True

    def isAnimated(self, index=-1):
        """True for keys *and* for expressions, as Nuke documents."""
        return any(self._curves[i] is not None for i in self._channels(index))

    def setExpression(self, expression, channel=-1, view=None):
        for i in self._channels(channel):
            if self._curves[i] is None:
                self._curves[i] = AnimationCurve(self, i)
            self._curves[i]._expression = expression
        return True

    def hasExpression(self, index=-1):
        return any(self._curves[i] is not None and not self._curves[i].noExpression()
                   for i in self._channels(index))

    def hasAnimation(self):
        return self.isAnimated()

    def clearAnimated(self, index=-1):
        for i in self._channels(index):
            if self._curves[i] is not None:
                self._values[i] = self._curves[i].evaluate(_STATE["frame"])
                self._curves[i] = None
        return True

    def animation(self, index):
        return self._curves[index]

    def animations(self):
        return [curve for curve in self._curves if curve is not None]

    def isKeyAt(self, time, index=-1):
        return any(self._curves[i] is not None and float(time) in self._curves[i]._keys for i in self._channels(index))

    def removeKeyAt(self, time, index=-1):
        for i in self._channels(index):
            if self._curves[i] is not None:
                self._curves[i]._keys.pop(float(time), None)
        return True

    def getKeyList(self):
        return sorted({x for curve in self.animations() for x in curve._keys})


class Int_Knob(Array_Knob):
    def value(self, index=None):
        return int(super(Int_Knob, self).value(0))

    def getValue(self, index=0):
        return int(super(Int_Knob, self).getValue(index))


class Double_Knob(Array_Knob):
    pass


class XY_Knob(Array_Knob):
    SIZE = 2


class BBox_Knob(Array_Knob):
    SIZE = 4  # x, y, r, t


class _LayerChoice_Knob(Knob):
    """The native Cryptomatte node's layer menu (an Enumeration in Nuke)."""

    def setValue(self, value):
        if not isinstance(value, str) or not value:
            raise ValueError("%s: not a layer name: %r" % (self._name, value))
        self._value = value
        return True


class Shuffle2Mappings_Knob(Knob):
    """Shuffle2's `mappings`: a list of (input index, source channel, destination channel), each a
    channel of a layer Nuke knows."""

    def _default(self):
        return []

    def setValue(self, value):
        mappings = [(int(i), str(src), str(dst)) for i, src, dst in value]
        for _, source, destination in mappings:
            for channel in (source, destination):
                layer = channel.split(".")[0]
                if channel not in _LAYERS.get(layer, ()):
                    raise ValueError("mappings: unknown channel %r" % channel)
        self._value = mappings
        return True


_KNOB_CLASSES = [Knob, String_Knob, File_Knob, Multiline_Eval_String_Knob, Text_Knob, Tab_Knob, Channel_Knob,
                 Boolean_Knob, Enumeration_Knob, PyScript_Knob, Format_Knob, Array_Knob, Int_Knob, Double_Knob,
                 XY_Knob, BBox_Knob, _LayerChoice_Knob, Shuffle2Mappings_Knob]


# ---- nodes ----------------------------------------------------------------------------------------
def _standard_knobs():
    return [String_Knob("name"), String_Knob("label"), Int_Knob("xpos"), Int_Knob("ypos"),
            Boolean_Knob("selected"), Boolean_Knob("disable")]


_CLASS_KNOBS = {
    "Read": lambda: [File_Knob("file"), File_Knob("proxy"), Int_Knob("first"), Int_Knob("last"),
                     Int_Knob("origfirst"), Int_Knob("origlast"), Format_Knob("format"), Format_Knob("proxy_format"),
                     String_Knob("frame"), Enumeration_Knob("frame_mode", "frame mode", ["expression", "start at", "offset"]),
                     Enumeration_Knob("on_error", "missing frames", ["error", "black", "checkerboard", "nearest frame"]),
                     PyScript_Knob("reload", "Reload"), String_Knob("colorspace")],
    "Write": lambda: [File_Knob("file")],
    "NoOp": lambda: [],
    "Dot": lambda: [],
    "Grade": lambda: [Double_Knob("multiply")],
    "Transform": lambda: [XY_Knob("translate")],
    "Shuffle2": lambda: [Channel_Knob("in1"), Channel_Knob("in2"), Channel_Knob("out1"), Channel_Knob("out2"),
                         Shuffle2Mappings_Knob("mappings")],
    "Shuffle": lambda: [Channel_Knob("in"), Channel_Knob("in2"), Channel_Knob("out"), Channel_Knob("out2"),
                        Channel_Knob("red"), Channel_Knob("green"), Channel_Knob("blue"), Channel_Knob("alpha")],
    # Nuke 13+'s native node: the layer is picked with `cryptoLayerChoice`, whose menu Nuke fills from the
    # input's metadata (which this stand-in does not read, so any layer name is taken).
    "Cryptomatte": lambda: [_LayerChoice_Knob("cryptoLayerChoice"), String_Knob("matteList"),
                            Boolean_Knob("cryptoLayerLock")],
    # Psyop's gizmo (Psyop/Cryptomatte nuke/Cryptomatte.gizmo): a String `cryptoLayer` its Python reads,
    # and an `expression` that only its update function rebuilds.
    "Cryptomatte gizmo": lambda: [String_Knob("cryptoLayer"), Enumeration_Knob("cryptoLayerChoice"),
                                  String_Knob("matteList"), Boolean_Knob("cryptoLayerLock"),
                                  Boolean_Knob("stopAutoUpdate"), String_Knob("expression")],
    "Root": lambda: [Int_Knob("first_frame"), Int_Knob("last_frame"), Format_Knob("format"), Boolean_Knob("proxy"),
                     Enumeration_Knob("proxy_type", "proxy mode", ["format", "scale"]), Double_Knob("proxy_scale"),
                     Format_Knob("proxy_format")],
}


class Node(object):
    def __init__(self, node_class, knobs_of=None):
        self._class = node_class
        self._knobs = collections.OrderedDict()
        self._inputs = {}
        for knob in _standard_knobs() + _CLASS_KNOBS[knobs_of or node_class]():
            self._attach(knob)

    def _attach(self, knob):
        if knob._name in self._knobs:
            raise ValueError("%s already has a knob %s" % (self._knobs["name"].getText(), knob._name))
        knob._node = self
        self._knobs[knob._name] = knob

    def Class(self):
        return self._class

    def name(self):
        return self._knobs["name"].getText()

    def fullName(self):
        return self.name()

    def setName(self, name, uncollide=True):
        taken = {node.name() for node in _NODES if node is not self}
        if name in taken:
            if not uncollide:
                raise ValueError("name %s is taken" % name)
            base, number = re.match(r"^(.*?)(\d*)$", name).groups()
            number = int(number or 1)
            while "%s%d" % (base, number) in taken:
                number += 1
            name = "%s%d" % (base, number)
        self._knobs["name"].setValue(name)

    def knob(self, name):
        return self._knobs.get(name)

    def __getitem__(self, name):
        if name not in self._knobs:
            raise NameError("knob %s does not exist" % name)
        return self._knobs[name]

    def knobs(self):
        return dict(self._knobs)

    def addKnob(self, knob):
        self._attach(knob)
        return True

    def removeKnob(self, knob):
        if knob in _RUNNING:
            raise RuntimeError("removing %s while its own script runs: Nuke frees the knob under the running "
                               "callback and crashes" % knob._name)
        if self._knobs.get(knob._name) is not knob:
            raise ValueError("%s is not a knob of %s" % (knob._name, self.name()))
        del self._knobs[knob._name]
        knob._node = None

    def setInput(self, index, node):
        if node is None:
            self._inputs.pop(index, None)
        else:
            self._inputs[index] = node
        return True

    def input(self, index):
        return self._inputs.get(index)

    def inputs(self):
        return max(self._inputs) + 1 if self._inputs else 0

    def dependent(self):
        return [node for node in _NODES if self in node._inputs.values()]

    def setXYpos(self, x, y):
        self._knobs["xpos"].setValue(x)
        self._knobs["ypos"].setValue(y)

    def xpos(self):
        return self._knobs["xpos"].value()

    def ypos(self):
        return self._knobs["ypos"].value()

    def setSelected(self, selected):
        self._knobs["selected"].setValue(selected)

    def isSelected(self):
        return self._knobs["selected"].value()

    def __repr__(self):
        return "<Node %s %s>" % (self._class, self._knobs["name"].getText())


class Group(Node):
    pass


class Gizmo(Group):
    """A gizmo: Psyop's code tells its Cryptomatte gizmo apart with `type(node) is nuke.Gizmo`."""


for _cls in _KNOB_CLASSES + [Node]:
    for _attr, _function in list(vars(_cls).items()):
        if callable(_function) and (not _attr.startswith("_") or _attr == "__getitem__"):
            setattr(_cls, _attr, _recording(_function, _cls.__name__))


def _new_node(node_class, knobs=None):
    TOUCHES.append((threading.current_thread().name, _main(), "create %s" % node_class))
    if not _main():
        raise ThreadError("create %s called from thread %s" % (node_class, threading.current_thread().name))
    if node_class not in _CLASS_KNOBS or node_class in UNAVAILABLE_CLASSES or " " in node_class or node_class == "Root":
        raise RuntimeError("%s: unknown command" % node_class)
    if node_class == "Cryptomatte" and PSYOP_GIZMO:
        node = Gizmo(node_class, "Cryptomatte gizmo")
    else:
        node = Node(node_class)
    _NODES.append(node)
    node.setName(node_class + "1")
    for name, value in (knobs or {}).items():
        if name == "inputs":
            for index, upstream in enumerate(value):
                node.setInput(index, upstream)
        elif name == "name":
            node.setName(value)
        else:
            node[name].setValue(value)
    return node


class _Nodes(object):
    """`nuke.nodes.Read(file=...)`: create without touching the selection or connecting."""

    def __getattr__(self, node_class):
        if node_class.startswith("_"):
            raise AttributeError(node_class)
        return lambda **knobs: _new_node(node_class, knobs)


nodes = _Nodes()


def createNode(node_class, knobs="", inpanel=True):
    """Like Nuke: the new node is connected below the selected node, and becomes the selection."""
    upstream = selectedNode() if any(node.isSelected() for node in _NODES) else None
    node = _new_node(node_class)
    if upstream is not None:
        node.setInput(0, upstream)
    for other in _NODES:
        other.setSelected(other is node)
    return node


def allNodes(filter=None):
    return [node for node in _NODES if filter is None or node.Class() == filter]


def toNode(name):
    TOUCHES.append((threading.current_thread().name, _main(), "toNode"))
    for node in _NODES:
        if node.name() == name:
            return node
    return None


def delete(node):
    _NODES.remove(node)
    for other in _NODES:
        for index, upstream in list(other._inputs.items()):
            if upstream is node:
                del other._inputs[index]


def selectedNode():
    for node in reversed(_NODES):
        if node.isSelected():
            return node
    raise ValueError("no node selected")


def selectedNodes():
    return [node for node in _NODES if node.isSelected()]


def _make_root():
    root = Node("Root")
    root["first_frame"].setValue(1)
    root["last_frame"].setValue(100)
    return root


_ROOT = _make_root()


def root():
    return _ROOT


def frame(number=None):
    if number is not None:
        _STATE["frame"] = int(number)
    return _STATE["frame"]


def thisNode():
    return getattr(_CONTEXT, "node", None)


def thisKnob():
    return getattr(_CONTEXT, "knob", None)


def _with_this(node, knob, function):
    previous = (getattr(_CONTEXT, "node", None), getattr(_CONTEXT, "knob", None))
    _CONTEXT.node, _CONTEXT.knob = node, knob
    try:
        return function()
    finally:
        _CONTEXT.node, _CONTEXT.knob = previous


def _module():
    import sys
    return sys.modules[__name__]


# ---- UI -------------------------------------------------------------------------------------------
class MenuItem(object):
    def __init__(self, name, command=None):
        self._name, self._command = name, command
        self._items = collections.OrderedDict()

    def name(self):
        return self._name

    def addMenu(self, name, icon=None):
        return self._items.setdefault(name, MenuItem(name))

    def addCommand(self, name, command=None, shortcut=None, icon=None, tooltip=None, index=-1):
        item = MenuItem(name, command)
        self._items[name] = item
        return item

    def findItem(self, name):
        parts = name.split("/", 1)
        item = self._items.get(parts[0])
        return item.findItem(parts[1]) if item is not None and len(parts) > 1 else item

    def items(self):
        return list(self._items.values())

    def invoke(self):
        if callable(self._command):
            return self._command()
        return exec(self._command, {"nuke": _module()})


def layers(node=None):
    return sorted(_LAYERS)


def Layer(name, channels):
    """Registers a layer, as `nuke.Layer(name, channels)` does for one Nuke does not know yet."""
    TOUCHES.append((threading.current_thread().name, _main(), "Layer"))
    if name not in _LAYERS:
        _LAYERS[name] = list(channels)
    return name


def menu(name):
    MENU_CALLS.append(name)
    return _MENUS.setdefault(name, MenuItem(name))


def toolbar(name):
    return menu(name)


def message(text):
    MESSAGES.append(text)


def warning(text):
    WARNINGS.append(text)


def tprint(*values):
    pass


def getInput(prompt, default=""):
    return INPUT_ANSWERS.popleft() if INPUT_ANSWERS else default


def getFilename(message, pattern=None, default=None, favorites=None, type=None, multiple=False):
    return FILENAME_ANSWERS.popleft() if FILENAME_ANSWERS else None


def pluginAddPath(path, addToSysPath=True):
    pass


class ProgressTask(object):
    """Records what the bar showed; `cancel()` plays the artist pressing Cancel."""

    def __init__(self, name):
        self.name = name
        self.progress = []
        self.messages = []
        self.cancel_requested = False
        self.thread_name = threading.current_thread().name
        PROGRESS_TASKS.append(self)

    def setProgress(self, value):
        if not isinstance(value, int):
            raise TypeError("setProgress takes an int")
        self.progress.append(value)

    def setMessage(self, text):
        self.messages.append(text)

    def isCancelled(self):
        return self.cancel_requested

    def cancel(self):
        self.cancel_requested = True


# ---- threads --------------------------------------------------------------------------------------
class _Call(object):
    def __init__(self, function, args, kwargs):
        self.function, self.args, self.kwargs = function, tuple(args), dict(kwargs or {})
        self.done = threading.Event()
        self.result = None
        self.error = None

    def run(self):
        try:
            self.result = self.function(*self.args, **self.kwargs)
        except BaseException as error:  # handed to the waiting thread, as Nuke re-raises it
            self.error = error
        finally:
            self.done.set()


def _refuse_main(name):
    """Nuke hangs when the main thread asks itself to run something and waits; refused here."""
    if _main():
        raise RuntimeError("%s called from the main thread: Nuke hangs" % name)


def executeInMainThread(function, args=(), kwargs=None):
    if not isinstance(args, tuple):
        args = (args,)  # Nuke accepts a bare argument here
    EXECUTE_CALLS.append((threading.current_thread().name, getattr(function, "__name__", repr(function)), _main()))
    _refuse_main("executeInMainThread")
    _MAIN_QUEUE.append(_Call(function, args, kwargs))


def executeInMainThreadWithResult(function, args=(), kwargs=None):
    if not isinstance(args, tuple):
        args = (args,)
    EXECUTE_CALLS.append((threading.current_thread().name, getattr(function, "__name__", repr(function)), _main()))
    _refuse_main("executeInMainThreadWithResult")
    call = _Call(function, args, kwargs)
    _MAIN_QUEUE.append(call)
    call.done.wait()
    if call.error is not None:
        raise call.error
    return call.result


def process_events():
    """Run the calls queued for the main thread (Nuke's event loop does this between redraws)."""
    if not _main():
        raise RuntimeError("process_events runs on the main thread")
    ran = 0
    while _MAIN_QUEUE:
        call = _MAIN_QUEUE.popleft()
        call.run()
        ran += 1
        if call.error is not None:
            raise call.error
    return ran


def run_until(predicate, timeout=300.0, interval=0.05):
    """Process events until `predicate()` is true; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process_events()
        if predicate():
            process_events()
            return True
        time.sleep(interval)
    return False

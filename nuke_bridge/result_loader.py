r"""Load a run's output into the script: one Read, a Shuffle2 per instance, a Cryptomatte node.

The EXR holds each instance as `<layer>.A`, which Nuke shows as `<layer>.alpha`
(docs/file-formats.md, Layers); the layer names are computed with the writer's own rule (layer_names.py), since the
bridge cannot read EXR headers. Each Shuffle2 copies `<layer>.alpha` into rgba (all four channels:
a matte you can view and use as a mask at once): `in1`/`out1` and a `mappings` list of (input,
source channel, destination channel).

The bridge runs in Nuke 14-16 (Python 3.9-3.11), which all have Shuffle2 (Nuke 12.1+) and the
native Cryptomatte node (Nuke 13+), so there is no classic-Shuffle or gizmo-only branch. The
native node picks its layer with `cryptoLayerChoice` (`cryptoLayer` is the gizmo's knob). Where a
studio installed Psyop's gizmo under the same class name, the node is a `nuke.Gizmo`: its String
`cryptoLayer` is set instead, and its own `update_cryptomatte_gizmo` rebuilds its expression
after `matteList` is set, which setting the knob from Python does not do.

`matteList` is what the Cryptomatte node parses, not a plain list (Psyop/Cryptomatte
nuke/cryptomatte_utilities.py, `StringEncoder`): each name has `\`, `*`, `?`, `[`, `]` escaped
(else `*`/`?`/`[]` are wildcards), then it is a CSV item (quoted when it has a space, a comma, a
quote or a backslash; `"` and `\` escaped), and the line gets one more level for Nuke's string
evaluation (`[`/`]` escaped, `\"` doubled, and `$` escaped: Psyop's encoder leaves `$`, which
Nuke's evaluation would substitute as a variable).

Main thread only: this creates nodes.
"""

from __future__ import annotations

import re
from typing import Dict, NamedTuple, Optional, Sequence

import nuke

from .layer_names import CRYPTOMATTE_LAYER, output_layer_names

_DOLLAR_F = re.compile(r"\$F(\d*)")
_AT_SIGNS = re.compile(r"@+")
_SPACING = 40


class LoadedResult(NamedTuple):
    read: object
    shuffles: Dict[str, object]       # instance name -> Shuffle2 node
    layers: Dict[str, str]            # instance name -> EXR layer
    cryptomatte: Optional[object]     # None when the run wrote no Cryptomatte


def nuke_pattern(pattern: str) -> str:
    """An output pattern as a Read's file knob accepts it: `####` and `%04d` pass; the CLI's other
    spellings (`$F4`, `@@@@`) become `%0Nd`."""
    pattern = _DOLLAR_F.sub(lambda m: "%%0%dd" % int(m.group(1) or 1), pattern)
    return _AT_SIGNS.sub(lambda m: "%%0%dd" % len(m.group(0)), pattern)


def load_result(output_pattern: str, first_frame: int, last_frame: int, instance_names: Sequence[str],
                cryptomatte: bool = True, name_prefix: str = "RMPSAM", position: Optional[Sequence[int]] = None
                ) -> LoadedResult:
    layers = output_layer_names(instance_names, cryptomatte)
    read = nuke.nodes.Read(file=nuke_pattern(output_pattern), first=first_frame, last=last_frame,
                           origfirst=first_frame, origlast=last_frame, on_error="black")
    read.setName(name_prefix + "_result")
    if position is not None:
        read.setXYpos(int(position[0]), int(position[1]))
    shuffles = {}
    for column, name in enumerate(instance_names):
        shuffle = _shuffle(layers[name])
        shuffle.setName("%s_%s" % (name_prefix, layers[name]))
        shuffle.setInput(0, read)
        _place_below(shuffle, read, column)
        shuffles[name] = shuffle
    crypto = None
    if cryptomatte:
        crypto = _cryptomatte(read, instance_names, name_prefix + "_cryptomatte")
        _place_below(crypto, read, len(shuffles))
    return LoadedResult(read, shuffles, layers, crypto)


def matte_list(names: Sequence[str]) -> str:
    """The `matteList` text that makes a Cryptomatte node select exactly `names`, literally."""
    items = []
    for name in names:
        matte = re.sub(r"([\\*?\[\]])", r"\\\1", name)  # a literal, not a wildcard
        item = matte.replace("\\", "\\\\").replace('"', '\\"')
        items.append('"%s"' % item if item != matte or " " in item or "," in item else item)
    text = ", ".join(items)
    return text.replace("[", "\\[").replace("]", "\\]").replace("$", "\\$").replace('\\"', '\\\\"')


def _cryptomatte(read, instance_names: Sequence[str], name: str):
    node = nuke.nodes.Cryptomatte()
    node.setName(name)
    node.setInput(0, read)  # the layer menu is filled from the input's metadata
    gizmo = isinstance(node, nuke.Gizmo)
    node["cryptoLayer" if gizmo else "cryptoLayerChoice"].setValue(CRYPTOMATTE_LAYER)
    node["matteList"].setValue(matte_list(instance_names))
    if gizmo:
        import cryptomatte_utilities  # Psyop's module, on Nuke's path wherever its gizmo is

        cryptomatte_utilities.update_cryptomatte_gizmo(node, force=True)
    return node


def _ensure_layer(layer: str) -> None:
    """Register `<layer>.alpha` with Nuke if no Read has shown it yet: a Read learns a file's layers
    only when it opens it, and a Shuffle cannot be pointed at a layer Nuke does not know."""
    if layer not in nuke.layers():
        nuke.Layer(layer, [layer + ".alpha"])


def _shuffle(layer: str):
    source = layer + ".alpha"
    _ensure_layer(layer)
    shuffle = nuke.nodes.Shuffle2()
    shuffle["in1"].setValue(layer)
    shuffle["out1"].setValue("rgba")
    shuffle["mappings"].setValue([(0, source, "rgba." + channel) for channel in ("red", "green", "blue", "alpha")])
    return shuffle


def _place_below(node, above, column: int) -> None:
    node.setXYpos(int(above.xpos()) + column * 3 * _SPACING, int(above.ypos()) + 3 * _SPACING)

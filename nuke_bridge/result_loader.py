"""Load a run's output into the script: one Read, a Shuffle per instance, a Cryptomatte node.

The EXR holds each instance as `<layer>.A`, which Nuke shows as `<layer>.alpha`
(DESIGN 5); the layer names are computed with the writer's own rule (layer_names.py), since the
bridge cannot read EXR headers. Each Shuffle copies `<layer>.alpha` into rgba (all four channels:
a matte you can view and use as a mask at once). Shuffle2 (Nuke 12.1+) takes `in1`/`out1` and a
`mappings` list of (input, source channel, destination channel); older Nukes get the classic
Shuffle (`in`, `out`, and `red`/`green`/`blue`/`alpha` naming channels of `in`). The Cryptomatte
node (native since Nuke 13, the Psyop gizmo before, both with `cryptoLayer`/`matteList`) gets the
`CryptoObject` layer and every instance picked, which shows the union of the mattes.

Main thread only: this creates nodes.
"""

from __future__ import annotations

import re
from typing import Dict, List, NamedTuple, Optional, Sequence

import nuke

from .layer_names import CRYPTOMATTE_LAYER, output_layer_names

_DOLLAR_F = re.compile(r"\$F(\d*)")
_AT_SIGNS = re.compile(r"@+")
_SPACING = 40


class LoadedResult(NamedTuple):
    read: object
    shuffles: Dict[str, object]       # instance name -> Shuffle node
    layers: Dict[str, str]            # instance name -> EXR layer
    cryptomatte: Optional[object]
    warnings: List[str]


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
    warnings = []  # type: List[str]
    shuffles = {}
    for column, name in enumerate(instance_names):
        shuffle = _shuffle(layers[name])
        shuffle.setName("%s_%s" % (name_prefix, layers[name]))
        shuffle.setInput(0, read)
        _place_below(shuffle, read, column)
        shuffles[name] = shuffle
    crypto = None
    if cryptomatte:
        try:
            crypto = nuke.nodes.Cryptomatte()
        except RuntimeError:
            warnings.append("no Cryptomatte node in this Nuke (install the Psyop gizmo); "
                            "the %s layers are in the files" % CRYPTOMATTE_LAYER)
        else:
            crypto.setName(name_prefix + "_cryptomatte")
            crypto["cryptoLayer"].setValue(CRYPTOMATTE_LAYER)
            crypto["matteList"].setValue(", ".join(instance_names))
            crypto.setInput(0, read)
            _place_below(crypto, read, len(shuffles))
    return LoadedResult(read, shuffles, layers, crypto, warnings)


def _ensure_layer(layer: str) -> None:
    """Register `<layer>.alpha` with Nuke if no Read has shown it yet: a Read learns a file's layers
    only when it opens it, and a Shuffle cannot be pointed at a layer Nuke does not know."""
    if layer not in nuke.layers():
        nuke.Layer(layer, [layer + ".alpha"])


def _shuffle(layer: str):
    source = layer + ".alpha"
    _ensure_layer(layer)
    try:
        shuffle = nuke.nodes.Shuffle2()
    except RuntimeError:  # before Nuke 12.1
        shuffle = nuke.nodes.Shuffle()
        shuffle["in"].setValue(layer)
        shuffle["out"].setValue("rgba")
        for channel in ("red", "green", "blue", "alpha"):
            shuffle[channel].setValue("alpha")
        return shuffle
    shuffle["in1"].setValue(layer)
    shuffle["out1"].setValue("rgba")
    shuffle["mappings"].setValue([(0, source, "rgba." + channel) for channel in ("red", "green", "blue", "alpha")])
    return shuffle


def _place_below(node, above, column: int) -> None:
    node.setXYpos(int(above.xpos()) + column * 3 * _SPACING, int(above.ypos()) + 3 * _SPACING)

"""Instance name -> EXR layer name, the one rule shared by the prompt checks and the EXR writer.

Each instance is written as its own EXR layer (`<layer>.A`, which Nuke shows as `<layer>.alpha`).
Layer names are kept to ASCII letters, digits and underscore with no leading digit, because that is
what survives Nuke's channel-name mangling unchanged (see `rmpsam_plugin.nuke_channels`: Nuke
strips leading digits and turns every other character into `_`). Two instance names that sanitise
to the same layer ("car 1", "car_1") would overwrite each other, so the prompt checks refuse them.
"""

from __future__ import annotations

import re

_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_]")


def exr_layer_name(instance_name: str) -> str:
    """`instance_name` with every disallowed character replaced by `_`, and a `_` in front of a
    leading digit (prefixing rather than stripping keeps "123" from becoming empty)."""
    layer = _NOT_ALLOWED.sub("_", instance_name)
    return f"_{layer}" if layer[:1].isdigit() else layer

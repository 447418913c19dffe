"""Instance name -> the EXR layer `rmpsam-matte run` writes it to, without reading the file.

Nuke's Python has no OpenImageIO to read the header's `rmpsam/layers` map, so the loader has to
know the writer's rule up front. This is a copy of
`rmpsam_plugin.images.layer_names.output_layer_names` in standard-library Python; `tests/nuke` checks the two agree, so a change
to the writer that forgets this copy fails the tests instead of loading empty Shuffles.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable

CRYPTOMATTE_LAYER = "CryptoObject"  # rmpsam_plugin.images.layer_names.CRYPTOMATTE_LAYER
_CRYPTOMATTE_PARTS = 3  # MAX_CRYPTOMATTE_LEVELS // 2 in the writer: CryptoObject00..02
_RESERVED = ("rgba", "depth", "other", "Ci")  # layers Nuke (or RenderMan) already owns
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_]")


def output_layer_names(instance_names: Iterable[str], cryptomatte: bool = True) -> Dict[str, str]:
    """Instance name -> EXR layer name, exactly as the writer assigns them for one run."""
    taken = set(_RESERVED)
    if cryptomatte:
        taken.add(CRYPTOMATTE_LAYER)
        taken.update("%s%02d" % (CRYPTOMATTE_LAYER, n) for n in range(_CRYPTOMATTE_PARTS))
    mapping = {}  # type: Dict[str, str]
    for name in instance_names:
        base = _NOT_ALLOWED.sub("_", name) or "instance"
        if base[0].isdigit():
            base = "_" + base
        candidate, suffix = base, 2
        while candidate in taken:
            candidate, suffix = "%s_%d" % (base, suffix), suffix + 1
        taken.add(candidate)
        mapping[name] = candidate
    return mapping

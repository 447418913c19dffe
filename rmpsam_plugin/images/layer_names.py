"""Instance name -> EXR layer name: the one rule the writer, the prompt checks, the editor and the
farm check share (the Nuke bridge keeps a standard-library copy, tested to agree).

Each instance is written as its own EXR layer (`<layer>.A`, which Nuke shows as `<layer>.alpha`).
Layer names are kept to ASCII letters, digits and underscore with no leading digit, because that is
what survives Nuke's channel-name mangling unchanged (see `nuke_channels`: Nuke strips leading
digits and turns every other character into `_`). A name already taken, by an earlier instance,
by a layer Nuke owns (`rgba`, `depth`...), by the Cryptomatte's layers or by the passthrough
plate's, gets `_2`, `_3`... The prompt checks go further and refuse two instances whose names
only differ in characters a layer cannot keep ("car 1", "car_1"), which would confuse a
compositor even with the suffix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

CRYPTOMATTE_LAYER = "CryptoObject"
"""The Cryptomatte layer a job writes (its ranks in `CryptoObject00`, `01`, `02`)."""
MAX_CRYPTOMATTE_LEVELS = 6  # the specification's customary depth: three EXR layers of two ranks
NUKE_LAYERS = frozenset({"rgba", "depth", "other", "Ci"})
"""Layer names Nuke (or RenderMan) already uses for something else: a matte there would land in the plate."""
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_]")


def exr_layer_name(instance_name: str) -> str:
    """`instance_name` with every disallowed character replaced by `_`, and a `_` in front of a
    leading digit (prefixing rather than stripping keeps "123" from becoming empty)."""
    layer = _NOT_ALLOWED.sub("_", instance_name) or "instance"
    return f"_{layer}" if layer[:1].isdigit() else layer


def cryptomatte_layer_names(layer: str = CRYPTOMATTE_LAYER) -> list[str]:
    """The Cryptomatte's own layer names: the base (its manifest's name) and its rank layers."""
    return [layer] + [f"{layer}{n:02d}" for n in range(MAX_CRYPTOMATTE_LEVELS // 2)]


def output_layer_names(instance_names: Iterable[str], cryptomatte_layer: str | None = CRYPTOMATTE_LAYER,
                       passthrough_layer: str | None = None) -> dict[str, str]:
    """Instance name -> the unique layer it is written to, in the order given (module docstring).
    The writer records this mapping in each file's header as `rmpsam/layers`."""
    taken = set(NUKE_LAYERS)
    if cryptomatte_layer:
        taken.update(cryptomatte_layer_names(cryptomatte_layer))
    if passthrough_layer:
        taken.add(passthrough_layer)
    mapping: dict[str, str] = {}
    for name in instance_names:
        if name in mapping:  # one layer per instance, however often its name is given
            continue
        base = exr_layer_name(name)
        candidate, suffix = base, 2
        while candidate in taken:
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(candidate)
        mapping[name] = candidate
    return mapping

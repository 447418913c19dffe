"""Where Nuke's Read node puts each EXR channel, so we can write files that read cleanly.

Nuke does not show EXR channel names as they are: its EXR reader renames every channel into a
`layer.channel` pair, and a channel it cannot place in a layer ends up in the catch-all layer
`other`, where artists do not look for it. The rules below follow Foundry's NDK sources:

* `ExrChannelNameToNuke::setFromPrefixedExrName` (NDK example ExrChannelNameToNuke.cpp,
  https://learn.foundry.com/nuke/developers/16.0/ndkreference/examples/ExrChannelNameToNuke.cpp):
  1. split the name at periods into at most three parts (the third keeps any further periods);
  2. strip leading digits from each part and drop parts left empty;
  3. replace every character that is not an ASCII letter or digit with `_` (the C `isalnum`
     test runs per byte, so each byte of a UTF-8 character becomes one `_`);
  4. a part equal to one of the file's view names (multi-view EXR) is the view, not a layer;
  5. all other parts but the last are joined with `_` into the layer; the last is the channel;
  6. layer `Ci` (RenderMan's primary output) becomes no layer;
  7. channel `R`/`r`/`Red`/`RED` becomes `red`, likewise green, blue, alpha; an empty one
     becomes `unnamed`.
* exrReader.cpp `lookupChannels` (NDK example exrReader.cpp): a layerless `Y`/`y` (luminance)
  is read into `rgba.red`.
* DDImage Channel.h `getChannel`: "If there is no period, it makes a layer called other".
  A layerless name that is already one of Nuke's built-in channels is found first: `red`,
  `green`, `blue`, `alpha` (rgba) and `Z` (depth.Z). Other built-ins with bare names (u, v,
  front, back...) are not mapped here; we never write them bare.

Newer Nuke versions (17.1) keep `car.A` as `A` when the same layer also has `car.alpha`; files we
write must never have both, which `assert_nuke_friendly` enforces as a collision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

OTHER_LAYER = "other"

_MAX_PARTS = 3
_PRIMARY_RENDERMAN_LAYER = "Ci"
_CHANNEL_ALIASES = {
    alias: canonical
    for canonical, aliases in {
        "red": ("R", "r", "Red", "RED"),
        "green": ("G", "g", "Green", "GREEN"),
        "blue": ("B", "b", "Blue", "BLUE"),
        "alpha": ("A", "a", "Alpha", "ALPHA"),
    }.items()
    for alias in aliases
}
_LAYERLESS_BUILTINS = {
    "red": ("rgba", "red"),
    "green": ("rgba", "green"),
    "blue": ("rgba", "blue"),
    "alpha": ("rgba", "alpha"),
    "Z": ("depth", "Z"),
    "Y": ("rgba", "red"),
    "y": ("rgba", "red"),
}


def nuke_channel_name(exr_channel_name: str, views: Sequence[str] = ()) -> tuple[str, str]:
    """The `(layer, channel)` Nuke's Read node gives an EXR channel; see the module docstring.

    `views` are the file's view names (the `multiView` header attribute), empty for a
    single-view file.
    """
    parts = [_sanitise(part) for part in _split_at_most_three(exr_channel_name)]
    parts = [part for part in parts if part]
    if not parts:
        return OTHER_LAYER, "unnamed"
    *prefix, channel = parts
    layer = "_".join(part for part in prefix if part not in views)
    if layer == _PRIMARY_RENDERMAN_LAYER:
        layer = ""
    channel = _CHANNEL_ALIASES.get(channel, channel)
    if layer:
        return layer, channel
    return _LAYERLESS_BUILTINS.get(channel, (OTHER_LAYER, channel))


def assert_nuke_friendly(channel_names: Iterable[str], views: Sequence[str] = ()) -> None:
    """Raise ValueError if Nuke would hide a channel in `other` or merge two channels into one.

    Writers call this before writing so that every channel reaches the artist under the layer
    it was written for.
    """
    problems = []
    seen: dict[tuple[str, str], str] = {}
    for name in channel_names:
        layer, channel = nuke_channel_name(name, views)
        if layer == OTHER_LAYER:
            problems.append(f"{name!r} lands in Nuke's '{OTHER_LAYER}' layer as {layer}.{channel}")
        if (layer, channel) in seen:
            problems.append(f"{seen[(layer, channel)]!r} and {name!r} both become {layer}.{channel} in Nuke")
        seen.setdefault((layer, channel), name)
    if problems:
        raise ValueError("channel names not readable as intended in Nuke: " + "; ".join(problems))


def _split_at_most_three(name: str) -> list[str]:
    return name.split(".", _MAX_PARTS - 1)


def _sanitise(part: str) -> str:
    stripped = part.lstrip("0123456789")
    return "".join(
        chr(byte) if chr(byte).isascii() and chr(byte).isalnum() else "_" for byte in stripped.encode("utf-8")
    )

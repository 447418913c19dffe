"""Find Cryptomattes in EXR files and extract named mattes from them.

Real files differ in ways the specification leaves open, and the reader accepts all of these:
rank channels suffixed `.R/.G/.B/.A` (renderers), `.red/.green/.blue/.alpha` (files written by
Nuke) or lower-case `.r/.g/.b/.a`; ranks not sorted by coverage (V-Ray); manifests in the header
or in a sidecar JSON file (`manif_file`, relative to the EXR's folder). The deprecated preview
layer (`<layer>.R/G/B` without digits) is ignored.

Mattes are returned over the file's data window, which may be smaller than the display window.
Only the first part (subimage) of a multi-part EXR is read.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from rmpsam_plugin.cryptomatte.ids import CONVERSION_NAME, HASH_NAME, name_to_id

_METADATA_PREFIX = "cryptomatte/"
_COMPONENT_INDEX = {"r": 0, "red": 0, "g": 1, "green": 1, "b": 2, "blue": 2, "a": 3, "alpha": 3}
_COMPONENTS_PER_LAYER = 4


@dataclass(frozen=True)
class CryptomatteInfo:
    """One Cryptomatte found in a file's header.

    `channel_names` are its rank channels in rank order: id0, coverage0, id1, coverage1, ...
    `manifest` maps object names to 8-digit hex IDs (empty when the file has none);
    `manifest_file` is the sidecar path as written in the header, if any.
    """

    name: str
    key: str
    hash: str
    conversion: str
    manifest: dict[str, str]
    channel_names: tuple[str, ...]
    manifest_file: str | None = None


def find_layers(
    source: str | os.PathLike | oiio.ImageSpec, sidecar_dir: str | os.PathLike | None = None
) -> list[CryptomatteInfo]:
    """Every Cryptomatte in an EXR (a path, or an ImageSpec already read), sorted by name.

    Sidecar manifests are resolved against `sidecar_dir`, by default the EXR's folder; an
    ImageSpec has no folder, so reading one whose manifest is a sidecar needs `sidecar_dir`.
    Raises FileNotFoundError when a sidecar manifest named in the header is missing.
    """
    if isinstance(source, oiio.ImageSpec):
        spec = source
    else:
        spec = _read_spec(Path(source))
        sidecar_dir = Path(source).parent if sidecar_dir is None else sidecar_dir
    fields_by_key = _cryptomatte_metadata(spec)
    layers = [
        _layer_info(key, fields, list(spec.channelnames), sidecar_dir)
        for key, fields in fields_by_key.items()
        if "name" in fields
    ]
    return sorted(layers, key=lambda info: info.name)


def extract_matte(
    source: str | os.PathLike | Mapping[str, np.ndarray], layer_name: str, names: Sequence[str]
) -> np.ndarray:
    """Coverage (HxW float32) of the union of the named objects in one Cryptomatte.

    `source` is an EXR path or a mapping of channel name -> HxW plane (such as
    `CryptomatteLayers.channels`). The coverage of every rank whose ID belongs to one of the names
    is summed. IDs come from the file's manifest where it lists the name, otherwise from hashing
    the name, since the specification lets decoders work without a manifest.
    """
    if isinstance(source, Mapping):
        channel_names = rank_channel_names(list(source), layer_name)
        if not channel_names:
            raise KeyError(f"no Cryptomatte rank channels for {layer_name!r} among {sorted(source)}")
        wanted = {name_to_id(name).hash for name in names}
        planes = [np.asarray(source[channel], dtype=np.float32) for channel in channel_names]
    else:
        info = _layer_by_name(Path(source), layer_name)
        wanted = {_id_bits(info.manifest, name) for name in names}
        planes = _read_channels(Path(source), info.channel_names)
    return _sum_matching_coverage(planes, np.array(sorted(wanted), dtype=np.uint32))


def rank_channel_names(channel_names: Sequence[str], layer_name: str) -> tuple[str, ...]:
    """The rank channels of `layer_name` among `channel_names`, in order id0, cov0, id1, cov1 ...

    Raises ValueError when a numbered layer lacks one of its four channels or has one twice
    (say `.R` and `.red`), since ids and coverages would then pair up wrongly.
    """
    pattern = re.compile(rf"{re.escape(layer_name)}(\d+)\.([A-Za-z]+)")
    found: dict[int, dict[int, str]] = {}
    for channel in channel_names:
        match = pattern.fullmatch(channel)
        if not match or match.group(2).lower() not in _COMPONENT_INDEX:
            continue
        components = found.setdefault(int(match.group(1)), {})
        component = _COMPONENT_INDEX[match.group(2).lower()]
        if component in components:
            raise ValueError(
                f"Cryptomatte {layer_name!r}: {components[component]!r} and {channel!r} are the same channel"
            )
        components[component] = channel
    ordered = []
    for number in sorted(found):
        present = found[number]
        if len(present) != _COMPONENTS_PER_LAYER:
            raise ValueError(
                f"Cryptomatte {layer_name!r} layer {number:02d} is incomplete: {sorted(present.values())}"
            )
        ordered.extend(present[component] for component in range(_COMPONENTS_PER_LAYER))
    return tuple(ordered)


def _id_bits(manifest: Mapping[str, str], name: str) -> int:
    """The 32 ID bits of a name: the manifest's word for it, else its hash."""
    return int(manifest[name], 16) if name in manifest else name_to_id(name).hash


def _open(path: Path) -> oiio.ImageInput:
    image = oiio.ImageInput.open(str(path))
    if image is None:
        raise OSError(f"cannot open {path}: {oiio.geterror()}")
    return image


def _read_spec(path: Path) -> oiio.ImageSpec:
    image = _open(path)
    try:
        return image.spec()
    finally:
        image.close()


def _cryptomatte_metadata(spec: oiio.ImageSpec) -> dict[str, dict[str, str]]:
    """`cryptomatte/<key>/<field>` header attributes grouped as {key: {field: value}}."""
    grouped: dict[str, dict[str, str]] = {}
    for attribute in spec.extra_attribs:
        if not attribute.name.startswith(_METADATA_PREFIX):
            continue
        key, _, field = attribute.name[len(_METADATA_PREFIX) :].partition("/")
        grouped.setdefault(key, {})[field] = str(attribute.value)
    return grouped


def _layer_info(
    key: str, fields: dict[str, str], channel_names: list[str], sidecar_dir: str | os.PathLike | None
) -> CryptomatteInfo:
    return CryptomatteInfo(
        name=fields["name"],
        key=key,
        hash=fields.get("hash", ""),
        conversion=fields.get("conversion", ""),
        manifest=_manifest(fields, sidecar_dir),
        channel_names=rank_channel_names(channel_names, fields["name"]),
        manifest_file=fields.get("manif_file"),
    )


def _manifest(fields: dict[str, str], sidecar_dir: str | os.PathLike | None) -> dict[str, str]:
    if "manifest" in fields:
        return json.loads(fields["manifest"])
    if "manif_file" not in fields:
        return {}
    if sidecar_dir is None:
        raise ValueError(
            f"manifest is in sidecar {fields['manif_file']!r}: pass the EXR's folder as sidecar_dir"
        )
    sidecar = Path(sidecar_dir) / fields["manif_file"]
    if not sidecar.is_file():
        raise FileNotFoundError(f"Cryptomatte {fields['name']!r}: sidecar manifest {sidecar} is missing")
    return json.loads(sidecar.read_text(encoding="utf-8"))


def _layer_by_name(path: Path, layer_name: str) -> CryptomatteInfo:
    layers = find_layers(path)
    for info in layers:
        if info.name == layer_name:
            if (info.hash, info.conversion) != (HASH_NAME, CONVERSION_NAME):
                raise ValueError(
                    f"Cryptomatte {layer_name!r} in {path} uses hash {info.hash!r} and conversion "
                    f"{info.conversion!r}; only {HASH_NAME} with {CONVERSION_NAME} is defined"
                )
            if not info.channel_names:
                raise ValueError(f"Cryptomatte {layer_name!r} in {path} has metadata but no rank channels")
            return info
    raise KeyError(f"no Cryptomatte named {layer_name!r} in {path}; it has {[info.name for info in layers]}")


def _read_channels(path: Path, channel_names: Sequence[str]) -> list[np.ndarray]:
    """Read just the span of channels holding the ranks (they sit together in real files)."""
    image = _open(path)
    try:
        all_names = list(image.spec().channelnames)
        indices = [all_names.index(name) for name in channel_names]
        first, last = min(indices), max(indices)
        pixels = image.read_image(0, 0, first, last + 1, oiio.FLOAT)
        if pixels is None:
            raise OSError(f"cannot read {path}: {image.geterror()}")
    finally:
        image.close()
    pixels = pixels.reshape(pixels.shape[0], pixels.shape[1], last + 1 - first)
    return [pixels[:, :, index - first] for index in indices]


def _sum_matching_coverage(planes: Sequence[np.ndarray], wanted_ids: np.ndarray) -> np.ndarray:
    """Sum coverage planes (odd entries) whose id plane (the entry before) holds a wanted ID.

    IDs are compared as their 32 bits, not as floats, exactly as the manifest states them.
    """
    matte = np.zeros(planes[0].shape, dtype=np.float32)
    for id_plane, coverage_plane in zip(planes[0::2], planes[1::2]):
        selected = np.isin(np.ascontiguousarray(id_plane, dtype=np.float32).view(np.uint32), wanted_ids)
        matte += np.where(selected, coverage_plane, np.float32(0.0))
    return matte

"""Reading plates through OpenImageIO: headers, layers, windows, pixels.

One frame file may hold many layers: single-part EXRs name channels `layer.R`, multi-part EXRs may
also put a layer in a part named after it with bare `R`, `G`, `B` channels; integer formats (DPX,
TIFF, PNG, JPEG) have only the `rgba` layer. Layers are named as Nuke's Read node names them.
`read_header` lists what is there without touching
pixels; `read_plate` reads one layer placed in its display window (docs/file-formats.md, Windows): pixels outside the
display window are overscan, kept only when asked for; display-window pixels outside the data
window are black, as in Nuke.

Every failure is a `PlateError` naming the file (and frame when known) in one line, because it
ends up in a render-farm log. NaN and infinite values are replaced, and counted, at read time so
nothing downstream (colour conversion, the network, the writer's passthrough) ever sees them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from rmpsam_plugin.errors import LayerNotFoundError, PlateError
from rmpsam_plugin.images.exr_input import (
    ExrReadError,
    IncompleteExrError,
    read_channels,
)
from rmpsam_plugin.images.geometry import Window, reframe
from rmpsam_plugin.images.nuke_channels import nuke_channel_name

DEFAULT_LAYER = "rgba"
# Nuke writes `layer.red` for custom channels as often as `layer.R`; both name the same component.
_COMPONENT_NAMES = {"r": "R", "red": "R", "g": "G", "green": "G", "b": "B", "blue": "B", "a": "A", "alpha": "A"}
_COMPONENT_ORDER = ("R", "G", "B", "A")
_COLOUR_COMPONENTS = ("R", "G", "B")
# Largest finite half float: infinities become this so a half-float passthrough stays finite too.
LARGE_FINITE = 65504.0


@dataclass(frozen=True)
class Layer:
    """A named group of channels inside one subimage (EXR part)."""

    name: str
    subimage: int
    channel_indices: tuple[int, ...]  # positions in the subimage's channel list, in component order
    channel_names: tuple[str, ...]  # full names as stored, e.g. ('beauty.R', 'beauty.G', 'beauty.B')
    components: tuple[str, ...]  # canonical component names, e.g. ('R', 'G', 'B')
    pixel_types: tuple[str, ...]  # as stored, per channel: 'half', 'float', 'uint16'...

    def colour_channels(self) -> "Layer":
        """The layer narrowed to the channels its colour comes from: R, G and B, else its
        luminance (Y, or its only channel), as `colour.to_linear_rgb` takes them. A layer with
        neither is returned whole, so the colour code's error lists every channel it has."""
        if all(name in self.components for name in _COLOUR_COMPONENTS):
            kept = [self.components.index(name) for name in _COLOUR_COMPONENTS]
        elif "Y" in self.components:
            kept = [self.components.index("Y")]
        else:
            return self
        return Layer(self.name, self.subimage, *(tuple(values[position] for position in kept) for values in
                     (self.channel_indices, self.channel_names, self.components, self.pixel_types)))


@dataclass(frozen=True)
class PlateHeader:
    """What a frame file holds, from its header alone (no pixels read)."""

    path: Path
    format_name: str  # OpenImageIO's name: 'openexr', 'dpx', 'tiff', 'png', 'jpeg'...
    display_window: Window
    data_window: Window
    pixel_aspect: float
    pixel_types: tuple[str, ...]  # per channel of the first subimage: 'half', 'float', 'uint8'...
    compression: str | None
    tile_size: tuple[int, int] | None  # None for scanline files
    subimage_names: tuple[str | None, ...]
    layers: dict[str, Layer]
    colour_space: str | None  # the file's own `oiio:ColorSpace` claim, if any
    attributes: dict[str, object] = field(repr=False)  # all header metadata of the first subimage

    @property
    def is_float(self) -> bool:
        """Float/half data: by convention scene-linear, unlike integer files (see colour.py)."""
        return any(kind in ("half", "float", "double") for kind in self.pixel_types)

    def layer(self, name: str, frame: int | None = None) -> Layer:
        try:
            return self.layers[name]
        except KeyError:
            available = sorted(self.layers)
            raise LayerNotFoundError(
                f"layer '{name}' not found in {self.path}; layers: {', '.join(available) or 'none'}",
                available=available, path=self.path, frame=frame) from None


@dataclass
class Plate:
    """One layer of one frame, as float32 pixels covering `window` (absolute coordinates)."""

    header: PlateHeader
    frame: int | None
    layer: Layer
    pixels: np.ndarray  # (height, width, channels) float32
    window: Window  # the display window, or display window plus overscan
    display_window: Window  # of the layer's subimage (EXR parts may differ)
    data_window: Window  # of the layer's subimage, as stored
    nonfinite_count: int  # NaN/Inf values replaced while reading

    @property
    def pixel_aspect(self) -> float:
        return self.header.pixel_aspect

    def component(self, name: str) -> np.ndarray | None:
        """The (H, W) plane of component 'R', 'G', 'B', 'A'..., or None if the layer lacks it."""
        if name not in self.layer.components:
            return None
        return self.pixels[..., self.layer.components.index(name)]


def _one_line(message: str) -> str:
    """OpenImageIO errors may span lines (one per failed chunk); a log wants one line."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return "; ".join(dict.fromkeys(lines)) or "unknown error"


def _split_channel(channel: str, part_name: str | None) -> tuple[str, str]:
    """('beauty.R', None) -> ('beauty', 'R'); ('R', 'beauty') -> ('beauty', 'R'); ('Z', None) -> ('depth', 'Z').

    Layer names are the ones Nuke's Read node shows (`nuke_channels`), so `--layer` takes what the
    artist sees. A bare channel in a named part of a multi-part file belongs to that part's layer.
    """
    qualified = f"{part_name}.{channel}" if part_name and "." not in channel else channel
    layer, _ = nuke_channel_name(qualified)
    suffix = channel.rpartition(".")[2]
    return layer, _COMPONENT_NAMES.get(suffix.lower(), suffix)


def _layers_of_subimage(spec: oiio.ImageSpec, subimage: int, multipart: bool) -> dict[str, Layer]:
    part_name = (spec.get_string_attribute("oiio:subimagename") or None) if multipart else None
    pixel_types = _pixel_types(spec)
    grouped: dict[str, list[tuple[str, int, str]]] = {}
    for index, channel in enumerate(spec.channelnames):
        layer, component = _split_channel(channel, part_name)
        grouped.setdefault(layer, []).append((component, index, channel))
    layers = {}
    for name, members in grouped.items():
        # R, G, B, A first, then the rest in file order: callers index colour channels by name.
        members.sort(key=lambda m: _COMPONENT_ORDER.index(m[0]) if m[0] in _COMPONENT_ORDER else len(_COMPONENT_ORDER))
        layers[name] = Layer(name, subimage, tuple(m[1] for m in members), tuple(m[2] for m in members),
                             tuple(m[0] for m in members), tuple(pixel_types[m[1]] for m in members))
    return layers


def _pixel_types(spec: oiio.ImageSpec) -> tuple[str, ...]:
    """Per-channel storage types; `channelformats` is empty when all channels share `format`."""
    return tuple(str(kind) for kind in (spec.channelformats or (spec.format,) * spec.nchannels))


def _open(path: Path, frame: int | None) -> oiio.ImageInput:
    if path.is_dir():
        raise PlateError(f"not an image file but a directory: {path}", path=path, frame=frame)
    if not path.is_file():
        raise PlateError(f"no such file: {path}", path=path, frame=frame)
    if not os.access(path, os.R_OK):
        raise PlateError(f"permission denied: cannot read {path}", path=path, frame=frame)
    image_input = oiio.ImageInput.open(str(path))
    if image_input is None:
        raise PlateError(f"cannot read {path}: {_one_line(oiio.geterror())}", path=path, frame=frame)
    return image_input


def _header_from_input(image_input: oiio.ImageInput, path: Path) -> PlateHeader:
    specs = []
    while image_input.seek_subimage(len(specs), 0):
        specs.append(image_input.spec())
    first = specs[0]
    layers: dict[str, Layer] = {}
    for subimage, spec in enumerate(specs):
        for name, layer in _layers_of_subimage(spec, subimage, multipart=len(specs) > 1).items():
            layers.setdefault(name, layer)  # the first part holding a layer name wins, as in Nuke
    return PlateHeader(
        path=path,
        format_name=image_input.format_name(),
        display_window=Window.display_of(first),
        data_window=Window.data_of(first),
        pixel_aspect=first.get_float_attribute("PixelAspectRatio", 1.0) or 1.0,
        pixel_types=_pixel_types(first),
        compression=first.get_string_attribute("compression") or None,
        tile_size=(first.tile_width, first.tile_height) if first.tile_width else None,
        subimage_names=tuple(spec.get_string_attribute("oiio:subimagename") or None for spec in specs),
        layers=layers,
        colour_space=first.get_string_attribute("oiio:ColorSpace") or None,
        attributes={attribute.name: attribute.value for attribute in first.extra_attribs},
    )


def read_header(path: str | Path, frame: int | None = None) -> PlateHeader:
    """The header of a frame file: windows, pixel aspect, compression, layers. Cheap."""
    path = Path(path)
    image_input = _open(path, frame)
    try:
        return _header_from_input(image_input, path)
    finally:
        image_input.close()


def _sanitise(pixels: np.ndarray) -> int:
    """Replace NaN by 0 and +/-Inf by +/-LARGE_FINITE in place; return how many were replaced."""
    finite = np.isfinite(pixels)
    replaced = pixels.size - int(np.count_nonzero(finite))
    if replaced:
        np.nan_to_num(pixels, copy=False, nan=0.0, posinf=LARGE_FINITE, neginf=-LARGE_FINITE)
    return replaced


def _openexr_reads(header: PlateHeader, chosen: Layer) -> bool:
    """A layer of half or float channels in a single-part scanline EXR: OpenEXR's bindings read
    it with about half the CPU (`exr_input`)."""
    return (header.format_name == "openexr" and len(header.subimage_names) == 1 and header.tile_size is None
            and set(chosen.pixel_types) <= {"half", "float"})


def _read_pixels(image_input: oiio.ImageInput, header: PlateHeader, path: Path, frame: int | None, chosen: Layer,
                 spec: oiio.ImageSpec) -> np.ndarray:
    """The layer's channels (h, w, C) float32 over the data window: through OpenEXR's bindings
    where they apply, else (or for a file cut short, which OpenImageIO reports in one line
    without OpenEXR's own stderr line) through the open `image_input`."""
    if _openexr_reads(header, chosen):
        # Decoding the channels not asked for costs less than holding the GIL (`exr_input`) while
        # they are at most one: the alpha of an RGBA plate read for its colour.
        decode_all = len(header.pixel_types) <= len(chosen.channel_names) + 1
        try:
            return read_channels(path, chosen.channel_names, chosen.pixel_types, (spec.height, spec.width),
                                 decode_all=decode_all)
        except IncompleteExrError:
            pass
        except ExrReadError as error:
            raise PlateError(f"truncated or corrupt pixel data in {path}: {_one_line(str(error))}",
                             path=path, frame=frame) from None
    return _read_layer(image_input, path, frame, chosen, spec)


def _read_layer(image_input: oiio.ImageInput, path: Path, frame: int | None, chosen: Layer,
                spec: oiio.ImageSpec) -> np.ndarray:
    """The layer's channels (h, w, C) float32 over the data window, through OpenImageIO, which
    reads only the channel range that holds them."""
    first, end = min(chosen.channel_indices), max(chosen.channel_indices) + 1
    stored = image_input.read_image(chosen.subimage, 0, first, end, "float")
    if stored is None:
        raise PlateError(f"truncated or corrupt pixel data in {path}: {_one_line(image_input.geterror())}",
                         path=path, frame=frame)
    stored = stored.reshape(spec.height, spec.width, end - first)
    if chosen.channel_indices != tuple(range(first, end)):
        stored = stored[..., [index - first for index in chosen.channel_indices]]
    return stored


def read_plate(path: str | Path, layer: str = DEFAULT_LAYER, *, overscan: bool = False,
               frame: int | None = None, colour_only: bool = False) -> Plate:
    """Read one layer of a frame as float32, placed in its display window.

    With `overscan`, the returned window grows to include data outside the display window;
    without it such pixels are cropped. Display-window pixels the file does not store are zero.
    With `colour_only`, only the channels colour comes from are read (`Layer.colour_channels`):
    all that the network and the edge refinement look at, and a quarter less to decode and
    convert than an RGBA plate; the plate's `layer` then names those channels alone.
    """
    path = Path(path)
    image_input = _open(path, frame)
    try:
        header = _header_from_input(image_input, path)
        chosen = header.layer(layer, frame)
        if colour_only:
            chosen = chosen.colour_channels()
        if not image_input.seek_subimage(chosen.subimage, 0):
            raise PlateError(f"cannot read part {chosen.subimage} of {path}", path=path, frame=frame)
        spec = image_input.spec()
        if spec.deep:
            raise PlateError(f"{path} holds deep data, which has no flat plate to segment", path=path, frame=frame)
        stored = _read_pixels(image_input, header, path, frame, chosen, spec)
    finally:
        image_input.close()
    data_window, display_window = Window.data_of(spec), Window.display_of(spec)
    window = display_window.union(data_window) if overscan else display_window
    pixels = stored if window == data_window else reframe(stored, data_window, window)
    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    nonfinite = _sanitise(pixels)
    return Plate(header, frame, chosen, pixels, window, display_window, data_window, nonfinite)

"""Plate colour -> what the network was trained on: display-referred sRGB, 0..1.

RMP-SAM learnt from ordinary photographs (COCO, YouTube-VIS): sRGB-encoded, display-referred.
Plates are anything but: EXRs are scene-linear with highlights far above 1, DPX and PNG
deliveries are usually display-encoded already. The conversion uses OpenColorIO through
OpenImageIO's built-in configuration, so no config file has to be found on a farm node.

Default input colour space, per file (`default_colour_space`):
- the file's own `oiio:ColorSpace` claim when OpenColorIO knows it (OpenImageIO sets it for
  PNG and JPEG, writers such as oiiotool set it for EXR);
- otherwise float/half data (EXR, float TIFF) is 'Linear Rec.709 (sRGB)', the scene-linear space of
  Nuke's default configuration and the most common plate default; ACEScg shows pass
  `colour_space='ACEScg'`;
- otherwise integer data (DPX, TIFF, PNG, JPEG as delivered) is 'sRGB Encoded Rec.709 (sRGB)'.
  Log-encoded DPX has no space in the built-in configuration: convert it upstream.

The target is 'sRGB Encoded Rec.709 (sRGB)', the plain sRGB encoding that Nuke's default viewer
applies, so the network sees what the artist saw when placing prompts. There is no tone mapping:
values above 1 after the transform (highlights) and below 0 (out of gamut) are clipped.
"""

from __future__ import annotations

import cv2
import numpy as np
import OpenImageIO as oiio

from rmpsam_plugin.errors import ColourError, PlateError
from rmpsam_plugin.images.reader import Plate, PlateHeader

NETWORK_COLOUR_SPACE = "sRGB Encoded Rec.709 (sRGB)"
SCENE_LINEAR_DEFAULT = "Linear Rec.709 (sRGB)"
DISPLAY_ENCODED_DEFAULT = "sRGB Encoded Rec.709 (sRGB)"

_CONFIG = oiio.ColorConfig()  # OpenImageIO's built-in OpenColorIO configuration


def colour_space_names() -> list[str]:
    return list(_CONFIG.getColorSpaceNames())


def resolve_colour_space(name: str) -> str:
    """A colour space name or alias ('lin_rec709', 'acescg', 'srgb_tx'...) -> its canonical name."""
    if _CONFIG.getColorSpaceIndex(name) < 0:
        raise ColourError(f"unknown colour space '{name}'; known: {', '.join(colour_space_names())}")
    return _CONFIG.resolve(name)


def default_colour_space(header: PlateHeader) -> str:
    """The input colour space to assume for a file when the user names none (module docstring)."""
    if header.colour_space and _CONFIG.getColorSpaceIndex(header.colour_space) >= 0:
        return _CONFIG.resolve(header.colour_space)
    return SCENE_LINEAR_DEFAULT if header.is_float else DISPLAY_ENCODED_DEFAULT


def _rgb_planes(plate: Plate) -> np.ndarray:
    """(H, W, 3) colour of a plate; a luminance-only layer ('Y' or one channel) is repeated."""
    if all(name in plate.layer.components for name in ("R", "G", "B")):
        indices = [plate.layer.components.index(name) for name in ("R", "G", "B")]
    elif "Y" in plate.layer.components or len(plate.layer.components) == 1:
        indices = [plate.layer.components.index("Y") if "Y" in plate.layer.components else 0] * 3
    else:
        raise PlateError(f"layer '{plate.layer.name}' of {plate.header.path} has no R, G, B or Y channels "
                         f"(it has {', '.join(plate.layer.channel_names)})", path=plate.header.path, frame=plate.frame)
    pixels = plate.pixels
    if indices == [0, 1, 2] and pixels.shape[-1] == 4 and pixels.dtype == np.float32 and pixels.flags.c_contiguous:
        # RGBA, the usual plate: OpenCV drops the alpha in a quarter of the CPU of numpy's strided copy
        return cv2.cvtColor(pixels, cv2.COLOR_RGBA2RGB)
    if indices == list(range(indices[0], indices[0] + 3)):  # an R, G, B run: a slice copies faster than a gather
        return np.ascontiguousarray(pixels[..., indices[0]:indices[0] + 3])
    return np.ascontiguousarray(pixels[..., indices])


def convert(rgb: np.ndarray, source: str, target: str = NETWORK_COLOUR_SPACE) -> np.ndarray:
    """(H, W, 3) float32 from one colour space to another, unclipped."""
    if resolve_colour_space(source) == resolve_colour_space(target):
        return rgb
    converted = oiio.ImageBufAlgo.colorconvert(oiio.ImageBuf(rgb), source, target)
    if converted.has_error:
        raise ColourError(f"cannot convert {source} -> {target}: {converted.geterror()}")
    return converted.get_pixels(oiio.FLOAT)


def to_linear_rgb(plate: Plate, colour_space: str | None = None) -> np.ndarray:
    """A plate -> (H, W, 3) float32 scene-linear Rec.709, unclipped (free for linear EXRs).

    What the job resizes to the network's size before `linear_to_network_rgb` (averaging pixels
    in linear light, and converting a quarter of the pixels or fewer), and the guide of the edge
    refinement (`refine.edges`: a pixel mixes colours linearly in light)."""
    source = colour_space or default_colour_space(plate.header)
    return convert(_rgb_planes(plate), source, SCENE_LINEAR_DEFAULT)


def linear_to_network_rgb(linear: np.ndarray) -> np.ndarray:
    """(H, W, 3) scene-linear Rec.709 -> display sRGB in 0..1, the network's input colour.

    The sRGB encoding (IEC 61966-2-1) computed here rather than through OpenColorIO: the job
    does this for every frame beside the network, and this costs a fraction of the CPU of
    OpenImageIO's colour conversion (README, "Image path"), for the same values within 2e-5
    (tested against the built-in configuration's 'sRGB Encoded Rec.709 (sRGB)'). The curve rises
    monotonically, so clipping to 0..1 before it is clipping after it.
    """
    display = np.clip(linear, 0.0, 1.0, dtype=np.float32)
    encoded = np.power(display, np.float32(1.0 / 2.4), dtype=np.float32)
    encoded -= np.float32(1.0)  # 1.055 * v - 0.055 written as 1 + 1.055 * (v - 1): white stays exactly 1
    encoded *= np.float32(1.055)
    encoded += np.float32(1.0)
    dark = display <= np.float32(0.0031308)
    np.multiply(display, np.float32(12.92), out=encoded, where=dark)
    return encoded


def to_network_rgb(plate: Plate, colour_space: str | None = None) -> np.ndarray:
    """A plate -> (H, W, 3) float32 display-referred sRGB in 0..1, covering `plate.window`.

    `colour_space` is the plate's colour space; None means `default_colour_space(plate.header)`.
    Multiply by 255 for the network's input scale (`rmpsam_model.preprocess` does).
    """
    source = colour_space or default_colour_space(plate.header)
    display = convert(_rgb_planes(plate), source)  # a fresh array: clipping in place is safe
    return np.clip(display, 0.0, 1.0, out=display)

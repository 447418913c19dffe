"""Real plate files for the image-path tests, written through OpenImageIO like a pipeline would."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import OpenImageIO as oiio

from rmpsam_plugin.images.geometry import Window


def exr_spec(width: int, height: int, channels: Sequence[str], *, pixel_type: str = "half",
             data_window: Window | None = None, display_window: Window | None = None, pixel_aspect: float = 1.0,
             compression: str = "zip", tile: tuple[int, int] | None = None,
             attributes: dict[str, object] | None = None) -> oiio.ImageSpec:
    data = data_window or Window(0, 0, width, height)
    display = display_window or Window(0, 0, width, height)
    spec = oiio.ImageSpec(data.width, data.height, len(channels), oiio.TypeDesc(pixel_type))
    spec.x, spec.y = data.x, data.y
    spec.full_x, spec.full_y, spec.full_width, spec.full_height = display.x, display.y, display.width, display.height
    spec.channelnames = tuple(channels)
    spec.attribute("compression", compression)
    spec.attribute("PixelAspectRatio", float(pixel_aspect))
    if tile:
        spec.tile_width, spec.tile_height = tile
    for key, value in (attributes or {}).items():
        spec.attribute(key, value)
    return spec


def write_exr(path: Path, pixels: np.ndarray, channels: Sequence[str] = ("R", "G", "B", "A"), **spec_options) -> Path:
    """`pixels` (H, W, C) covering the data window (default: the whole display window)."""
    height, width = pixels.shape[:2]
    spec = exr_spec(width, height, channels, **spec_options)
    return _write(path, spec, pixels)


def write_image(path: Path, pixels: np.ndarray, pixel_type: str = "uint8") -> Path:
    """A PNG/JPEG/DPX/TIFF frame; the format comes from the extension."""
    height, width, channels = pixels.shape
    return _write(path, oiio.ImageSpec(width, height, channels, oiio.TypeDesc(pixel_type)), pixels)


def write_multipart(path: Path, parts: Sequence[tuple[str, Sequence[str], np.ndarray]], tile=(16, 16)) -> Path:
    """Parts (name, channel names, pixels), all tiled: OpenEXR refuses to mix tiled and scanline parts here."""
    specs = []
    for name, channels, pixels in parts:
        spec = exr_spec(pixels.shape[1], pixels.shape[0], channels, tile=tile)
        spec.attribute("oiio:subimagename", name)
        specs.append(spec)
    output = oiio.ImageOutput.create(str(path))
    assert output.open(str(path), specs), output.geterror()
    for index, (_, _, pixels) in enumerate(parts):
        if index:
            assert output.open(str(path), specs[index], "AppendSubimage"), output.geterror()
        assert output.write_image(np.ascontiguousarray(pixels, dtype=np.float32)), output.geterror()
    assert output.close()
    return path


def write_sequence(directory: Path, frames: Sequence[int], width: int = 32, height: int = 16, name: str = "shot",
                   padding: int = 4, ext: str = "exr", **spec_options) -> list[Path]:
    """Frames whose red encodes their frame number (frame / 10000) so mix-ups show; green and blue
    are noise, so a file is large enough that cutting it short leaves its header intact."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    paths = []
    for frame in frames:
        pixels = rng.random((height, width, 4), dtype=np.float32)
        pixels[..., 0] = frame / 10000.0
        path = directory / f"{name}.{frame:0{padding}d}.{ext}"
        paths.append(write_exr(path, pixels, **spec_options) if ext == "exr" else write_image(path, pixels))
    return paths


def truncate(path: Path, keep: float = 0.6) -> Path:
    """Cut a file short, as an interrupted copy or render leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _write(path: Path, spec: oiio.ImageSpec, pixels: np.ndarray) -> Path:
    output = oiio.ImageOutput.create(str(path))
    assert output is not None, oiio.geterror()
    assert output.open(str(path), spec), output.geterror()
    assert output.write_image(np.ascontiguousarray(pixels, dtype=np.float32)), output.geterror()
    assert output.close()
    return path

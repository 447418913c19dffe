"""Writing matte EXRs: one file per frame, one layer per instance (docs/file-formats.md, Mattes).

A frame's file holds, in one EXR part:
- `<layer>.A` per instance, the soft matte (Nuke shows it as `<layer>.alpha`), half float by
  default; layer names are the instance names made safe for Nuke (`images.layer_names`);
- optionally a Cryptomatte of every instance, always 32-bit float and losslessly compressed
  (the IDs are hash bits; see `rmpsam_plugin.cryptomatte`). Its coverage is encoded from the
  mattes as stored (rounded to half with half layers), so a matte picked from the Cryptomatte is
  the instance's own layer wherever instances do not overlap. Coverage carried at float precision
  beyond that is noise no comp can see, and it does not compress (`rmpsam-matte bench io`
  measures the write with and without the Cryptomatte; README, Performance);
- optionally the plate's own channels ("passthrough") in their source pixel type, so one Read
  node carries plate and mattes.

Windows: the display window and pixel aspect are the plate's. The data window is the plate's
display window, or, with `overscan`, the display window plus the plate's data window, so that
mattes computed on overscan are not cropped. Writing the overscan of a passthrough plate needs
the plate read with overscan too (`read_plate(..., overscan=True)`).

Files are written through OpenEXR's own bindings (`exr_output`): OpenImageIO writes files that
mix half and float channels on a slow path.

Writes are atomic: the frame is written to a hidden `.<name>.<pid>.partial` beside its final name
and renamed over it with `os.replace`, so a crash leaves either the old file or the new one, never
a truncated frame that a resumed job would trust. The hidden name matches no sequence pattern or
glob a compositor or farm script would use; a killed writer's partial is removed the next time
that frame is written.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import fileseq
import numpy as np

from rmpsam_plugin import __version__, cryptomatte
from rmpsam_plugin.errors import InputError, OutputError
from rmpsam_plugin.images.exr_output import PIXEL_DTYPES, write_exr
from rmpsam_plugin.images.geometry import Window, reframe
from rmpsam_plugin.images.half_float import to_half
from rmpsam_plugin.images.layer_names import MAX_CRYPTOMATTE_LEVELS, output_layer_names
from rmpsam_plugin.images.nuke_channels import assert_nuke_friendly
from rmpsam_plugin.images.reader import DEFAULT_LAYER, Plate
from rmpsam_plugin.images.sequences import PAD_STYLE
from rmpsam_plugin.step_timing import step

PIXEL_TYPES = ("half", "float")
LOSSLESS_COMPRESSIONS = ("none", "rle", "zips", "zip", "piz")
DEFAULT_COMPRESSION = "zip"
# pxr24 rounds 32-bit floats; b44 and dwa quantise colour channels. Only on explicit request.
LOSSY_COMPRESSIONS = ("pxr24", "b44", "b44a", "dwaa", "dwab")
@dataclass(frozen=True)
class Provenance:
    """What made a matte, written to every frame's header so a file can be traced and rerun."""

    weights_digest: str
    prompts_digest: str
    version: str = __version__
    settings: str | None = None  # JSON of the settings that change mattes (`RunSettings.result_key`), if a job's


@dataclass(frozen=True)
class OutputFormat:
    """Pixel type and compression of the matte channels; Cryptomatte channels are always float."""

    pixel_type: str = "half"
    compression: str = DEFAULT_COMPRESSION

    def __post_init__(self) -> None:
        if self.pixel_type not in PIXEL_TYPES:
            raise ValueError(f"matte pixel type must be one of {PIXEL_TYPES}, not {self.pixel_type!r}")
        if ":" in self.compression:
            raise ValueError(f"EXR compression {self.compression!r}: give the method alone "
                             f"({self.compression.split(':', 1)[0]!r}); compression levels cannot be set")
        if self.compression not in LOSSLESS_COMPRESSIONS + LOSSY_COMPRESSIONS:
            raise ValueError(f"unknown EXR compression {self.compression!r}; "
                             f"lossless: {', '.join(LOSSLESS_COMPRESSIONS)}; lossy: {', '.join(LOSSY_COMPRESSIONS)}")


class OutputPatternError(InputError, ValueError):
    """The output pattern is not an .exr path with frame padding (`-o x.exr`, `-o m.####.png`)."""


def output_template(pattern: str | Path) -> fileseq.FileSequence:
    """The output pattern as a frame template; checked here so a job refuses it before any work."""
    template = fileseq.FileSequence(str(pattern), pad_style=PAD_STYLE)
    if not template.padding() or template.extension().lower() != ".exr":
        raise OutputPatternError(f"output pattern must be an .exr path with frame padding (####, %04d...), "
                                 f"not '{pattern}'")
    return template


class MatteWriter:
    """Writes the matte EXR of each frame of one job; construct once, call `write` per frame."""

    def __init__(self, pattern: str | Path, instance_names: Sequence[str], provenance: Provenance, *,
                 output_format: OutputFormat = OutputFormat(), cryptomatte_layer: str | None = None,
                 passthrough_layer: str | None = None, overscan: bool = False) -> None:
        if not instance_names:
            raise ValueError("a matte file needs at least one instance")
        if cryptomatte_layer is not None:
            cryptomatte.validate_output_format("float", output_format.compression)
        duplicates = sorted({name for name in instance_names if list(instance_names).count(name) > 1})
        if duplicates:
            raise ValueError(f"instance names must be unique; given more than once: {duplicates}")
        self._template = output_template(pattern)
        self.instance_names = tuple(instance_names)
        self.layer_names = output_layer_names(self.instance_names, cryptomatte_layer, passthrough_layer)
        self.provenance = provenance
        self.output_format = output_format
        self.cryptomatte_layer = cryptomatte_layer
        # A pixel has at most one rank per instance: ranks beyond that would be written, compressed
        # and read back as zeros on every frame. Two ranks per EXR layer, at most the usual six.
        count = len(self.instance_names)
        self.cryptomatte_levels = min(MAX_CRYPTOMATTE_LEVELS, count + count % 2)
        self.passthrough_layer = passthrough_layer
        self.overscan = overscan

    def path(self, frame: int) -> Path:
        return Path(self._template.frame(frame))

    def output_window(self, plate: Plate) -> Window:
        """The data window of the frame written for `plate`."""
        return plate.display_window.union(plate.data_window) if self.overscan else plate.display_window

    def write(self, frame: int, mattes: Mapping[str, np.ndarray], matte_window: Window, plate: Plate) -> Path:
        """Write one frame and return its path.

        `mattes` maps instance names to planes covering `matte_window` (absolute coordinates,
        e.g. `PlateGeometry.frame_window`); values are clipped to 0..1. An instance without a
        matte this frame (it left the shot) gets an empty layer, so every frame has every layer.
        """
        unknown = sorted(set(mattes) - set(self.instance_names))
        if unknown:
            raise ValueError(f"mattes for instances this writer was not set up for: {unknown}")
        window = self.output_window(plate)
        stored_type = PIXEL_DTYPES[self.output_format.pixel_type]
        with step("EXR write"):
            planes = {name: self._matte_plane(mattes.get(name), matte_window, window, stored_type)
                      for name in self.instance_names}
        channels: dict[str, tuple[np.ndarray, str]] = {}
        if self.passthrough_layer:
            if plate.layer.name != self.passthrough_layer:
                raise ValueError(f"plate layer '{plate.layer.name}' is not the passthrough layer '{self.passthrough_layer}'")
            channels.update(self._passthrough_channels(plate, window))
        pixel_type = self.output_format.pixel_type
        channels.update({f"{self.layer_names[name]}.A": (plane, pixel_type) for name, plane in planes.items()})
        metadata = self._metadata(frame, plate)
        if self.cryptomatte_layer:  # from the mattes as stored: see the module docstring
            with step("Cryptomatte"):
                encoded = cryptomatte.encode(planes, self.cryptomatte_layer, self.cryptomatte_levels)
            channels.update({name: (plane, "float") for name, plane in encoded.channels.items()})
            metadata.update(encoded.metadata)
        assert_nuke_friendly(channels)
        path = self.path(frame)
        with step("EXR write"):
            _write_exr_atomically(path, channels, window, plate, self.output_format.compression, metadata, frame)
        return path

    @staticmethod
    def _matte_plane(matte: np.ndarray | None, matte_window: Window, window: Window, stored_type: type) -> np.ndarray:
        """The matte over `window`, clipped to 0..1, in the stored type (half through `to_half`)."""
        if matte is None:
            return np.zeros(window.shape, dtype=stored_type)
        plane = np.clip(np.asarray(matte, dtype=np.float32), 0.0, 1.0)
        plane = plane if matte_window == window else reframe(plane, matte_window, window)
        return to_half(plane) if stored_type == np.float16 else plane

    @staticmethod
    def _passthrough_channels(plate: Plate, window: Window) -> dict[str, tuple[np.ndarray, str]]:
        """The plate's layer under its own channel names (`R`, `beauty.R`...) and pixel types."""
        pixels = plate.pixels if plate.window == window else reframe(plate.pixels, plate.window, window)
        channels = {}
        for position, (component, kind) in enumerate(zip(plate.layer.components, plate.layer.pixel_types)):
            name = component if plate.layer.name == DEFAULT_LAYER else f"{plate.layer.name}.{component}"
            # EXR stores no 8/16-bit integers for colour: those plates are passed through as half.
            channels[name] = (pixels[..., position], kind if kind in PIXEL_TYPES else "half")
        return channels

    def _metadata(self, frame: int, plate: Plate) -> dict[str, object]:
        settings = {"rmpsam/settings": self.provenance.settings} if self.provenance.settings else {}
        return {**settings,
            "rmpsam/version": self.provenance.version,
            "rmpsam/weightsDigest": self.provenance.weights_digest,
            "rmpsam/promptsDigest": self.provenance.prompts_digest,
            "rmpsam/sourceFrame": os.path.abspath(plate.header.path),
            "rmpsam/frame": int(frame),
            "rmpsam/layers": json.dumps(self.layer_names, ensure_ascii=False, separators=(",", ":")),
        }


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines() if line.strip()) or "unknown error"


def _write_exr_atomically(path: Path, channels: Mapping[str, tuple[np.ndarray, str]], window: Window, plate: Plate,
                          compression: str, metadata: Mapping[str, object], frame: int) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create output directory {path.parent}: {error.strerror or error}",
                          path=path, frame=frame) from None
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.partial"):
        with contextlib.suppress(OSError):
            stale.unlink()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        write_exr(temporary, channels, data_window=window, display_window=plate.display_window,
                  pixel_aspect=plate.pixel_aspect, compression=compression, metadata=metadata)
        os.replace(temporary, path)
    except RuntimeError as error:  # OpenEXR's own message: disk full, permission, path is a folder...
        raise OutputError(f"cannot write {temporary}: {_one_line(str(error))}", path=path, frame=frame) from None
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror or error}", path=path, frame=frame) from None
    finally:
        with contextlib.suppress(OSError):  # already renamed, or never created
            temporary.unlink()

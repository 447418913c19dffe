"""Which plate the tool should read: found by walking up from the RMPSAM node to its Read.

The artist placed the handles over whatever reaches the node, but the tool reads files, so the
bridge needs the files behind it: the first Read up the input-0 chain (through Dots, grades and
the like, which change pixels but not geometry; a Transform or Reformat in between would move the
image under the handles, and is refused rather than silently mis-mapped).

Read knobs used (text knobs through `getText()`, as typed: `value()` would have evaluated any TCL
and turned `####` into `%04d`, hiding both from the checks here): `file`, `proxy` (the proxy files'
pattern), `first`, `last`, `format` and
`proxy_format` (Format objects: `width()`, `height()`, `pixelAspect()`), `frame` (a frame
expression or offset, which the tool cannot follow). The root's `proxy` knob says whether proxy mode is on.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Optional

import nuke

from .coordinates import KnobSpace

# Nodes that change where pixels are: handles placed below them are not in the Read's space.
_GEOMETRY_CLASSES = frozenset({
    "Transform", "Reformat", "Crop", "CornerPin2D", "Tracker4", "Mirror2", "Mirror", "LensDistortion",
    "STMap", "IDistort", "SplineWarp3", "GridWarp3", "Card3D", "Position", "TimeOffset", "Retime",
    "FrameHold", "TimeWarp", "OFlow2", "Kronos",
})
_NUKE_PADDING = re.compile(r"#+|%0?\d*d")


class PlateError(Exception):
    """No usable plate: the message says what to fix in the script."""


class Plate(NamedTuple):
    """The sequence the tool reads and how knob values map onto it."""

    read_name: str
    pattern: str          # the files the tool reads (full-res, or proxy files on request)
    first_frame: int
    last_frame: int
    pixel_aspect: float
    space: KnobSpace      # knob space (format) -> the plate's pixels
    proxy_files: bool     # True when `pattern` is the proxy files

    @property
    def width(self) -> int:
        return self.space.plate_width

    @property
    def height(self) -> int:
        return self.space.plate_height

    def plate_block(self) -> dict:
        """The prompt file's optional `plate` block, so the tool checks it runs on this plate."""
        return {"pattern": self.pattern, "first_frame": self.first_frame, "last_frame": self.last_frame,
                "width": self.width, "height": self.height, "pixel_aspect": self.pixel_aspect}


def upstream_read(node):
    """The first Read up `node`'s input-0 chain; PlateError when there is none or a node that
    moves pixels sits in between."""
    current = node.input(0)
    while current is not None:
        node_class = current.Class()
        if node_class == "Read":
            return current
        if node_class in _GEOMETRY_CLASSES:
            raise PlateError("%s sits between the plate and %s and moves the image under the handles; "
                             "put %s directly below the Read (Dots and colour nodes are fine)"
                             % (current.name(), node.name(), node.name()))
        current = current.input(0)
    raise PlateError("%s has no Read upstream: connect its input to the plate" % node.name())


def plate_from_read(read, use_proxy_files: bool = False) -> Plate:
    """Describe the plate behind `read`. With `use_proxy_files` the tool reads the Read's proxy
    files (its `proxy` knob), scaled from the format by `proxy_format`; otherwise the full-res
    files, in which knob values already are (proxy mode or not: see coordinates.py)."""
    pattern = read["file"].getText()
    if not pattern:
        raise PlateError("%s has no file" % read.name())
    _check_pattern(read, pattern, "file")
    fmt = read["format"].value()
    width, height = int(fmt.width()), int(fmt.height())
    space = KnobSpace.full_res(width, height)
    proxy_files = False
    if use_proxy_files:
        proxy_pattern = read["proxy"].getText()
        if not proxy_pattern:
            raise PlateError("%s has no proxy files to run on (its proxy knob is empty)" % read.name())
        _check_pattern(read, proxy_pattern, "proxy")
        proxy_format = read["proxy_format"].value()
        pattern, proxy_files = proxy_pattern, True
        space = KnobSpace(width, height, int(proxy_format.width()), int(proxy_format.height()))
    offset = read.knob("frame")
    if offset is not None and offset.getText().strip() not in ("", "frame"):
        raise PlateError("%s changes frame numbers (frame %s); the tool reads frames by file number, so "
                         "clear the Read's frame knob" % (read.name(), offset.getText()))
    return Plate(read.name(), pattern, int(read["first"].value()), int(read["last"].value()),
                 float(fmt.pixelAspect()), space, proxy_files)


def proxy_mode_on() -> bool:
    """Nuke's proxy switch. Knob values do not change with it; reported so messages can say so."""
    knob = nuke.root().knob("proxy")
    return bool(knob.value()) if knob is not None else False


def plate_for_node(node, use_proxy_files: Optional[bool] = None) -> Plate:
    if use_proxy_files is None:
        use_proxy_files = bool(node["use_proxy_plate"].value())
    return plate_from_read(upstream_read(node), use_proxy_files)


def _check_pattern(read, pattern: str, knob: str) -> None:
    if "[" in pattern:
        raise PlateError("%s's %s knob holds a TCL expression (%s); the tool needs a plain path"
                         % (read.name(), knob, pattern))
    if "%V" in pattern or "%v" in pattern:
        raise PlateError("%s's %s knob has a view placeholder; stereo plates are run one view at a time"
                         % (read.name(), knob))
    if not _NUKE_PADDING.search(pattern):
        raise PlateError("%s's %s knob (%s) has no frame number placeholder (#### or %%04d)"
                         % (read.name(), knob, pattern))

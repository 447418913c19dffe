"""Nuke knob coordinates <-> the tool's prompt coordinates. Pure functions, no `nuke` import.

Nuke puts the origin at the bottom-left corner of the format with y up; the prompt file (docs/file-formats.md, Coordinates)
puts it at the top-left corner of the display window with y down. Both count in stored pixels, so
only y flips: `y_top = height - y_nuke`. The flip maps pixel centres onto pixel centres (Nuke's
bottom row has centre y 0.5, which becomes height - 0.5, the tool's bottom row).

Two things that look like they need scaling and (mostly) do not:

- Pixel aspect. An anamorphic plate is shown desqueezed in the viewer (Foundry, "Pixel Aspect
  Ratio": https://learn.foundry.com/nuke/8.0/content/getting_started/using_interface/pixel_aspect_ratio.html),
  but that is display only: Nuke's coordinate system is pixel-based, and the pixel aspect is "a
  property of the image format, rather than the data itself" (NDK Dev Guide, "Coordinates and
  bounding boxes"). An XY/BBox knob's value is a position in the format's stored pixels, the
  viewer drawing the handle at x * aspect; the aspect only rescales *sizes* (the guide's WH_knob
  example). The prompt file also keeps stored (squeezed) pixels (`prompts.schema.json`), so x is
  never multiplied by the pixel aspect; the aspect only travels in the file's `plate` block for
  the tool to check against the sequence. Not checked in a running Nuke: the guide's wording
  ("the user seeing ... canonical coordinates") leaves room, so an anamorphic shot is worth one
  click checked by eye.
- Proxy mode. Nuke keeps knob values in full-resolution format pixels whatever the proxy setting
  and scales them itself when it renders a proxy. So a knob value is already right for the
  full-res plate. Only when the tool is pointed at the proxy files themselves (a smaller plate)
  do the values need scaling, by proxy size / full size on each axis: that is `KnobSpace`.
"""

from __future__ import annotations

from typing import List, NamedTuple, Sequence, Tuple


class KnobSpace(NamedTuple):
    """Where knob values live (the full-res format) and the plate the tool reads.

    `width`/`height`: the Read's format in pixels (knob space). `plate_width`/`plate_height`: the
    size of the images the tool will read: the same for the full-res files, smaller for proxies.
    """

    width: int
    height: int
    plate_width: int
    plate_height: int

    @classmethod
    def full_res(cls, width: int, height: int) -> "KnobSpace":
        return cls(width, height, width, height)

    @property
    def scale_x(self) -> float:
        return self.plate_width / float(self.width)

    @property
    def scale_y(self) -> float:
        return self.plate_height / float(self.height)


def nuke_to_tool_point(x: float, y: float, space: KnobSpace) -> Tuple[float, float]:
    """A knob point (bottom-left origin, format pixels) -> prompt point (top-left, plate pixels)."""
    return _clean(x * space.scale_x), _clean((space.height - y) * space.scale_y)


def tool_to_nuke_point(x: float, y: float, space: KnobSpace) -> Tuple[float, float]:
    """The inverse of `nuke_to_tool_point`."""
    return _clean(x / space.scale_x), _clean(space.height - y / space.scale_y)


def nuke_to_tool_box(box: Sequence[float], space: KnobSpace) -> List[float]:
    """A BBox knob value [x, y, r, t] -> [x1, y1, x2, y2], top-left origin. The knob's top `t`
    becomes the box's smaller y; corners are ordered, since an artist can drag a box inside out."""
    x, y, r, t = box
    left, bottom = nuke_to_tool_point(min(x, r), min(y, t), space)
    right, top = nuke_to_tool_point(max(x, r), max(y, t), space)
    return [left, top, right, bottom]


def tool_to_nuke_box(box: Sequence[float], space: KnobSpace) -> List[float]:
    """[x1, y1, x2, y2] (top-left origin) -> a BBox knob value [x, y, r, t]."""
    x1, y1, x2, y2 = box
    left, top = tool_to_nuke_point(x1, y1, space)
    right, bottom = tool_to_nuke_point(x2, y2, space)
    return [min(left, right), min(top, bottom), max(left, right), max(top, bottom)]


def inside(point: Sequence[float], plate_width: int, plate_height: int) -> bool:
    """The prompt file's rule: 0 <= x <= width and 0 <= y <= height (edges included)."""
    return 0.0 <= point[0] <= plate_width and 0.0 <= point[1] <= plate_height


def _clean(value: float) -> float:
    """Floats as JSON writes them; -0.0 (from 0 * a scale) would print as `-0.0`."""
    value = float(value)
    return 0.0 if value == 0.0 else value

"""Screen <-> plate pixels: the one mapping everything the viewer draws and every tool reads.

Plate coordinates are display-window pixels, origin top-left, y down, continuous with pixel
centres at +0.5 (the prompt file's convention, `plate_geometry`). The image on screen may cover
more than the display window (overscan: the data window reaches outside it) or less (a crop);
`image_offset` says where the drawn image starts, in plate pixels.

The view is a zoom (screen pixels per plate row) and a pan (where plate point (0, 0) is on the
widget). Anamorphic plates are desqueezed on screen as Nuke's viewer does: a plate pixel is
`pixel_aspect` times wider than tall, so x scales by zoom * pixel_aspect. Keeping this pure
arithmetic, apart from Qt, lets the tests check the inverse exactly and lets the canvas, the
tools and the overlays share it instead of each keeping its own offsets.

A mouse event names a screen pixel by its integer corner; the point under the cursor is that
pixel's centre (+0.5), so at any integer zoom and pan a click lands on the centre of the plate
pixel drawn there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MIN_ZOOM = 1.0 / 64
MAX_ZOOM = 64.0


@dataclass(frozen=True)
class ViewTransform:
    """zoom: screen pixels per plate pixel vertically; pan: the screen position of plate (0, 0)."""

    zoom: float = 1.0
    pan_x: float = 0.0
    pan_y: float = 0.0
    pixel_aspect: float = 1.0

    @property
    def scale_x(self) -> float:
        return self.zoom * self.pixel_aspect

    def to_screen(self, x: float, y: float) -> tuple[float, float]:
        """Plate point -> widget point (continuous)."""
        return self.pan_x + x * self.scale_x, self.pan_y + y * self.zoom

    def to_plate(self, sx: float, sy: float) -> tuple[float, float]:
        """Widget point (continuous) -> plate point."""
        return (sx - self.pan_x) / self.scale_x, (sy - self.pan_y) / self.zoom

    def pixel_to_plate(self, px: int, py: int) -> tuple[float, float]:
        """The plate point under the centre of the widget pixel (px, py) a mouse event names."""
        return self.to_plate(px + 0.5, py + 0.5)

    def zoomed_about(self, factor: float, sx: float, sy: float) -> ViewTransform:
        """Zoom by `factor`, keeping the plate point under widget point (sx, sy) where it is."""
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom * factor))
        x, y = self.to_plate(sx, sy)
        return replace(self, zoom=zoom, pan_x=sx - x * zoom * self.pixel_aspect, pan_y=sy - y * zoom)

    def panned(self, dx: float, dy: float) -> ViewTransform:
        return replace(self, pan_x=self.pan_x + dx, pan_y=self.pan_y + dy)

    @classmethod
    def fit(cls, plate_w: int, plate_h: int, pixel_aspect: float, view_w: int, view_h: int,
            margin: int = 8) -> ViewTransform:
        """The whole display window, desqueezed, centred in a view of view_w x view_h."""
        usable_w, usable_h = max(1, view_w - 2 * margin), max(1, view_h - 2 * margin)
        zoom = min(usable_w / (plate_w * pixel_aspect), usable_h / plate_h)
        return cls.centred(zoom, plate_w, plate_h, pixel_aspect, view_w, view_h)

    @classmethod
    def one_to_one(cls, plate_w: int, plate_h: int, pixel_aspect: float, view_w: int, view_h: int) -> ViewTransform:
        """One screen row per plate row, centred; the pan is rounded so pixels stay whole."""
        view = cls.centred(1.0, plate_w, plate_h, pixel_aspect, view_w, view_h)
        return replace(view, pan_x=float(round(view.pan_x)), pan_y=float(round(view.pan_y)))

    @classmethod
    def centred(cls, zoom: float, plate_w: int, plate_h: int, pixel_aspect: float, view_w: int,
                view_h: int) -> ViewTransform:
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        return cls(zoom, (view_w - plate_w * zoom * pixel_aspect) / 2, (view_h - plate_h * zoom) / 2, pixel_aspect)

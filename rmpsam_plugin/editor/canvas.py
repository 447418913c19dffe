"""The viewer: the frame, its mattes and prompts drawn through one `ViewTransform`, and the
tools that turn mouse input into plate-pixel prompts.

Mouse input is mapped with `ViewTransform.pixel_to_plate` and nothing else, so a click lands on
the plate pixel drawn under the cursor at any zoom, pan, overscan and pixel aspect. The canvas
does not edit prompts: it emits what the artist did (`clicked`, `boxDrawn`, `stroked`) in plate
pixels and the window turns that into an undoable edit.

Controls: left button uses the tool (Shift+click: negative click); middle drag or Alt+left drag
pans; the wheel zooms about the cursor.
"""

from __future__ import annotations

import math

from PyQt5.QtCore import QPoint, QPointF, QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QImage, QPainter, QPen
from PyQt5.QtWidgets import QSizePolicy, QWidget

from .display import DisplayFrame
from .viewport import ViewTransform

CLICK, BOX, BRUSH, ERASER = "click", "box", "brush", "eraser"
WHEEL_STEP = 1.25  # zoom factor per wheel notch (120 eighths of a degree)


class PlateCanvas(QWidget):
    clicked = pyqtSignal(float, float, bool)  # plate x, y, negative
    boxDrawn = pyqtSignal(float, float, float, float)  # x1, y1, x2, y2 (top-left first)
    stroked = pyqtSignal(object, float, bool)  # [(x, y), ...] plate points, radius (plate rows), erase
    viewChanged = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setMinimumSize(320, 200)
        self.view = ViewTransform()
        self.display_size: tuple[int, int] | None = None
        self.frame: DisplayFrame | None = None
        self.overlays: list[QImage] = []  # over the display window, drawn in order
        self.prompt_marks: list[tuple[tuple[int, int, int], object]] = []  # (colour, KeyframeEdit)
        self.message = ""  # drawn over the frame: a missing frame, a frame still computing
        self.tool = CLICK
        self.brush_radius = 12.0
        self._drag: dict | None = None
        self._hover: QPointF | None = None
        self._scene_cache: tuple[tuple, tuple, QImage] | None = None  # `_scaled_scene`'s

    # ---- what is shown --------------------------------------------------------------------
    def set_plate(self, width: int, height: int, pixel_aspect: float) -> None:
        self.display_size = (width, height)
        self.view = ViewTransform(pixel_aspect=pixel_aspect)
        self.fit()

    def set_frame(self, frame: DisplayFrame | None) -> None:
        self.frame = frame
        self.update()

    def set_view(self, view: ViewTransform) -> None:
        self.view = view
        self.viewChanged.emit()
        self.update()

    def fit(self) -> None:
        if self.display_size:
            self.set_view(ViewTransform.fit(*self.display_size, self.view.pixel_aspect, self.width(), self.height()))

    def one_to_one(self) -> None:
        if self.display_size:
            self.set_view(ViewTransform.one_to_one(*self.display_size, self.view.pixel_aspect, self.width(), self.height()))

    # ---- painting -------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(38, 38, 38))
        if self.display_size is not None:
            scene = self._scaled_scene()
            if scene is not None:
                painter.drawImage(scene[0], scene[1])
            else:
                painter.save()
                painter.translate(self.view.pan_x, self.view.pan_y)
                painter.scale(self.view.scale_x, self.view.zoom)
                self._paint_scene(painter)
                painter.restore()
            self._paint_window_outline(painter)
            self._paint_prompts(painter)
        self._paint_drag(painter)
        if self.message:
            painter.setPen(QColor(255, 220, 120))
            painter.drawText(self.rect().adjusted(12, 12, -12, -12), Qt.AlignTop | Qt.AlignLeft, self.message)
        painter.end()

    def _paint_scene(self, painter: QPainter) -> None:
        """The frame and the overlays, in plate pixels (the painter carries the view's transform)."""
        if self.frame is not None:
            painter.drawImage(QPointF(self.frame.offset_x, self.frame.offset_y), self.frame.image)
        for overlay in self.overlays:
            painter.drawImage(QPointF(0, 0), overlay)

    def _scaled_scene(self) -> tuple[QPoint, QImage] | None:
        """Below 1:1, the frame and overlays smoothly scaled once and kept, then copied on each
        paint: a prompt mark, a busy message or a pan repaints without rescaling a 2K plate,
        which on a 2-core machine would take time from the network decoding the next edit.
        Drawn at a whole screen pixel, the fraction of the pan inside, so it sits exactly where
        the direct drawing would. None at 1:1 and above (drawn directly, unsmoothed)."""
        view = self.view
        if view.zoom >= 1.0:
            self._scene_cache = None
            return None
        left, top, right, bottom = 0.0, 0.0, *map(float, self.display_size)
        if self.frame is not None:
            left, top = min(left, self.frame.offset_x), min(top, self.frame.offset_y)
            right = max(right, self.frame.offset_x + self.frame.image.width())
            bottom = max(bottom, self.frame.offset_y + self.frame.image.height())
        corner_x, corner_y = view.to_screen(left, top)
        origin = QPoint(math.floor(corner_x), math.floor(corner_y))
        drawn = (self.frame, *self.overlays)  # compared by identity: a new frame or overlay is a new object
        placement = (view.zoom, view.scale_x, corner_x - origin.x(), corner_y - origin.y())
        cached = self._scene_cache
        if (cached is None or cached[1] != placement or len(cached[0]) != len(drawn)
                or any(a is not b for a, b in zip(cached[0], drawn))):
            far_x, far_y = view.to_screen(right, bottom)
            image = QImage(math.ceil(far_x) - origin.x(), math.ceil(far_y) - origin.y(), QImage.Format_ARGB32_Premultiplied)
            image.fill(QColor(38, 38, 38))
            painter = QPainter(image)
            painter.setRenderHint(QPainter.SmoothPixmapTransform, True)
            painter.translate(view.pan_x - origin.x(), view.pan_y - origin.y())
            painter.scale(view.scale_x, view.zoom)
            self._paint_scene(painter)
            painter.end()
            self._scene_cache = cached = (drawn, placement, image)
        return origin, cached[2]

    def _paint_window_outline(self, painter: QPainter) -> None:
        """The display window, dashed, when the drawn image covers more (overscan) or less (a crop)."""
        if self.frame is None or self.frame.has_overscan_or_crop:
            width, height = self.display_size
            painter.setPen(QPen(QColor(230, 230, 230), 1, Qt.DashLine))
            painter.drawRect(QRectF(QPointF(*self.view.to_screen(0, 0)), QPointF(*self.view.to_screen(width, height))))

    def _screen(self, x: float, y: float) -> QPointF:
        return QPointF(*self.view.to_screen(x, y))

    def _paint_prompts(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.Antialiasing, True)
        for colour, edit in self.prompt_marks:
            pen = QPen(QColor(*colour), 2)
            painter.setPen(pen)
            for x1, y1, x2, y2 in edit.boxes:
                painter.drawRect(QRectF(self._screen(x1, y1), self._screen(x2, y2)))
            for x, y in edit.positive:
                painter.setBrush(QColor(*colour))
                painter.drawEllipse(self._screen(x, y), 5, 5)
            painter.setBrush(Qt.NoBrush)
            for x, y in edit.negative:
                centre = self._screen(x, y)
                painter.setPen(QPen(QColor(255, 60, 60), 2))
                painter.drawEllipse(centre, 5, 5)
                painter.drawLine(centre + QPointF(-4, -4), centre + QPointF(4, 4))
                painter.drawLine(centre + QPointF(-4, 4), centre + QPointF(4, -4))
                painter.setPen(pen)

    def _brush_axes(self) -> tuple[float, float]:
        """The brush on screen: round there, so `pixel_aspect` times narrower in stored pixels."""
        return self.brush_radius * self.view.zoom, self.brush_radius * self.view.zoom

    def _paint_drag(self, painter: QPainter) -> None:
        painter.setBrush(Qt.NoBrush)
        if self._drag and self._drag["kind"] == BOX:
            painter.setPen(QPen(QColor(255, 255, 255), 1, Qt.DashLine))
            painter.drawRect(QRectF(self._drag["start"], self._drag["end"]).normalized())
        if self.tool in (BRUSH, ERASER):
            rx, ry = self._brush_axes()
            colour = QColor(255, 120, 120) if self.tool == ERASER else QColor(255, 255, 255)
            if self._drag and self._drag["kind"] in (BRUSH, ERASER):
                painter.setPen(QPen(colour, 2 * ry, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin))
                points = [self._screen(x, y) for x, y in self._drag["points"]]
                painter.setOpacity(0.4)
                painter.drawPolyline(*points) if len(points) > 1 else painter.drawPoint(points[0])
                painter.setOpacity(1.0)
            if self._hover is not None:
                painter.setPen(QPen(colour, 1))
                painter.drawEllipse(self._hover, rx, ry)

    # ---- input ----------------------------------------------------------------------------
    def plate_point(self, event) -> tuple[float, float]:
        return self.view.pixel_to_plate(event.pos().x(), event.pos().y())

    def mousePressEvent(self, event) -> None:
        panning = event.button() == Qt.MiddleButton or (event.button() == Qt.LeftButton and event.modifiers() & Qt.AltModifier)
        if panning:
            self._drag = {"kind": "pan", "last": QPointF(event.pos())}
        elif event.button() == Qt.LeftButton and self.display_size is not None:
            x, y = self.plate_point(event)
            if self.tool == CLICK:
                self.clicked.emit(x, y, bool(event.modifiers() & Qt.ShiftModifier))
            elif self.tool == BOX:
                self._drag = {"kind": BOX, "start": QPointF(event.pos()) + QPointF(0.5, 0.5),
                              "end": QPointF(event.pos()) + QPointF(0.5, 0.5), "plate": (x, y)}
            else:
                self._drag = {"kind": self.tool, "points": [(x, y)]}
        self.update()

    def mouseMoveEvent(self, event) -> None:
        self._hover = QPointF(event.pos()) + QPointF(0.5, 0.5)
        if self._drag and self._drag["kind"] == "pan":
            delta = QPointF(event.pos()) - self._drag["last"]
            self._drag["last"] = QPointF(event.pos())
            self.set_view(self.view.panned(delta.x(), delta.y()))
        elif self._drag and self._drag["kind"] == BOX:
            self._drag["end"] = QPointF(event.pos()) + QPointF(0.5, 0.5)
        elif self._drag:
            self._drag["points"].append(self.plate_point(event))
        self.update()

    def mouseReleaseEvent(self, event) -> None:
        drag, self._drag = self._drag, None
        if drag and drag["kind"] == BOX:
            (x1, y1), (x2, y2) = drag["plate"], self.plate_point(event)
            if x1 != x2 and y1 != y2:
                self.boxDrawn.emit(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
        elif drag and drag["kind"] in (BRUSH, ERASER):
            end = self.plate_point(event)
            if end != drag["points"][-1]:
                drag["points"].append(end)
            self.stroked.emit(drag["points"], self.brush_radius, drag["kind"] == ERASER)
        self.update()

    def wheelEvent(self, event) -> None:
        notches = event.angleDelta().y() / 120.0
        if notches:
            position = event.pos()
            self.set_view(self.view.zoomed_about(WHEEL_STEP ** notches, position.x() + 0.5, position.y() + 0.5))

    def leaveEvent(self, event) -> None:
        self._hover = None
        self.update()

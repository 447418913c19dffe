"""A click at a widget point lands on the plate pixel drawn under it: checked against the
pixels Qt actually painted, across zoom, pan, overscan/crop and anamorphic pixel aspect.

The frame is an index image (red = x, green = y of each stored pixel, in image coordinates),
so the grabbed widget says which plate pixel is on each screen pixel."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PyQt5.QtCore import QPoint, Qt

from rmpsam_plugin.editor.canvas import BOX, BRUSH, PlateCanvas
from rmpsam_plugin.editor.display import DisplayFrame, rgb_image
from rmpsam_plugin.editor.viewport import ViewTransform

CASES = [  # (zoom, pan_x, pan_y, pixel aspect, image offset (overscan < 0, crop > 0), image size)
    (1.0, 30, 20, 1.0, (0, 0), (120, 80)),
    (3.0, -17, 11, 1.0, (0, 0), (120, 80)),
    (2.0, 5, 9, 1.0, (-8, -6), (136, 92)),  # overscan: 8 px left/right, 6 top/bottom
    (2.0, 14, 3, 2.0, (0, 0), (120, 80)),  # 2:1 anamorphic
    (2.5, -40, -33, 2.0, (-8, -6), (136, 92)),  # both, fractional zoom and pan
    (1.5, 21, 7, 1.0, (10, 4), (60, 50)),  # a crop: the data window inside the display window
]


def index_frame(offset, size) -> DisplayFrame:
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    rgb = np.stack([xs, ys, np.zeros_like(xs)], -1) / 255.0
    return DisplayFrame(1, rgb_image(rgb), offset[0], offset[1], (120, 80), 1.0)


def shown_pixel(grab, point: QPoint, frame: DisplayFrame) -> tuple[int, int]:
    """The plate pixel (display-window coordinates) whose colour Qt drew at `point`."""
    colour = grab.pixelColor(point)
    return colour.red() + frame.offset_x, colour.green() + frame.offset_y


@pytest.mark.parametrize("zoom, pan_x, pan_y, aspect, offset, size", CASES)
def test_click_lands_on_the_pixel_drawn_under_the_cursor(qtbot, zoom, pan_x, pan_y, aspect, offset, size):
    canvas = PlateCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(420, 300)
    canvas.show()
    canvas.set_plate(120, 80, aspect)
    frame = index_frame(offset, size)
    canvas.set_frame(frame)
    canvas.set_view(ViewTransform(zoom, pan_x, pan_y, aspect))
    grab = canvas.grab().toImage()
    clicks = []
    canvas.clicked.connect(lambda x, y, negative: clicks.append((x, y, negative)))
    rng = np.random.default_rng(1)
    checked = 0
    left, top = canvas.view.to_screen(offset[0], offset[1])
    right, bottom = canvas.view.to_screen(offset[0] + size[0], offset[1] + size[1])
    for _ in range(60):
        point = QPoint(int(rng.uniform(max(0, left), min(420, right))), int(rng.uniform(max(0, top), min(300, bottom))))
        x, y = canvas.view.pixel_to_plate(point.x(), point.y())
        inside_image = (offset[0] <= x < offset[0] + size[0]) and (offset[1] <= y < offset[1] + size[1])
        # Screen pixels whose centre sits on a pixel border are ambiguous; none of these cases has one.
        outline = grab.pixelColor(point).blue() != 0  # the display window's dashed outline, drawn over the image
        if not inside_image or outline or min(abs(x - round(x)), abs(y - round(y))) < 1e-6:
            continue
        qtbot.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, point)
        assert clicks[-1][:2] == pytest.approx((x, y))
        assert (math.floor(clicks[-1][0]), math.floor(clicks[-1][1])) == shown_pixel(grab, point, frame)
        checked += 1
    assert checked >= 25
    qtbot.mouseClick(canvas, Qt.LeftButton, Qt.ShiftModifier, QPoint(200, 150))
    assert clicks[-1][2] is True


def move(widget, point: QPoint) -> None:
    """A mouse move with the left button held (QTest's mouseMove carries no buttons)."""
    from PyQt5.QtCore import QEvent, QPointF
    from PyQt5.QtGui import QMouseEvent
    from PyQt5.QtWidgets import QApplication

    QApplication.sendEvent(widget, QMouseEvent(QEvent.MouseMove, QPointF(point), Qt.NoButton, Qt.LeftButton, Qt.NoModifier))


def test_box_drag_and_brush_stroke_give_plate_pixels(qtbot):
    canvas = PlateCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(420, 300)
    canvas.show()
    canvas.set_plate(120, 80, 2.0)
    canvas.set_view(ViewTransform(2.0, 10, 20, 2.0))  # one plate pixel: 4 x 2 screen pixels
    boxes, strokes = [], []
    canvas.boxDrawn.connect(lambda *box: boxes.append(box))
    canvas.stroked.connect(lambda points, radius, erase: strokes.append((points, radius, erase)))
    canvas.tool = BOX
    qtbot.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(90, 60))
    move(canvas, QPoint(150, 100))
    qtbot.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(50, 100))  # dragged up-left of the start
    assert boxes == [pytest.approx(((50.5 - 10) / 4, (60.5 - 20) / 2, (90.5 - 10) / 4, (100.5 - 20) / 2))]
    canvas.tool = BRUSH
    qtbot.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(30, 40))
    move(canvas, QPoint(50, 44))
    qtbot.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(70, 40))
    points, radius, erase = strokes[0]
    assert points[0] == pytest.approx(((30.5 - 10) / 4, (40.5 - 20) / 2))
    assert points[1] == pytest.approx(((50.5 - 10) / 4, (44.5 - 20) / 2))
    assert points[-1] == pytest.approx(((70.5 - 10) / 4, (40.5 - 20) / 2))
    assert radius == canvas.brush_radius and erase is False


def test_wheel_zooms_about_the_cursor_and_middle_drag_pans(qtbot):
    canvas = PlateCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(420, 300)
    canvas.show()
    canvas.set_plate(120, 80, 1.0)
    before = canvas.view.pixel_to_plate(123, 77)
    from PyQt5.QtCore import QPointF
    from PyQt5.QtGui import QWheelEvent
    from PyQt5.QtWidgets import QApplication
    event = QWheelEvent(QPointF(123, 77), QPointF(canvas.mapToGlobal(QPoint(123, 77))), QPoint(0, 0), QPoint(0, 240),
                        Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    zoom = canvas.view.zoom
    QApplication.sendEvent(canvas, event)
    assert canvas.view.zoom == pytest.approx(zoom * 1.25 ** 2)
    assert canvas.view.pixel_to_plate(123, 77) == pytest.approx(before)
    pan = canvas.view.pan_x, canvas.view.pan_y
    qtbot.mousePress(canvas, Qt.MiddleButton, Qt.NoModifier, QPoint(100, 100))
    move(canvas, QPoint(130, 90))
    qtbot.mouseRelease(canvas, Qt.MiddleButton, Qt.NoModifier, QPoint(130, 90))
    assert (canvas.view.pan_x, canvas.view.pan_y) == pytest.approx((pan[0] + 30, pan[1] - 10))


def _painted_directly(canvas: PlateCanvas, frame: DisplayFrame, overlay) -> np.ndarray:
    """What the canvas would show drawing the frame and overlay straight through the view."""
    from PyQt5.QtCore import QPointF
    from PyQt5.QtGui import QColor, QImage, QPainter

    image = QImage(canvas.width(), canvas.height(), QImage.Format_ARGB32_Premultiplied)
    image.fill(QColor(38, 38, 38))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.SmoothPixmapTransform, True)
    painter.translate(canvas.view.pan_x, canvas.view.pan_y)
    painter.scale(canvas.view.scale_x, canvas.view.zoom)
    painter.drawImage(QPointF(frame.offset_x, frame.offset_y), frame.image)
    painter.drawImage(QPointF(0, 0), overlay)
    painter.end()
    return _rgb(image)


def _rgb(image) -> np.ndarray:
    from PyQt5.QtGui import QImage

    image = image.convertToFormat(QImage.Format_RGB888)
    pointer = image.constBits()
    pointer.setsize(image.byteCount())
    rows = np.frombuffer(pointer, np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, :3 * image.width()].reshape(image.height(), image.width(), 3).astype(int)


def test_below_one_to_one_the_kept_scaled_scene_matches_direct_drawing_and_follows_changes(qtbot):
    """Zoomed out, the canvas draws a scaled copy it keeps (`_scaled_scene`): the same pixels as
    drawing through the view, a pan reuses it, and a new overlay replaces it."""
    from rmpsam_plugin.editor.display import overlay_image

    canvas = PlateCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(420, 300)
    canvas.show()
    canvas.set_plate(120, 80, 2.0)
    frame = index_frame((-8, -6), (136, 92))
    canvas.set_frame(frame)
    matte = np.zeros((80, 120), np.float32)
    matte[20:60, 30:90] = 1.0
    canvas.overlays = [overlay_image(matte, (0, 0, 255))]
    canvas.set_view(ViewTransform(0.7, 33.3, 41.6, 2.0))
    shown = _rgb(canvas.grab().toImage())
    expected = _painted_directly(canvas, frame, canvas.overlays[0])
    inside = np.zeros(shown.shape[:2], bool)  # away from the dashed display-window outline
    left, top = canvas.view.to_screen(2, 2)
    right, bottom = canvas.view.to_screen(118, 78)
    inside[math.ceil(top):int(bottom), math.ceil(left):int(right)] = True
    assert np.abs(shown - expected)[inside].max() <= 1
    centre_x, centre_y = map(int, canvas.view.to_screen(60, 40))
    assert shown[centre_y, centre_x, 2] > 100  # blue: the overlay
    kept = canvas._scene_cache[2]
    canvas.set_view(canvas.view.panned(5, -3))
    canvas.grab()
    assert canvas._scene_cache[2] is kept
    canvas.overlays = [overlay_image(np.zeros_like(matte), (0, 0, 255))]
    canvas.update()
    cleared = _rgb(canvas.grab().toImage())
    centre_x, centre_y = map(int, canvas.view.to_screen(60, 40))
    assert cleared[centre_y, centre_x, 2] == 0

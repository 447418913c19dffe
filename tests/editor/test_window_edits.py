"""The real window on real plates: gestures become prompts in plate pixels, undo/redo, keyframes,
the timeline, and live mattes from the tiny network."""

from __future__ import annotations

import numpy as np
import pytest
from editor_fixtures import WAIT_MS, wait_idle, write_anamorphic_overscan
from PyQt5.QtCore import QPoint, Qt

from rmpsam_plugin.editor.canvas import BOX, BRUSH, ERASER
from rmpsam_plugin.editor.viewport import ViewTransform


def test_click_on_an_anamorphic_overscan_plate_lands_on_the_right_pixel(qtbot, make_window, tmp_path):
    window = make_window()
    assert window.open_plate(write_anamorphic_overscan(tmp_path))
    wait_idle(qtbot, window)
    frame = window._frames[1]
    assert (frame.offset_x, frame.offset_y, frame.image.width(), frame.image.height()) == (-8, -8, 96, 76)
    canvas = window.canvas
    canvas.set_view(ViewTransform(3.0, 40.0, 30.0, 2.0))  # plate pixel = 6 x 3 screen pixels
    qtbot.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(40 + 6 * 10 + 2, 30 + 3 * 20 + 1))
    entry = window.store.state[0]
    assert entry.keyframes[1].positive == ((10 + 2.5 / 6, 20 + 1.5 / 3),)
    qtbot.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(40 - 6 * 4, 60))  # in the overscan: refused
    assert len(window.store.state[0].keyframes[1].positive) == 1
    assert "outside the display window" in window.statusBar().currentMessage()


def test_tools_make_keyframes_and_undo_redo_restores_them(qtbot, make_window, shot):
    window = make_window()
    assert window.open_plate(str(shot / "plate.####.exr"))
    wait_idle(qtbot, window)
    canvas = window.canvas
    canvas.set_view(ViewTransform(2.0, 10.0, 10.0, 1.0))
    point = lambda x, y: QPoint(int(10 + 2 * x), int(10 + 2 * y))  # noqa: E731  plate pixel -> its top-left screen pixel
    qtbot.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, point(40, 30))
    qtbot.mouseClick(canvas, Qt.LeftButton, Qt.ShiftModifier, point(60, 50))
    window.set_tool(BOX)
    qtbot.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, point(20, 10))
    qtbot.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, point(80, 70))
    window.set_tool(BRUSH)
    canvas.brush_radius = 5
    qtbot.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, point(100, 40))
    (entry,) = window.store.state
    edit = entry.keyframes[1001]
    assert edit.positive == ((40.25, 30.25),) and edit.negative == ((60.25, 50.25),)
    assert edit.boxes == ((20.25, 10.25, 80.25, 70.25),)
    assert edit.mask.shape == (96, 160) and edit.mask[40, 100] == 255 and edit.mask[40, 106] == 0
    assert 60 < int((edit.mask > 0).sum()) < 100  # a disc of radius 5: ~79 pixels
    window.set_tool(ERASER)
    qtbot.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, point(100, 40))
    assert not window.store.state[0].keyframes[1001].mask.any()

    stack = window.store.undo_stack
    assert stack.count() == 6  # add instance, click, negative click, box, paint, erase
    stack.undo()
    assert window.store.state[0].keyframes[1001].mask[40, 100] == 255
    for _ in range(4):
        stack.undo()
    assert window.store.state[0].keyframes == {}  # before the first click: no keyframe
    for _ in range(5):
        stack.redo()
    assert not window.store.state[0].keyframes[1001].mask.any()
    assert window.store.state[0].keyframes[1001].positive == ((40.25, 30.25),)


def test_live_preview_overlay_and_keyframe_navigation(qtbot, make_window, shot):
    window = make_window()
    assert window.open_plate(str(shot / "plate.####.exr"))
    assert window.open_prompts(shot / "prompts.json")
    wait_idle(qtbot, window)
    (ring, star) = window.store.state
    qtbot.waitUntil(lambda: len(window.canvas.overlays) == 2, timeout=WAIT_MS)  # both keyframes decoded
    assert window.frame == 1001
    assert window.preview.matte(ring.uid, 1001).shape == (96, 160)
    window.store.set_hidden(ring.uid, True)
    assert len(window.canvas.overlays) == 1
    window.next_keyframe()
    assert window.frame == 1003
    window.next_keyframe()
    assert window.frame == 1003  # none later
    window.previous_keyframe()
    assert window.frame == 1001
    assert window.timeline.ticks[1] == (star.colour, [1001, 1003])
    window.go_to(1002)
    qtbot.waitUntil(lambda: 1002 in window._frames, timeout=WAIT_MS)
    assert window.canvas.overlays == [] and window.canvas.prompt_marks == []
    window.timeline.frameRequested.emit(1004)
    assert window.frame == 1004


def test_instances_add_rename_show_the_writers_layer_name_and_delete(qtbot, make_window, shot):
    window = make_window()
    assert window.open_plate(str(shot / "plate.####.exr"))
    panel = window.instances
    first = panel.add("car 1")
    second = panel.add("car_1")
    texts = [panel.list.item(row).text() for row in range(panel.list.count())]
    assert texts[0].startswith("car 1  \u2192 layer car_1") and texts[1].startswith("car_1  \u2192 layer car_1_2")
    assert panel.rename(second, "car 1") == "another instance is already called 'car 1'"
    assert panel.rename(second, "truck") is None
    assert [entry.name for entry in window.store.state] == ["car 1", "truck"]
    panel.set_colour(first, (1, 2, 3))
    assert window.store.entry(first).colour == (1, 2, 3)
    panel.delete(first)
    assert [entry.name for entry in window.store.state] == ["truck"]
    window.store.undo_stack.undo()
    assert [entry.name for entry in window.store.state] == ["car 1", "truck"]


@pytest.mark.parametrize("anamorphic", [1.0, 2.0])
def test_brush_is_round_on_screen(anamorphic):
    from rmpsam_plugin.editor.brush import paint_stroke

    mask = paint_stroke(np.zeros((100, 100), np.uint8), [(50.5, 50.5)], 10, anamorphic, erase=False)
    rows, cols = np.nonzero(mask)
    assert rows.max() - rows.min() + 1 == 21 and cols.max() - cols.min() + 1 == 2 * round(10 / anamorphic) + 1
    assert mask[50, 50] == 255

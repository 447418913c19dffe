"""The timeline: the frame range, each instance's keyframes as ticks in its colour, missing
frames greyed, the current frame; click or drag to scrub. Transport (next/previous keyframe,
play) lives in the window, which owns the current frame."""

from __future__ import annotations

from PyQt5.QtCore import QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QPainter, QPen
from PyQt5.QtWidgets import QSizePolicy, QWidget

MARGIN = 10


class Timeline(QWidget):
    frameRequested = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(44)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.first, self.last, self.current = 1, 1, 1
        self.missing: set[int] = set()
        self.ticks: list[tuple[tuple[int, int, int], list[int]]] = []  # (colour, keyframes) per instance
        self.results: set[int] = set()  # frames with run results

    def set_range(self, first: int, last: int, missing) -> None:
        self.first, self.last, self.missing = first, last, set(missing)
        self.update()

    def set_current(self, frame: int) -> None:
        self.current = frame
        self.update()

    def set_ticks(self, ticks) -> None:
        self.ticks = list(ticks)
        self.update()

    def x_of(self, frame: int) -> float:
        span = max(1, self.last - self.first)
        return MARGIN + (frame - self.first) / span * (self.width() - 2 * MARGIN)

    def frame_at(self, x: float) -> int:
        span = max(1, self.last - self.first)
        frame = self.first + round((x - MARGIN) / max(1, self.width() - 2 * MARGIN) * span)
        return min(self.last, max(self.first, frame))

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(30, 30, 30))
        middle = self.height() / 2
        painter.setPen(QPen(QColor(110, 110, 110), 2))
        painter.drawLine(int(self.x_of(self.first)), int(middle), int(self.x_of(self.last)), int(middle))
        step = max(1, (self.last - self.first) // 40)
        for frame in range(self.first, self.last + 1):
            x = self.x_of(frame)
            if frame in self.missing:
                painter.fillRect(QRectF(x - 2, middle - 6, 4, 12), QColor(140, 40, 40))
            elif frame in self.results:
                painter.fillRect(QRectF(x - 1, middle + 4, 2, 4), QColor(90, 200, 90))
            if (frame - self.first) % step == 0:
                painter.setPen(QPen(QColor(90, 90, 90), 1))
                painter.drawLine(int(x), int(middle - 3), int(x), int(middle + 3))
        for row, (colour, frames) in enumerate(self.ticks):
            painter.setPen(QPen(QColor(*colour), 3))
            top = 4 + (row % 3) * 4
            for frame in frames:
                x = int(self.x_of(frame))
                painter.drawLine(x, top, x, int(middle))
        x = int(self.x_of(self.current))
        painter.setPen(QPen(QColor(255, 210, 60), 2))
        painter.drawLine(x, 0, x, self.height())
        painter.drawText(QRectF(x + 4, middle + 2, 60, middle - 2), Qt.AlignLeft | Qt.AlignVCenter, str(self.current))
        painter.end()

    def mousePressEvent(self, event) -> None:
        self.frameRequested.emit(self.frame_at(event.pos().x()))

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.LeftButton:
            self.frameRequested.emit(self.frame_at(event.pos().x()))

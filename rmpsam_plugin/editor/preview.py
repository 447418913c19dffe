"""Live preview: every edited keyframe decoded on a worker thread, its matte kept as an overlay.

The store says which (instance, frame) keyframes an edit touched; each is submitted to the
worker (`BackgroundWorker`: a newer edit of the same keyframe replaces one still waiting). A
result is kept only if the keyframe it was decoded from is still the current one, so a slow
decode never paints over a newer edit. `shown` fires on the UI thread when an overlay is ready,
with the milliseconds from the edit to then (the bench's number).

The session is opened on the worker thread (weights load for seconds); `session_factory` is
`inference.open_session` (the public `VideoSession`) in the application, a stand-in in tests.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PyQt5.QtCore import QObject, pyqtSignal
from PyQt5.QtGui import QImage

from .background import BackgroundWorker
from .display import overlay_image
from .document import KeyframeEdit
from .store import PromptStore


class PreviewController(QObject):
    shown = pyqtSignal(int, int, float)  # uid, frame, ms from the edit to the overlay
    failed = pyqtSignal(int, int, str)
    busyChanged = pyqtSignal(bool, str)
    setupFailed = pyqtSignal(str)

    def __init__(self, store: PromptStore, session_factory: Callable[[], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.busy = False
        self.busy_text = ""
        self._mattes: dict[tuple[int, int], tuple[KeyframeEdit, np.ndarray, QImage]] = {}
        self.worker = BackgroundWorker("editor-preview", session_factory, self)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.worker.busyChanged.connect(self._busy)
        self.worker.setupFailed.connect(self.setupFailed)
        store.changed.connect(self._store_changed)
        self._store_changed({(entry.uid, frame) for entry in store.state for frame in entry.keyframes})

    def overlay(self, uid: int, frame: int) -> QImage | None:
        """The instance's preview on `frame` if it is up to date with its keyframe."""
        kept = self._mattes.get((uid, frame))
        entry = self.store.entry(uid)
        if kept is None or entry is None or entry.keyframes.get(frame) is not kept[0]:
            return None
        if kept[2].text("colour") != str(entry.colour):  # recoloured since it was decoded
            self._mattes[(uid, frame)] = (kept[0], kept[1], _coloured(kept[1], entry.colour))
        return self._mattes[(uid, frame)][2]

    def matte(self, uid: int, frame: int) -> np.ndarray | None:
        kept = self._mattes.get((uid, frame))
        return kept[1] if kept is not None else None

    def close(self) -> None:
        self.worker.close()

    def _store_changed(self, touched: set[tuple[int, int]]) -> None:
        for uid, frame in sorted(touched):
            entry = self.store.entry(uid)
            edit = entry.keyframes.get(frame) if entry is not None else None
            if edit is None:
                self._mattes.pop((uid, frame), None)
                self.worker.discard((uid, frame))
                continue
            self.worker.submit((uid, frame), _decode_job(uid, frame, edit, entry.colour))

    def _finished(self, key, result, seconds: float) -> None:
        self._mattes[key] = result
        if self.overlay(*key) is not None:
            self.shown.emit(key[0], key[1], seconds * 1e3)

    def _failed(self, key, message: str) -> None:
        self._mattes.pop(key, None)
        self.failed.emit(key[0], key[1], message)

    def _busy(self, busy: bool, what: str) -> None:
        self.busy, self.busy_text = busy, what
        self.busyChanged.emit(busy, what)


def _coloured(matte: np.ndarray, colour: tuple[int, int, int]) -> QImage:
    image = overlay_image(matte, colour)
    image.setText("colour", str(colour))
    return image


def _decode_job(uid: int, frame: int, edit: KeyframeEdit, colour: tuple[int, int, int]):
    """The work for one keyframe, run on the worker thread with the session as context: the
    decode and the overlay image, so the UI thread only swaps a picture in."""

    def job(session, report):
        cached = session.has_cached_features(frame)
        report(f"decoding frame {frame}" if cached else f"computing frame {frame} (first edit on it)")
        matte = session.set_prompts(frame, str(uid), clicks=edit.positive, negative=edit.negative, boxes=edit.boxes,
                                    mask=edit.mask_matte())
        return edit, matte, _coloured(matte, colour)

    return job

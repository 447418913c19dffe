"""The edited prompts as a Qt object: the current state, its undo stack, and change signals.

Every edit goes through `apply` as one `StateChange` on Qt's undo stack; undo and redo swap the
state back. Listeners (the instance list, the timeline, the live preview) hear one signal,
`changed(touched)`, with the (uid, frame) keyframes that differ, whatever caused the change.
"""

from __future__ import annotations

from pathlib import Path

from PyQt5.QtCore import QObject, pyqtSignal
from PyQt5.QtWidgets import QUndoCommand, QUndoStack

from rmpsam_plugin.prompts import PlateInfo, PromptSet, save_prompts

from .document import (
    InstanceEntry,
    State,
    changed_keyframes,
    layer_names,
    state_from_prompt_set,
    to_prompt_set,
)


class StateChange(QUndoCommand):
    """One edit: the whole state before and after (frozen values, shared where unchanged)."""

    def __init__(self, store: PromptStore, after: State, text: str) -> None:
        super().__init__(text)
        self._store, self._before, self._after = store, store.state, after

    def redo(self) -> None:
        self._store._set_state(self._after)

    def undo(self) -> None:
        self._store._set_state(self._before)


class PromptStore(QObject):
    changed = pyqtSignal(object)  # set of (uid, frame) whose keyframe changed
    hiddenChanged = pyqtSignal()

    def __init__(self, plate: PlateInfo | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.state: State = ()
        self.plate = plate
        self.hidden: set[int] = set()
        self.path: Path | None = None

    # ---- reading ------------------------------------------------------------------------------
    def entry(self, uid: int) -> InstanceEntry | None:
        return next((entry for entry in self.state if entry.uid == uid), None)

    def layer_names(self) -> dict[int, str]:
        return layer_names(self.state)

    def keyframe_frames(self) -> dict[int, list[int]]:
        """uid -> its keyframes, for the timeline's ticks."""
        return {entry.uid: list(entry.keyframes) for entry in self.state}

    # ---- editing ------------------------------------------------------------------------------
    def apply(self, after: State, text: str) -> None:
        if after != self.state:
            self.undo_stack.push(StateChange(self, after, text))

    def replace_entry(self, entry: InstanceEntry, text: str) -> None:
        self.apply(tuple(entry if e.uid == entry.uid else e for e in self.state), text)

    def set_hidden(self, uid: int, hidden: bool) -> None:
        (self.hidden.add if hidden else self.hidden.discard)(uid)
        self.hiddenChanged.emit()

    def _set_state(self, state: State) -> None:
        touched = changed_keyframes(self.state, state)
        self.state = state
        self.changed.emit(touched)

    # ---- files --------------------------------------------------------------------------------
    def load(self, prompt_set: PromptSet, path: Path | None) -> None:
        """Start over from a loaded file (not undoable: the undo history is the file's)."""
        self.undo_stack.clear()
        self.hidden.clear()
        if prompt_set.plate is not None:
            self.plate = prompt_set.plate
        self.path = path
        self._set_state(state_from_prompt_set(prompt_set))
        self.undo_stack.setClean()

    def save(self, path: Path) -> None:
        """Write the prompts (and painted masks) to `path`; raises `PromptFileError` or `OSError`
        without changing anything here, so the artist can fix the problem and save again."""
        save_prompts(to_prompt_set(self.state, self.plate, path), path)
        self.path = path
        self.undo_stack.setClean()

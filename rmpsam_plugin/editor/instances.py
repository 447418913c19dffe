"""The instance list: add, rename, colour, hide, delete; which instance the tools edit.

Each row shows the instance's name and the EXR layer the job will write it to (the writer's own
rule, `images.layer_names.output_layer_names`), so an artist sees "car 1 -> car_1" before the comp
does. The check box hides an instance's overlay and prompts (a view setting, not undoable);
everything else is an undoable edit through the store.
"""

from __future__ import annotations

from dataclasses import replace

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QColor, QIcon, QPixmap
from PyQt5.QtWidgets import (
    QColorDialog,
    QHBoxLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .document import InstanceEntry, next_colour, unique_name
from .store import PromptStore


def _swatch(colour: tuple[int, int, int]) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(*colour))
    return QIcon(pixmap)


class InstancePanel(QWidget):
    currentChanged = pyqtSignal(object)  # uid or None

    def __init__(self, store: PromptStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.list = QListWidget()
        self.list.setMinimumWidth(190)
        buttons = QHBoxLayout()
        self.add_button, self.rename_button = QPushButton("Add"), QPushButton("Rename")
        self.colour_button, self.delete_button = QPushButton("Colour"), QPushButton("Delete")
        for button in (self.add_button, self.rename_button, self.colour_button, self.delete_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self.add_button.clicked.connect(lambda: self.add())
        self.rename_button.clicked.connect(self._ask_rename)
        self.colour_button.clicked.connect(self._ask_colour)
        self.delete_button.clicked.connect(lambda: self.delete(self.current_uid()))
        self.list.currentItemChanged.connect(lambda *_: self.currentChanged.emit(self.current_uid()))
        self.list.itemChanged.connect(self._visibility_toggled)
        store.changed.connect(lambda _: self.refresh())

    def current_uid(self) -> int | None:
        item = self.list.currentItem()
        return item.data(Qt.UserRole) if item is not None else None

    def select(self, uid: int | None) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.UserRole) == uid:
                self.list.setCurrentRow(row)

    def refresh(self) -> None:
        current = self.current_uid()
        layers = self.store.layer_names()
        self.list.blockSignals(True)
        self.list.clear()
        for entry in self.store.state:
            shown = entry.name if layers[entry.uid] == entry.name else f"{entry.name}  \u2192 layer {layers[entry.uid]}"
            item = QListWidgetItem(_swatch(entry.colour), f"{shown}   ({len(entry.keyframes)} keys)")
            item.setData(Qt.UserRole, entry.uid)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Unchecked if entry.uid in self.store.hidden else Qt.Checked)
            self.list.addItem(item)
        self.list.blockSignals(False)
        uids = [entry.uid for entry in self.store.state]
        self.select(current if current in uids else (uids[-1] if uids else None))
        self.currentChanged.emit(self.current_uid())

    # ---- edits ----------------------------------------------------------------------------
    def add(self, name: str | None = None) -> int:
        entry = InstanceEntry(name or unique_name(self.store.state), colour=next_colour(self.store.state))
        self.store.apply(self.store.state + (entry,), f"add instance {entry.name}")
        self.select(entry.uid)
        return entry.uid

    def rename(self, uid: int, name: str) -> str | None:
        """Rename; returns why not (empty, or taken by another instance) or None when done."""
        name = name.strip()
        if not name:
            return "an instance needs a name"
        if any(entry.name == name and entry.uid != uid for entry in self.store.state):
            return f"another instance is already called '{name}'"
        self.store.replace_entry(replace(self.store.entry(uid), name=name), f"rename to {name}")
        return None

    def set_colour(self, uid: int, colour: tuple[int, int, int]) -> None:
        self.store.replace_entry(replace(self.store.entry(uid), colour=colour), "change colour")

    def delete(self, uid: int | None) -> None:
        if uid is not None:
            entry = self.store.entry(uid)
            self.store.apply(tuple(e for e in self.store.state if e.uid != uid), f"delete instance {entry.name}")

    def _ask_rename(self) -> None:
        uid = self.current_uid()
        if uid is None:
            return
        name, accepted = QInputDialog.getText(self, "Rename instance", "Name:", text=self.store.entry(uid).name)
        problem = self.rename(uid, name) if accepted else None
        if problem:
            self.window().report_problem("Rename instance", problem)

    def _ask_colour(self) -> None:
        uid = self.current_uid()
        if uid is not None:
            chosen = QColorDialog.getColor(QColor(*self.store.entry(uid).colour), self, "Instance colour")
            if chosen.isValid():
                self.set_colour(uid, (chosen.red(), chosen.green(), chosen.blue()))

    def _visibility_toggled(self, item: QListWidgetItem) -> None:
        self.store.set_hidden(item.data(Qt.UserRole), item.checkState() != Qt.Checked)

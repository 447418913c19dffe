"""The editor's window: plate, instances, tools, timeline, live preview, save/load and Run.

It wires the parts together and turns canvas gestures into undoable edits of the current
instance on the current frame (each edit makes that frame a keyframe of the instance). Problems
with files (a plate with missing frames, a prompt file for another shot, a path that cannot be
written, a failed run) are shown in a dialog naming the problem, opened without blocking
(`report_problem`), and nothing already edited is dropped.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtWidgets import (
    QAction,
    QActionGroup,
    QCheckBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from rmpsam_plugin.errors import InputError
from rmpsam_plugin.images.reader import DEFAULT_LAYER, read_header
from rmpsam_plugin.images.sequences import Sequence, find_sequence
from rmpsam_plugin.prompts import PlateInfo, PromptFileError, load_prompts

from . import brush
from .background import BackgroundWorker
from .canvas import BOX, BRUSH, CLICK, ERASER, PlateCanvas
from .display import load_display_frame
from .document import add_points, layer_names, painted, state_from_prompt_set, with_mask
from .instances import InstancePanel
from .preview import PreviewController
from .results import result_overlays, result_path
from .shot_run import ShotRun
from .store import PromptStore
from .timeline import Timeline

FRAME_CACHE = 24
PLAY_FPS = 24


@dataclass(frozen=True)
class EditorOptions:
    """What `rmpsam-matte edit` passes on: the same meaning as the `run` options of that name."""

    layer: str = DEFAULT_LAYER
    colour_space: str | None = None
    weights: str | None = None
    size: int | None = None
    device: str = "cpu"
    precision: str = "float32"  # job.precision.DEFAULT_PRECISION (not imported: torch loads on the worker)

    def run_arguments(self) -> list[str]:
        """The `run` options of the editor's shot run: it computes what the preview showed."""
        arguments = ["--layer", self.layer, "--device", self.device, "--precision", self.precision]
        for option, value in (("--colour-space", self.colour_space), ("--weights", self.weights), ("--size", self.size)):
            if value is not None:
                arguments += [option, str(value)]
        return arguments


def default_session_factory(pattern: str, options: EditorOptions):
    """Opens the inference session on the preview worker's thread."""
    def open_session():
        from .inference import (
            open_session,  # torch loads on the worker, not at start-up
        )

        return open_session(pattern, options.layer, options.colour_space, options.weights, options.size, options.device,
                            options.precision)

    return open_session


class EditorWindow(QMainWindow):
    frameShown = pyqtSignal(int)  # a frame's pixels are on screen

    def __init__(self, options: EditorOptions = EditorOptions(), session_factory=default_session_factory) -> None:
        super().__init__()
        self.options = options
        self.session_factory = session_factory
        self.setWindowTitle("rmpsam-matte edit")
        self.store = PromptStore(parent=self)  # goes with the window, and its signals with it
        self.sequence: Sequence | None = None
        self.frame = 0
        self.preview: PreviewController | None = None
        self.shot_run: ShotRun | None = None
        self.result_pattern: str | None = None
        self.last_dialog: QMessageBox | None = None
        self._frames: OrderedDict[int, object] = OrderedDict()
        self._results: dict[tuple[int, bool], list] = {}
        self.loader = BackgroundWorker("editor-frames", parent=self)
        self.loader.finished.connect(self._loaded)
        self.loader.failed.connect(self._load_failed)

        self.canvas = PlateCanvas()
        self.instances = InstancePanel(self.store)
        self.timeline = Timeline()
        self._build_layout()
        self._build_actions()
        self.play_timer = QTimer(self)
        self.play_timer.setInterval(round(1000 / PLAY_FPS))
        self.play_timer.timeout.connect(self._play_step)

        self.canvas.clicked.connect(self.on_click)
        self.canvas.boxDrawn.connect(self.on_box)
        self.canvas.stroked.connect(self.on_stroke)
        self.timeline.frameRequested.connect(self.go_to)
        self.instances.currentChanged.connect(lambda _: self.refresh_view())
        self.store.changed.connect(lambda _: self._store_changed())
        self.store.hiddenChanged.connect(self.refresh_view)
        self.store.undo_stack.cleanChanged.connect(self._update_title)
        self.resize(1280, 800)

    # ---- layout ---------------------------------------------------------------------------
    def _build_layout(self) -> None:
        centre = QWidget()
        layout = QVBoxLayout(centre)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.canvas, 1)
        transport = QHBoxLayout()
        self.prev_key_button, self.play_button = QPushButton("\u25c0 Key"), QPushButton("Play")
        self.next_key_button = QPushButton("Key \u25b6")
        self.frame_box = QSpinBox()
        for widget in (self.prev_key_button, self.play_button, self.next_key_button, self.frame_box):
            transport.addWidget(widget)
        transport.addWidget(self.timeline, 1)
        layout.addLayout(transport)
        self.setCentralWidget(centre)
        dock = QDockWidget("Instances")
        dock.setWidget(self.instances)
        dock.setFeatures(QDockWidget.NoDockWidgetFeatures)
        self.addDockWidget(Qt.LeftDockWidgetArea, dock)
        self.busy_label = QLabel("no plate")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel run")
        self.cancel_button.setVisible(False)
        self.statusBar().addWidget(self.busy_label, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)
        self.prev_key_button.clicked.connect(self.previous_keyframe)
        self.next_key_button.clicked.connect(self.next_keyframe)
        self.play_button.clicked.connect(self.toggle_play)
        self.frame_box.valueChanged.connect(self.go_to)
        self.cancel_button.clicked.connect(self.cancel_run)

    def _build_actions(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for text, shortcut, slot in (("Open plate...", "Ctrl+O", self._ask_open_plate),
                                     ("Open prompts...", "Ctrl+Shift+O", self._ask_open_prompts),
                                     ("Save prompts", "Ctrl+S", lambda: self.save()),
                                     ("Save prompts as...", "Ctrl+Shift+S", self._ask_save_as),
                                     ("Quit", "Ctrl+Q", self.close)):
            action = file_menu.addAction(text, slot)
            action.setShortcut(shortcut)
        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self.store.undo_stack.createUndoAction(self)
        self.undo_action.setShortcut("Ctrl+Z")
        self.redo_action = self.store.undo_stack.createRedoAction(self)
        self.redo_action.setShortcut("Ctrl+Shift+Z")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addAction("Clear keyframe", self.clear_keyframe)

        tools = QToolBar("Tools")
        self.addToolBar(tools)
        group = QActionGroup(self)
        self.tool_actions: dict[str, QAction] = {}
        for tool, text, key in ((CLICK, "Click", "C"), (BOX, "Box", "B"),
                                (BRUSH, "Brush", "P"), (ERASER, "Eraser", "E")):
            action = tools.addAction(text, lambda t=tool: self.set_tool(t))
            action.setCheckable(True)
            action.setShortcut(key)
            action.setToolTip(f"{text} ({key})" + (": Shift+click for a negative click" if tool == CLICK else ""))
            group.addAction(action)
            self.tool_actions[tool] = action
        self.tool_actions[CLICK].setChecked(True)
        self.brush_size = QDoubleSpinBox()
        self.brush_size.setRange(1, 500)
        self.brush_size.setValue(self.canvas.brush_radius)
        self.brush_size.setPrefix("brush r ")
        self.brush_size.valueChanged.connect(lambda value: setattr(self.canvas, "brush_radius", value))
        tools.addWidget(self.brush_size)
        tools.addSeparator()
        tools.addAction("Undo", self.store.undo_stack.undo)
        tools.addAction("Redo", self.store.undo_stack.redo)
        tools.addSeparator()
        tools.addAction("Fit", self.canvas.fit).setShortcut("F")
        tools.addAction("1:1", self.canvas.one_to_one).setShortcut("1")
        shot = QToolBar("Shot")
        self.addToolBar(shot)
        self.run_action = shot.addAction("Run shot", lambda: self.run_shot())
        self.show_result = QCheckBox("Show run result")
        self.show_result.setEnabled(False)
        self.show_result.toggled.connect(lambda _: self.refresh_view())
        self.cryptomatte_box = QCheckBox("from Cryptomatte")
        self.cryptomatte_box.setEnabled(False)
        self.cryptomatte_box.toggled.connect(lambda _: self.refresh_view())
        shot.addWidget(self.show_result)
        shot.addWidget(self.cryptomatte_box)

    # ---- problems -------------------------------------------------------------------------
    def report_problem(self, title: str, text: str) -> None:
        """A dialog naming the problem; opened without blocking, kept as `last_dialog`."""
        dialog = QMessageBox(QMessageBox.Warning, title, text, QMessageBox.Ok, self)
        dialog.setAttribute(Qt.WA_DeleteOnClose, False)
        dialog.open()
        self.last_dialog = dialog

    # ---- files ----------------------------------------------------------------------------
    def open_plate(self, pattern: str) -> bool:
        try:
            sequence = find_sequence(pattern)
            if not sequence.present:
                raise InputError(f"no frames of {sequence.pattern} exist on disk")
            first = sequence.present[0]
            header = read_header(sequence.path(first), first)
            header.layer(self.options.layer, first)
        except InputError as error:
            self.report_problem("Cannot open the plate", str(error))
            return False
        self._close_preview()
        self.sequence = sequence
        self._frames.clear()
        self._results.clear()
        display = header.display_window
        self.store.plate = PlateInfo(sequence.first, sequence.last, display.width, display.height, header.pixel_aspect,
                                     sequence.pattern)
        self.canvas.set_plate(display.width, display.height, header.pixel_aspect)
        self.timeline.set_range(sequence.first, sequence.last, sequence.missing)
        self.frame_box.blockSignals(True)
        self.frame_box.setRange(sequence.first, sequence.last)
        self.frame_box.blockSignals(False)
        self.preview = PreviewController(self.store, self.session_factory(sequence.pattern, self.options), self)
        self.preview.shown.connect(lambda uid, frame, ms: self._preview_shown(uid, frame, ms))
        self.preview.failed.connect(lambda uid, frame, message: self.statusBar().showMessage(
            f"{self._name(uid)} on frame {frame}: {message}", 8000))
        self.preview.busyChanged.connect(lambda *_: self._show_busy())
        self.preview.setupFailed.connect(lambda message: self.report_problem("Live preview unavailable", message))
        self.setWindowTitle(f"rmpsam-matte edit - {sequence.pattern}")
        if sequence.missing:
            shown = ", ".join(map(str, sequence.missing[:20])) + (" ..." if len(sequence.missing) > 20 else "")
            self.report_problem("Missing frames", f"{len(sequence.missing)} frame(s) of {sequence.pattern} are missing "
                                f"on disk: {shown}. They show as missing; prompts cannot be placed on them.")
        self.go_to(sequence.present[0], force=True)
        return True

    def open_prompts(self, path: str | Path) -> bool:
        """Load a prompt file, checked against the open plate; undoable, so nothing is lost."""
        path = Path(path)
        try:
            prompt_set = load_prompts(path, plate=self.store.plate)
        except PromptFileError as error:
            self.report_problem("Cannot open the prompts", str(error))
            return False
        self.store.plate = prompt_set.plate  # the file's own plate block (or none), written back as read
        self.store.apply(state_from_prompt_set(prompt_set), f"open {path.name}")
        self.store.path = path
        self.store.undo_stack.setClean()
        keyframes = prompt_set.keyframe_frames()
        if keyframes and self.sequence is not None:
            self.go_to(keyframes[0])
        return True

    def save(self, path: str | Path | None = None) -> bool:
        path = Path(path) if path is not None else self.store.path
        if path is None:
            return self._ask_save_as()
        try:
            self.store.save(path)
        except PromptFileError as error:
            self.report_problem("Cannot save the prompts", str(error))
            return False
        except OSError as error:
            self.report_problem("Cannot save the prompts", f"cannot write {error.filename or path}: {error.strerror or error}")
            return False
        self.statusBar().showMessage(f"saved {path}", 5000)
        return True

    def _ask_open_plate(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open plate (any frame of the sequence)")
        if name:
            self.open_plate(find_sequence(name).pattern if Path(name).is_file() else name)

    def _ask_open_prompts(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open prompts", filter="Prompt files (*.json)")
        if name:
            self.open_prompts(name)

    def _ask_save_as(self) -> bool:
        name, _ = QFileDialog.getSaveFileName(self, "Save prompts", filter="Prompt files (*.json)")
        return self.save(name) if name else False

    # ---- frames ---------------------------------------------------------------------------
    def go_to(self, frame: int, force: bool = False) -> None:
        if self.sequence is None or (frame == self.frame and not force):
            return
        frame = min(self.sequence.last, max(self.sequence.first, int(frame)))
        self.frame = frame
        self.timeline.set_current(frame)
        self.frame_box.blockSignals(True)
        self.frame_box.setValue(frame)
        self.frame_box.blockSignals(False)
        if frame in self._frames:
            self._frames.move_to_end(frame)
        elif frame in self.sequence.present:
            self.canvas.set_frame(None)
            path, layer, colour_space = self.sequence.path(frame), self.options.layer, self.options.colour_space
            self.loader.submit(("frame", "current"), lambda _, __: load_display_frame(path, frame, layer, colour_space))
        self.refresh_view()

    def _loaded(self, key, result, _seconds: float) -> None:
        if key[0] == "frame":
            self._frames[result.frame] = result
            while len(self._frames) > FRAME_CACHE:
                self._frames.popitem(last=False)
            if result.frame == self.frame:
                self.refresh_view()
                self.frameShown.emit(result.frame)
        else:
            self._results[key[1:]] = result
            self.refresh_view()

    def _load_failed(self, key, message: str) -> None:
        self.statusBar().showMessage(message, 10000)
        if key[0] == "frame":
            self.canvas.message = message

    def _play_step(self) -> None:
        if self.sequence is not None:
            self.go_to(self.frame + 1 if self.frame < self.sequence.last else self.sequence.first)

    def toggle_play(self) -> None:
        if self.play_timer.isActive():
            self.play_timer.stop()
            self.play_button.setText("Play")
        else:
            self.play_timer.start()
            self.play_button.setText("Stop")

    def _all_keyframes(self) -> list[int]:
        return sorted({frame for entry in self.store.state for frame in entry.keyframes})

    def next_keyframe(self) -> None:
        later = [frame for frame in self._all_keyframes() if frame > self.frame]
        if later:
            self.go_to(later[0])

    def previous_keyframe(self) -> None:
        earlier = [frame for frame in self._all_keyframes() if frame < self.frame]
        if earlier:
            self.go_to(earlier[-1])

    # ---- what is drawn --------------------------------------------------------------------
    def current_uid(self) -> int | None:
        return self.instances.current_uid()

    def _name(self, uid: int) -> str:
        entry = self.store.entry(uid)
        return entry.name if entry is not None else "a deleted instance"

    def _visible(self) -> list:
        """Visible instances, the current one last (drawn on top)."""
        current = self.current_uid()
        shown = [entry for entry in self.store.state if entry.uid not in self.store.hidden]
        return sorted(shown, key=lambda entry: entry.uid == current)

    def refresh_view(self) -> None:
        if self.sequence is None:
            return
        self.canvas.set_frame(self._frames.get(self.frame))
        visible = self._visible()
        if self.show_result.isChecked() and self.result_pattern:
            self.canvas.overlays = self._result_overlays(visible)
        else:
            overlays = [self.preview.overlay(entry.uid, self.frame) for entry in visible] if self.preview else []
            self.canvas.overlays = [overlay for overlay in overlays if overlay is not None]
        self.canvas.prompt_marks = [(entry.colour, entry.keyframes[self.frame]) for entry in visible
                                    if self.frame in entry.keyframes]
        self.timeline.set_ticks([(entry.colour, list(entry.keyframes)) for entry in self.store.state])
        self._show_busy()
        self.canvas.update()

    def _result_overlays(self, visible) -> list:
        crypto = self.cryptomatte_box.isChecked()
        key = (self.frame, crypto)
        if key not in self._results:
            path = result_path(self.result_pattern, self.frame)
            layers = layer_names(self.store.state)
            everything = [(entry.name, layers[entry.uid], entry.colour) for entry in self.store.state]
            frame = self.frame
            self.loader.submit(("result", *key), lambda _, __: dict(zip(
                [entry[0] for entry in everything], result_overlays(path, frame, everything, crypto))))
            return []
        return [self._results[key][entry.name] for entry in visible if entry.name in self._results[key]]

    def _show_busy(self) -> None:
        if self.sequence is None:
            return
        busy = self.preview is not None and self.preview.busy
        if self.frame not in self.sequence.present:
            self.canvas.message = f"frame {self.frame} is missing on disk"
        elif self.frame not in self._frames:
            self.canvas.message = f"reading frame {self.frame}..."
        else:
            self.canvas.message = f"busy: {self.preview.busy_text}..." if busy else ""
        self.busy_label.setText(f"busy: {self.preview.busy_text}" if busy else "ready")
        self.canvas.update()

    def _preview_shown(self, uid: int, frame: int, ms: float) -> None:
        self.last_preview_ms = ms
        if frame == self.frame:
            self.refresh_view()

    def _store_changed(self) -> None:
        self._results.clear()  # overlays are coloured per instance; names may have changed
        self.refresh_view()
        self._update_title()

    def _update_title(self, *_) -> None:
        name = self.store.path.name if self.store.path else "untitled prompts"
        dirty = "" if self.store.undo_stack.isClean() else " *"
        self.setWindowTitle(f"rmpsam-matte edit - {name}{dirty}")

    # ---- edits ----------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        self.canvas.tool = tool
        self.tool_actions[tool].setChecked(True)

    def _edit_target(self):
        """(entry, keyframe on this frame or None), adding an instance when there is none."""
        if self.sequence is None or self.frame not in self.sequence.present:
            self.statusBar().showMessage(f"frame {self.frame} is missing: prompts need a frame to sit on", 5000)
            return None
        uid = self.current_uid()
        if uid is None:
            uid = self.instances.add()
        entry = self.store.entry(uid)
        return entry, entry.keyframes.get(self.frame)

    def _inside(self, x: float, y: float) -> bool:
        width, height = self.canvas.display_size
        return 0 <= x <= width and 0 <= y <= height

    def on_click(self, x: float, y: float, negative: bool) -> None:
        if not self._inside(x, y):
            self.statusBar().showMessage("that point is outside the display window (overscan): prompts sit inside it", 5000)
            return
        target = self._edit_target()
        if target:
            entry, edit = target
            points = {"negative" if negative else "positive": [(x, y)]}
            self.store.replace_entry(entry.with_keyframe(self.frame, add_points(edit, **points)),
                                     f"{'negative' if negative else 'positive'} click on {self.frame}")

    def on_box(self, x1: float, y1: float, x2: float, y2: float) -> None:
        width, height = self.canvas.display_size
        x1, x2 = min(max(x1, 0), width), min(max(x2, 0), width)
        y1, y2 = min(max(y1, 0), height), min(max(y2, 0), height)
        target = self._edit_target() if x1 < x2 and y1 < y2 else None
        if target:
            entry, edit = target
            self.store.replace_entry(entry.with_keyframe(self.frame, add_points(edit, boxes=[(x1, y1, x2, y2)])),
                                     f"box on {self.frame}")

    def on_stroke(self, points, radius: float, erase: bool) -> None:
        target = self._edit_target()
        if target:
            entry, edit = target
            if erase and (edit is None or (edit.mask is None and edit.mask_path is None)):
                return  # nothing painted here to erase
            width, height = self.canvas.display_size
            mask = brush.paint_stroke(painted(edit, (height, width)), points, radius, self.canvas.view.pixel_aspect, erase)
            self.store.replace_entry(entry.with_keyframe(self.frame, with_mask(edit, mask)),
                                     f"{'erase' if erase else 'paint'} on {self.frame}")

    def clear_keyframe(self) -> None:
        uid = self.current_uid()
        entry = self.store.entry(uid) if uid is not None else None
        if entry is not None and self.frame in entry.keyframes:
            self.store.replace_entry(entry.with_keyframe(self.frame, None), f"clear keyframe {self.frame}")

    # ---- running the shot -----------------------------------------------------------------
    def default_output(self) -> str:
        path = self.store.path
        return str(path.parent / f"{path.stem}_mattes" / f"{path.stem}.####.exr")

    def run_shot(self, output: str | None = None) -> bool:
        """Save, then run the shot as `rmpsam-matte run` would on a farm; results come back when it ends."""
        if self.sequence is None or (self.shot_run is not None and self.shot_run.process.poll() is None):
            return False
        if not self.save():
            return False
        output = output or self.default_output()
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        self.shot_run = ShotRun([self.sequence.pattern, "--prompts", str(self.store.path), "-o", output,
                                 *self.options.run_arguments()], self)
        self.shot_run.progress.connect(self._run_progress)
        self.shot_run.finished.connect(lambda code, message: self._run_finished(output, code, message))
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.run_action.setEnabled(False)
        self.shot_run.start()
        return True

    def cancel_run(self) -> None:
        if self.shot_run is not None:
            self.shot_run.cancel()

    def _run_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _run_finished(self, output: str, code: int, message: str) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.run_action.setEnabled(True)
        if code == 0:
            self.result_pattern = output
            self._results.clear()
            self.timeline.results = set(self.sequence.present)
            self.show_result.setEnabled(True)
            self.cryptomatte_box.setEnabled(True)
            self.show_result.setChecked(True)
            self.statusBar().showMessage(f"run finished: {output}", 8000)
            self.refresh_view()
        elif self.shot_run.cancelled:
            self.statusBar().showMessage(f"run {message}", 8000)
        else:
            self.report_problem("The run failed", message)

    # ---- closing --------------------------------------------------------------------------
    def _close_preview(self) -> None:
        if self.preview is not None:
            self.preview.close()
            self.preview.deleteLater()
            self.preview = None

    def keep_unsaved_edits(self) -> bool:
        """Before the window closes with edits not saved: Save (closes only if the save worked),
        Discard, or Cancel (the window stays open). True when it may close."""
        if self.store.undo_stack.isClean():
            return True
        name = self.store.path.name if self.store.path else "The prompts"
        box = QMessageBox(QMessageBox.Question, "Unsaved prompts", f"{name} has edits that are not saved.",
                          QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, self)
        box.setInformativeText("Save them before closing?")
        box.setDefaultButton(QMessageBox.Save)
        answer = self.ask(box)
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    def ask(self, box: QMessageBox) -> int:
        """A modal question's answer (the one place the editor waits on the artist; tests answer here)."""
        return box.exec_()

    def closeEvent(self, event) -> None:
        if not self.keep_unsaved_edits():
            event.ignore()
            return
        self.play_timer.stop()
        self.cancel_run()
        self._close_preview()
        self.loader.close()
        super().closeEvent(event)

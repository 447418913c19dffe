"""Save/load in the one prompt format, bad files as dialogs that lose nothing, and Run: the
saved file runs unchanged with `rmpsam-matte run`, the results come back, Cancel kills the run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from editor_fixtures import WAIT_MS, wait_idle
from PyQt5.QtCore import QPoint, Qt

from rmpsam_plugin.editor.viewport import ViewTransform
from rmpsam_plugin.images.reader import read_plate
from rmpsam_plugin.prompts import load_prompts
from rmpsam_plugin.server.jobs import DEFAULT_CLI


def test_load_then_save_round_trips_byte_for_byte(make_window, shot):
    window = make_window()
    assert window.open_plate(str(shot / "plate.####.exr"))
    assert window.open_prompts(shot / "prompts.json")
    assert window.save(shot / "again.json")
    assert (shot / "again.json").read_bytes() == (shot / "prompts.json").read_bytes()


def test_a_prompt_file_for_another_shot_is_refused_in_a_dialog(make_window, shot, tmp_path):
    window = make_window()
    assert window.open_plate(str(shot / "plate.####.exr"))
    window.instances.add("mine")
    other = (shot / "prompts.json").read_text().replace('"frame": 1003', '"frame": 2003')
    (tmp_path / "other.json").write_text(other)
    assert not window.open_prompts(tmp_path / "other.json")
    text = window.last_dialog.text()
    assert "keyframe 2003" in text and "outside the sequence's frame range 1001-1004" in text
    assert [entry.name for entry in window.store.state] == ["mine"]  # nothing lost


def test_an_unwritable_save_path_is_a_dialog_and_the_edits_stay(qtbot, make_window, shot, tmp_path):
    window = make_window()
    assert window.open_plate(str(shot / "plate.####.exr"))
    wait_idle(qtbot, window)
    qtbot.mouseClick(window.canvas, Qt.LeftButton, Qt.NoModifier, window.canvas.rect().center())
    target = tmp_path / "no-such-folder" / "prompts.json"
    assert not window.save(target)
    assert "cannot write" in window.last_dialog.text() and "No such file or directory" in window.last_dialog.text()
    assert not window.store.undo_stack.isClean() and len(window.store.state[0].keyframes) == 1
    window.store.undo_stack.undo()  # an invalid state (no keyframes) is refused by the checks, named
    assert not window.save(tmp_path / "empty.json")
    assert "keyframes" in window.last_dialog.text() and not (tmp_path / "empty.json").exists()


def test_missing_frames_get_a_dialog_and_show_as_missing(qtbot, make_window, shot):
    (shot / "plate.1002.exr").unlink()
    window = make_window()
    assert window.open_plate(str(shot / "plate.####.exr"))
    assert "1 frame(s)" in window.last_dialog.text() and ": 1002." in window.last_dialog.text()
    window.go_to(1002)
    assert window.canvas.message == "frame 1002 is missing on disk"
    window.on_click(10.0, 10.0, False)
    assert window.store.state == ()
    window.go_to(1001)  # the live preview still works on the frames that exist
    wait_idle(qtbot, window)
    window.on_click(50.0, 40.0, False)
    qtbot.waitUntil(lambda: len(window.canvas.overlays) == 1, timeout=WAIT_MS)
    uid = window.store.state[0].uid
    assert window.preview.matte(uid, 1001).shape == (96, 160)


def test_saved_prompts_run_unchanged_and_the_results_come_back(qtbot, make_window, shot, tiny_weights):
    window = make_window()
    assert window.open_plate(str(shot / "plate.####.exr"))
    wait_idle(qtbot, window)
    window.canvas.set_view(ViewTransform(2.0, 0.0, 0.0, 1.0))
    qtbot.mouseClick(window.canvas, Qt.LeftButton, Qt.NoModifier, QPoint(100, 80))  # plate (50.25, 40.25)
    window.go_to(1003)
    qtbot.mouseClick(window.canvas, Qt.LeftButton, Qt.NoModifier, QPoint(140, 90))
    window.instances.add("second")
    qtbot.mouseClick(window.canvas, Qt.LeftButton, Qt.NoModifier, QPoint(200, 100))
    assert window.save(shot / "edited.json")
    saved = load_prompts(shot / "edited.json")
    assert saved.names == ["object1", "second"] and saved.keyframe_frames() == [1001, 1003]

    assert window.run_shot(str(shot / "out" / "m.####.exr"))
    with qtbot.waitSignal(window.shot_run.finished, timeout=WAIT_MS * 3) as finished:
        pass
    assert finished.args[0] == 0, finished.args
    assert window.show_result.isChecked() and window.progress.isHidden()
    # The same command by hand gives the same files: the editor's file runs unchanged.
    by_hand = subprocess.run([*DEFAULT_CLI, "run", str(shot / "plate.####.exr"), "--prompts", str(shot / "edited.json"),
                              "-o", str(shot / "hand" / "m.####.exr"), "--weights", str(tiny_weights), "--progress", "none"],
                             capture_output=True, text=True, timeout=300)
    assert by_hand.returncode == 0, by_hand.stderr
    for frame in (1001, 1004):
        for layer in ("object1", "second"):
            ours = read_plate(shot / "out" / f"m.{frame}.exr", layer).pixels
            theirs = read_plate(shot / "hand" / f"m.{frame}.exr", layer).pixels
            assert (ours == theirs).all()
    qtbot.waitUntil(lambda: len(window.canvas.overlays) == 2, timeout=WAIT_MS)
    window.cryptomatte_box.setChecked(True)
    qtbot.waitUntil(lambda: (window.frame, True) in window._results and len(window.canvas.overlays) == 2, timeout=WAIT_MS)


def test_cancel_leaves_no_process_behind(qtbot, make_window, shot):
    window = make_window()
    assert window.open_plate(str(shot / "plate.####.exr"))
    assert window.open_prompts(shot / "prompts.json")
    assert window.run_shot(str(shot / "out" / "m.####.exr"))
    pid = window.shot_run.pid
    assert window.cancel_button.isVisible()
    with qtbot.waitSignal(window.shot_run.finished, timeout=WAIT_MS) as finished:
        window.cancel_run()
    assert finished.args[1] == "cancelled; run again to resume"
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # neither the run nor anything in its process group is left
    assert "cancelled" in window.statusBar().currentMessage()


def test_edit_without_pyqt5_says_how_to_install_it(monkeypatch):
    from click.testing import CliRunner

    from rmpsam_cli.main import main

    monkeypatch.setitem(sys.modules, "PyQt5.QtWidgets", None)  # import fails as if not installed
    result = CliRunner().invoke(main, ["edit", "plate.####.exr"])
    assert result.exit_code == 2
    assert 'pip install -e ".[gui]"' in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("answer", ["Cancel", "Discard", "Save"])
def test_closing_with_unsaved_edits_asks_and_loses_nothing(qtbot, make_window, shot, monkeypatch, answer):
    from PyQt5.QtWidgets import QMessageBox

    window = make_window()
    assert window.open_plate(str(shot / "plate.####.exr"))
    window.open_prompts(shot / "prompts.json")
    before = (shot / "prompts.json").read_bytes()
    asked = []
    monkeypatch.setattr(window, "ask", lambda box: asked.append(box.text()) or getattr(QMessageBox, answer))
    window.instances.add("extra")
    window.on_click(20.0, 20.0, False)
    closed = window.close()
    assert asked == ["prompts.json has edits that are not saved."]
    assert closed == (answer != "Cancel") and window.isVisible() == (answer == "Cancel")
    saved = load_prompts(shot / "prompts.json")
    assert ("extra" in saved.names) == (answer == "Save")
    if answer != "Save":
        assert (shot / "prompts.json").read_bytes() == before
    if answer == "Cancel":  # saved since: closes without asking again
        assert window.save() and window.close() and len(asked) == 1

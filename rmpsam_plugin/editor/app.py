"""Starting the editor: one QApplication, one window, the plate and prompts given on the command line."""

from __future__ import annotations

import sys

from PyQt5.QtWidgets import QApplication

from .main_window import EditorOptions, EditorWindow


def main(plate: str | None, prompts: str | None, options: EditorOptions) -> int:
    """Run the editor until its window closes; returns the application's exit code."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("rmpsam-matte edit")
    window = EditorWindow(options)
    window.show()
    if plate is not None and window.open_plate(plate) and prompts is not None:
        window.open_prompts(prompts)
    return app.exec_()

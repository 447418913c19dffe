"""`rmpsam-matte edit`: a PyQt5 prompt editor with live mattes, for artists without Nuke.

Open a plate, put prompts on keyframes (clicks, boxes, a mask brush), see each instance's matte
as you click, save the one prompt-file format, run the shot and review the written EXRs.
Modules, one job each: `viewport` (screen <-> plate pixels), `display` (display transform and
overlays), `canvas` (the viewer and its tools), `brush`, `document` and `store` (the edited
prompts and their undo), `instances`, `timeline`, `background` (the worker thread), `inference`
(the project's public `VideoSession`), `preview` (live mattes), `shot_run` and
`results` (Run and review), `main_window`, `app`.

Importing this package does not import Qt; `app.main` does (PyQt5 is the `gui` extra).
"""

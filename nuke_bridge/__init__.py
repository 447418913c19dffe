"""Nuke integration. Runs inside Nuke's own Python: standard library only, no torch, numpy or
OpenImageIO. Talks to the tool through the command line, files and the loopback preview server.

Install: put `nuke_bridge/nuke_path` on NUKE_PATH (its init.py makes this package importable
without exposing the tool's site-packages to Nuke; its menu.py adds Nodes > RMP-SAM > RMPSAM).

One job per module:
    node.py           the RMPSAM node's knobs: settings, buttons, per-instance handle slots
    animation.py      keys on XY/BBox knobs: which frames a handle was placed on, and where
    coordinates.py    Nuke (bottom-left, format pixels) <-> prompt file (top-left, plate pixels)
    plate_source.py   the upstream Read: file pattern, frame range, format, proxy files
    prompt_export.py  knobs <-> the prompt file's JSON
    layer_names.py    instance name -> EXR layer, the writer's rule without reading the file
    executable.py     how to start rmpsam-matte (knob, $RMPSAM_MATTE_EXECUTABLE, PATH)
    progress.py       `--progress json` events -> percentage and message
    runner.py         the background run: process, ProgressTask, cancel, main-thread callback
    farm.py           Submit to farm: the `rmpsam-matte farm <manager>` command and the manager setting
    result_loader.py  Read + Shuffle per instance + Cryptomatte
    preview_client.py HTTP client of the preview server
    preview.py        warm preview servers and the Preview button's decode
    actions.py        what the buttons do (main thread)
"""

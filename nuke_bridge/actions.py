"""What the node's buttons do. Main thread only: each handler reads knobs, then hands slow work
to runner.py / preview.py, whose callbacks come back through `nuke.executeInMainThread`.

Problems the artist can fix (no Read upstream, a click outside the frame, no executable) are shown
with `nuke.message` in the tool's own words and the handler returns None; tests call the same
handlers with explicit paths instead of file dialogs.

Settings are read through `node.setting`/`node.path_setting`: the knobs' text as typed, not
Nuke's TCL-evaluated `value()` (node.py says why).
"""

from __future__ import annotations

import os
import shlex
from typing import Optional

import nuke

from . import node as rmpsam_node
from .executable import ExecutableError, command_prefix, configured
from .farm import configured_manager, farm_command
from .layer_names import output_layer_names
from .node import path_setting, setting
from .plate_source import PlateError, plate_for_node
from .preview import POOL, PreviewError, preview_in_background, request_from_document, show_preview
from .prompt_export import PromptExportError, apply_document, export_document, read_prompt_file, write_prompt_file
from .result_loader import load_result as _load_result
from .runner import BackgroundRun, RunResult, run_command

RUNS = {}  # type: Dict[str, BackgroundRun]   node name -> its latest run
_PROBLEMS = (PlateError, PromptExportError, ExecutableError, PreviewError, ValueError, OSError)


def add_instance(node, name: Optional[str] = None):
    if name is None:
        name = nuke.getInput("Instance name", "object%d" % (len(rmpsam_node.instances(node)) + 1))
    if not name:
        return None
    return rmpsam_node.add_instance(node, name.strip())


def remove_instance(node, index: int) -> None:
    rmpsam_node.remove_instance(node, index)


def export_prompts(node, path: Optional[str] = None) -> Optional[str]:
    """Write the node's prompts to `path` (default: the prompt file knob, else ask)."""
    try:
        path = path or path_setting(node, "prompt_file") or nuke.getFilename("Save prompts", "*.json", type="save")
        if not path:
            return None
        plate = plate_for_node(node)
        return write_prompt_file(path, export_document(node, plate.space, plate.plate_block()))
    except _PROBLEMS as error:
        return _tell(error)


def import_prompts(node, path: Optional[str] = None) -> Optional[str]:
    """Replace the node's instances and keys with a prompt file's."""
    try:
        path = path or nuke.getFilename("Load prompts", "*.json", type="open")
        if not path:
            return None
        plate = plate_for_node(node)
        apply_document(node, read_prompt_file(path), plate.space, nuke.frame())
        node["prompt_file"].setValue(path)
        return path
    except _PROBLEMS as error:
        return _tell(error)


def run_locally(node) -> Optional[BackgroundRun]:
    """Export the prompts and start `rmpsam-matte run` in the background (one run per node: a
    second would write the same files)."""
    running = RUNS.get(node.name())
    if running is not None and not running.finished.is_set():
        return _tell(ValueError("%s is already running; cancel it from its progress bar first" % node.name()))
    try:
        plate, document, output, prompt_path = _exported_shot(node)
        command = run_command(
            command_prefix(configured(setting(node, "executable"))), plate.pattern, prompt_path, output,
            frames=(plate.first_frame, plate.last_frame), weights=path_setting(node, "weights"),
            threads=int(setting(node, "threads")), cryptomatte=bool(setting(node, "cryptomatte")),
            extra=shlex.split(setting(node, "extra_args")))
    except _PROBLEMS as error:
        return _tell(error)
    node_name = node.name()
    names = [entry["name"] for entry in document["instances"]]
    frames = (plate.first_frame, plate.last_frame)
    cryptomatte = bool(setting(node, "cryptomatte"))
    load_when_done = bool(setting(node, "load_when_done"))

    def finished(result: RunResult) -> None:  # main thread, via nuke.executeInMainThread
        if result.ok and load_when_done:
            _load(node_name, output, frames, names, cryptomatte)
        elif not result.ok and not result.cancelled:
            nuke.message("%s: rmpsam-matte failed: %s" % (node_name, result.error))

    run = BackgroundRun(command, "RMPSAM %s" % node_name, finished).start()
    RUNS[node_name] = run
    return run


def _exported_shot(node):
    """What both a local run and a farm submission start from: the node's plate, its prompts
    exported to the prompt file beside the script, and the output pattern (refused when unset)."""
    plate = plate_for_node(node)
    document = export_document(node, plate.space, plate.plate_block())
    output = path_setting(node, "output")
    if not output:
        raise ValueError("set %s's output knob (e.g. /shots/sh010/mattes/sh010.####.exr)" % node.name())
    return plate, document, output, write_prompt_file(prompt_file_for(node), document)


def submit_to_farm(node) -> Optional[BackgroundRun]:
    """Export the prompts and hand the shot to the farm manager (`rmpsam-matte farm <manager>`) in
    the background; a message says what was written and submitted, or why not."""
    try:
        manager = configured_manager(setting(node, "farm_manager"))
        plate, document, output, prompt_path = _exported_shot(node)
        command = farm_command(
            command_prefix(configured(setting(node, "executable"))), manager, node.name(), plate.pattern, prompt_path,
            output, (plate.first_frame, plate.last_frame), weights=path_setting(node, "weights"),
            threads=int(setting(node, "threads")), cryptomatte=bool(setting(node, "cryptomatte")),
            extra=setting(node, "extra_args"))
    except _PROBLEMS as error:
        return _tell(error)
    node_name = node.name()

    def finished(result: RunResult) -> None:  # main thread, via nuke.executeInMainThread
        if result.ok and result.done_event:
            nuke.message("%s: %s" % (node_name, result.done_event.get("message", "submitted")))
        else:
            nuke.message("%s: farm submission failed: %s" % (node_name, result.error))

    return BackgroundRun(command, "RMPSAM %s to %s" % (node_name, manager), finished).start()


def load_result(node):
    """Load the output of the node's last prompt file (the one a run used)."""
    try:
        document = read_prompt_file(prompt_file_for(node))
        plate = plate_for_node(node)
        output = path_setting(node, "output")
        if not output:
            raise ValueError("%s has no output to load" % node.name())
    except _PROBLEMS as error:
        return _tell(error)
    names = [entry["name"] for entry in document["instances"]]
    return _load(node.name(), output, (plate.first_frame, plate.last_frame), names, bool(setting(node, "cryptomatte")))


def preview(node):
    """Decode the current frame's keyed prompts on the preview server; a Read per instance shows it."""
    try:
        plate = plate_for_node(node)
        document = export_document(node, plate.space, plate.plate_block())
        frame = int(nuke.frame())
        names = [entry["name"] for entry in document["instances"]]
        request = request_from_document(document, frame, output_layer_names(names, False), node.name())
        if not request.prompts:
            raise ValueError("no instance of %s has a key on frame %d" % (node.name(), frame))
        prefix = command_prefix(configured(setting(node, "executable")))
        weights = path_setting(node, "weights")
    except _PROBLEMS as error:
        return _tell(error)
    threads = int(setting(node, "threads"))
    extra = ["--threads", str(threads)] if threads else []

    def done(result) -> None:  # main thread
        if result.error:
            nuke.message("%s preview: %s" % (result.request.node_name, result.error))
        else:
            show_preview(result)

    return preview_in_background(lambda: POOL.client(prefix, plate.pattern, weights, extra), request, done)


def prompt_file_for(node) -> str:
    """The prompt file knob, else `<output folder>/<node>.prompts.json`."""
    path = path_setting(node, "prompt_file")
    if path:
        return path
    output = path_setting(node, "output")
    if not output:
        raise ValueError("set %s's prompt file or output knob" % node.name())
    return os.path.join(os.path.dirname(os.path.abspath(output)), "%s.prompts.json" % node.name())


def _load(node_name: str, output: str, frames, names, cryptomatte: bool):
    node = nuke.toNode(node_name)
    position = (node.xpos() + 150, node.ypos()) if node is not None else None
    return _load_result(output, frames[0], frames[1], names, cryptomatte, node_name, position)


def _tell(error: Exception) -> None:
    nuke.message("RMPSAM: %s" % error)
    return None

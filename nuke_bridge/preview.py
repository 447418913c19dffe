"""Preview: decode the current frame's prompts through the warm preview server, show the mattes.

One `rmpsam-matte serve` per plate (and executable/weights) is started on first use and reused:
the server keeps the network and the frame's features warm, so the second click costs a decoder
pass instead of a backbone pass. Its first stdout line announces the URL and the token
(cli/serve_cmd.py); the client (preview_client.py) sends the token with every request. The server
exits by itself when idle, and a dead one is simply started again.

Threads as in runner.py: the prompts are read from the knobs on the main thread; the HTTP calls
(seconds on a cold frame) run on a worker thread; the PNGs are written to a temporary folder and
a Read per instance is created or updated by `nuke.executeInMainThread`.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import nuke

from .preview_client import PreviewClient, PreviewError

STARTUP_TIMEOUT_S = 300.0  # loading weights on a busy CPU node


class ServerKey(NamedTuple):
    prefix: Tuple[str, ...]
    plate: str
    weights: str


class ServerHandle(NamedTuple):
    process: subprocess.Popen
    client: PreviewClient


class ServerPool:
    """Preview servers by (command, plate, weights), started on demand, reused while alive."""

    def __init__(self) -> None:
        self._servers = {}  # type: Dict[ServerKey, ServerHandle]
        self._lock = threading.Lock()

    def client(self, prefix: Sequence[str], plate: str, weights: str = "", extra: Sequence[str] = ()) -> PreviewClient:
        key = ServerKey(tuple(prefix), plate, weights or "")
        with self._lock:
            handle = self._servers.get(key)
            if handle is None or handle.process.poll() is not None:
                handle = _start_server(list(prefix), plate, weights, extra)
                self._servers[key] = handle
            return handle.client

    def shutdown(self) -> None:
        with self._lock:
            for handle in self._servers.values():
                if handle.process.poll() is None:
                    try:
                        handle.client.shutdown()
                        handle.process.wait(10)
                    except (PreviewError, subprocess.TimeoutExpired):
                        handle.process.kill()
                if handle.process.stdout is not None:
                    handle.process.stdout.close()
            self._servers.clear()


POOL = ServerPool()


class PreviewRequest(NamedTuple):
    """Everything the worker needs, read from the knobs on the main thread."""

    frame: int
    prompts: Dict[str, dict]  # layer name -> {"positive_clicks", "negative_clicks", "boxes"} (tool coordinates)
    node_name: str


class PreviewResult(NamedTuple):
    request: PreviewRequest
    files: Dict[str, str]     # layer name -> PNG path
    error: Optional[str]


def request_from_document(document: dict, frame: int, layers: Dict[str, str], node_name: str) -> PreviewRequest:
    """The prompts of every instance keyed on `frame`, from an exported prompt document."""
    prompts = {}
    for entry in document["instances"]:
        for keyframe in entry["keyframes"]:
            if keyframe["frame"] == frame:
                prompts[layers[entry["name"]]] = {key: keyframe.get(key, []) for key in
                                                  ("positive_clicks", "negative_clicks", "boxes")}
    return PreviewRequest(frame, prompts, node_name)


def decode(client: PreviewClient, request: PreviewRequest, folder: str) -> Dict[str, str]:
    """Worker thread: one decode per instance; returns the PNG files written."""
    files = {}
    for layer, prompts in sorted(request.prompts.items()):
        answer = client.decode(request.frame, prompts["positive_clicks"], prompts["negative_clicks"],
                               prompts["boxes"], encoding="png")
        path = os.path.join(folder, "%s_%s.%d.png" % (request.node_name, layer, request.frame))
        with open(path, "wb") as handle:
            handle.write(answer["matte_bytes"])
        files[layer] = path
    return files


def preview_in_background(get_client: Callable[[], PreviewClient], request: PreviewRequest,
                          on_done: Callable[[PreviewResult], None], folder: Optional[str] = None) -> threading.Thread:
    """Start the worker; `on_done` runs on the main thread with the result."""
    folder = folder or tempfile.mkdtemp(prefix="rmpsam_preview_")

    def work() -> None:
        try:
            result = PreviewResult(request, decode(get_client(), request, folder), None)
        except (PreviewError, OSError, ValueError) as error:
            result = PreviewResult(request, {}, str(error))
        nuke.executeInMainThread(on_done, args=(result,))

    thread = threading.Thread(target=work, name="rmpsam-preview", daemon=True)
    thread.start()
    return thread


def show_preview(result: PreviewResult) -> List[object]:
    """Main thread: a Read per instance on its PNG (reused across previews of the same node)."""
    reads = []
    for layer, path in sorted(result.files.items()):
        name = "%s_preview_%s" % (result.request.node_name, layer)
        read = nuke.toNode(name)
        if read is None:
            read = nuke.nodes.Read()
            read.setName(name)
        read["file"].setValue(path.replace(os.sep, "/"))
        read["first"].setValue(result.request.frame)
        read["last"].setValue(result.request.frame)
        read["reload"].execute()
        reads.append(read)
    return reads


def _start_server(prefix: List[str], plate: str, weights: str, extra: Sequence[str]) -> ServerHandle:
    """Start `serve` and read its announcement. Runs on the worker thread (it can take a while)."""
    command = prefix + ["serve", "--plate", plate] + (["--weights", weights] if weights else []) + list(extra)
    # stderr goes to a file: a pipe nobody reads would fill up and stall a chatty server.
    log = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                               universal_newlines=True, bufsize=1)
    line = process.stdout.readline()  # the server prints its announcement as soon as it listens
    try:
        announcement = json.loads(line)
        url, token = announcement["url"], announcement["token"]
    except (ValueError, KeyError, TypeError):
        try:
            process.wait(STARTUP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
        log.seek(0)
        problem = log.read().strip() or line.strip() or "exit code %s" % process.returncode
        raise PreviewError(0, "the preview server did not start: %s" % problem)
    finally:
        log.close()
    return ServerHandle(process, PreviewClient(url, token))

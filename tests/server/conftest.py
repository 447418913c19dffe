"""The real preview server over real loopback HTTP: `rmpsam-matte serve` in a subprocess.

The shot, prompts and tiny random weights are built as in tests/job/conftest.py (the server's
mechanics do not depend on the network segmenting well). A server is started through the CLI
exactly as the Nuke bridge starts it, its first stdout line (`{"event": "listening", ...}`) gives
the port and token, and requests go through `http.client`. Every wait has a timeout and every
server process is killed in teardown, so no test can hang or leave a process behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from preview_client import ServerProcess, listening_server
from shot_fixtures import write_prompted_shot


@pytest.fixture(scope="session")
def shot_dir(tmp_path_factory) -> Path:
    """8 frames 1001-1008 at 160x96, 2 objects, keyframes on 1001 and 1005."""
    return write_prompted_shot(tmp_path_factory.mktemp("shot"), seed=11, num_frames=8, keyframes=[0, 4])


@pytest.fixture(scope="session")
def long_shot(tmp_path_factory) -> Path:
    """32 frames with keyframes on the first and the 17th: a job long enough to cancel midway."""
    return write_prompted_shot(tmp_path_factory.mktemp("long_shot"), seed=12, num_frames=32, keyframes=[0, 16])


@pytest.fixture(scope="session")
def plate_pattern(shot_dir) -> str:
    return str(shot_dir / "plate.####.exr")


@pytest.fixture(scope="session")
def keyframe_prompts(shot_dir) -> dict[str, dict[int, dict]]:
    """instance name -> keyframe -> {"positive_clicks", "negative_clicks", "boxes"} from prompts.json."""
    document = json.loads((shot_dir / "prompts.json").read_text())
    result: dict[str, dict[int, dict]] = {}
    for instance in document["instances"]:
        frames = {}
        for keyframe in instance["keyframes"]:
            frames[int(keyframe["frame"])] = {key: keyframe.get(key, []) for key in
                                              ("positive_clicks", "negative_clicks", "boxes")}
        result[instance["name"]] = frames
    return result


@pytest.fixture(scope="session")
def output_root(tmp_path_factory) -> Path:
    """The servers' --output-root: pytest's base folder, above every test's tmp_path and the shots."""
    return tmp_path_factory.getbasetemp()


@pytest.fixture
def start_server(plate_pattern, tiny_weights, tmp_path, output_root):
    """Factory: start_server(*extra_cli_args, wait=True) -> a listening ServerProcess, stopped in teardown.
    The output root is `output_root` unless the arguments name one, or `default_root` asks for the
    server's own default (the plate's folder)."""
    started: list[ServerProcess] = []

    def start(*extra: str, wait: bool = True, plate: str | None = None, default_root: bool = False) -> ServerProcess:
        root = [] if default_root or "--output-root" in extra else ["--output-root", output_root]
        arguments = ["--plate", plate or plate_pattern, "--weights", tiny_weights, "--threads", "1",
                     "--idle-timeout", "300", *root, *extra]
        server = ServerProcess(arguments, tmp_path / f"server{len(started)}.stderr")
        started.append(server)
        if wait:
            server.wait_listening()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def server(plate_pattern, tiny_weights, tmp_path_factory, output_root):
    """One listening server shared by a module's tests (start-up costs seconds)."""
    directory = tmp_path_factory.mktemp("server")
    with listening_server(["--plate", plate_pattern, "--weights", tiny_weights, "--threads", "1",
                           "--idle-timeout", "600", "--output-root", output_root], directory / "server.stderr") as process:
        yield process

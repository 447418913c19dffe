"""Preview through the real preview server (`rmpsam-matte serve`, token over loopback HTTP), and
how the bridge finds the tool's executable."""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import nuke
import pytest
from nuke_support import SHOT_FRAMES, plate_read, rmpsam_below
from shot_fixtures import FIRST_FRAME, SHOT_HEIGHT, SHOT_WIDTH

from nuke_bridge import actions, executable, preview

EXECUTABLE = Path(sys.executable).parent / "rmpsam-matte"


@pytest.mark.slow
def test_preview_decodes_the_current_frame_on_the_server(nuke_shot, tiny_weights):
    read = plate_read(nuke_shot / "plate.####.exr", FIRST_FRAME, FIRST_FRAME + SHOT_FRAMES - 1, SHOT_WIDTH, SHOT_HEIGHT)
    node = rmpsam_below(read)
    assert actions.import_prompts(node, str(nuke_shot / "prompts.json")) is not None, nuke.MESSAGES
    node["executable"].setValue(str(EXECUTABLE))
    node["weights"].setValue(str(tiny_weights))
    node["threads"].setValue(1)
    nuke.frame(FIRST_FRAME + 1)
    assert actions.preview(node) is None and "no instance" in nuke.MESSAGES[-1]  # not a keyframe

    nuke.frame(FIRST_FRAME)
    nuke.TOUCHES.clear()
    try:
        thread = actions.preview(node)
        assert thread is not None, nuke.MESSAGES
        assert nuke.run_until(lambda: not thread.is_alive(), timeout=300)
        nuke.process_events()
        assert len(nuke.MESSAGES) == 1, nuke.MESSAGES
        reads = [n for n in nuke.allNodes("Read") if n.name().startswith(node.name() + "_preview_")]
        assert len(reads) == 2
        for preview_read in reads:
            png = Path(preview_read["file"].value()).read_bytes()
            assert png[:8] == b"\x89PNG\r\n\x1a\n"
            assert struct.unpack(">II", png[16:24]) == (SHOT_WIDTH, SHOT_HEIGHT)  # IHDR: the plate's size
            assert preview_read["first"].value() == FIRST_FRAME
        assert not [touch for touch in nuke.TOUCHES if not touch[1]], "the preview worker touched nodes"
        assert any(caller == "rmpsam-preview" and not inline for caller, _, inline in nuke.EXECUTE_CALLS)

        # a second preview reuses the warm server and the same Reads
        server_count = len(preview.POOL._servers)
        thread = actions.preview(node)
        assert nuke.run_until(lambda: not thread.is_alive(), timeout=120)
        nuke.process_events()
        assert len(preview.POOL._servers) == server_count == 1
        assert sorted(n.name() for n in nuke.allNodes("Read") if "_preview_" in n.name()) == \
            sorted(r.name() for r in reads)
    finally:
        preview.POOL.shutdown()


def test_executable_from_knob_then_environment_then_path(tmp_path, monkeypatch):
    assert executable.configured("/opt/a/rmpsam-matte", {executable.ENV_VAR: "/opt/b"}) == "/opt/a/rmpsam-matte"
    assert executable.configured("  ", {executable.ENV_VAR: "/opt/b/rmpsam-matte"}) == "/opt/b/rmpsam-matte"
    assert executable.configured("", {}) == "rmpsam-matte"

    tool = tmp_path / "bin dir" / "rmpsam-matte"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert executable.command_prefix(str(tool)) == [str(tool)]  # a path with a space, unquoted
    monkeypatch.setenv("PATH", str(tool.parent) + os.pathsep + os.environ.get("PATH", ""))
    assert executable.command_prefix("rmpsam-matte") == [str(tool)]
    with pytest.raises(executable.ExecutableError, match="cannot find"):
        executable.command_prefix("no-such-rmpsam-tool")


def test_a_python_executable_calls_the_cli_entry_point(nuke_shot):
    """A studio may point at the environment's Python instead of its script: the prefix then runs
    the CLI's entry point, and it really starts the tool."""
    import subprocess

    prefix = executable.command_prefix(sys.executable)
    assert prefix[:2] == [sys.executable, "-c"]
    result = subprocess.run(prefix + ["run", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "rmpsam-matte run" in result.stdout

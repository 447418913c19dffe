"""Run locally through the REAL `rmpsam-matte run` (subprocess), then Load result: the Read and
Shuffles point at files and layers that exist; node work happens on the main thread only."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nuke
import OpenImageIO as oiio
import pytest
from nuke_support import SHOT_FRAMES, plate_read, rmpsam_below
from shot_fixtures import FIRST_FRAME, SHOT_HEIGHT, SHOT_WIDTH

from nuke_bridge import actions
from nuke_bridge.layer_names import output_layer_names
from nuke_bridge.runner import INTERRUPTED_EXIT
from rmpsam_plugin.images.layer_names import output_layer_names as writers_layer_names
from rmpsam_plugin.images.nuke_channels import nuke_channel_name

EXECUTABLE = Path(sys.executable).parent / "rmpsam-matte"
LAST_FRAME = FIRST_FRAME + SHOT_FRAMES - 1

pytestmark = pytest.mark.slow


def prepared_node(nuke_shot, weights, output_dir, extra="--no-temporal"):
    node = rmpsam_below(plate_read(nuke_shot / "plate.####.exr", FIRST_FRAME, LAST_FRAME, SHOT_WIDTH, SHOT_HEIGHT))
    assert actions.import_prompts(node, str(nuke_shot / "prompts.json")) is not None, nuke.MESSAGES
    node["prompt_file"].setValue("")  # let Run write its own file beside the output
    node["output"].setValue(str(output_dir / "mattes" / "sh.####.exr"))
    node["executable"].setValue(str(EXECUTABLE))
    node["weights"].setValue(str(weights))
    node["threads"].setValue(1)
    node["extra_args"].setValue(extra)
    return node


def exr_channels(path) -> list:
    image = oiio.ImageInput.open(str(path))
    assert image is not None, oiio.geterror()
    try:
        return list(image.spec().channelnames), image.spec()
    finally:
        image.close()


def frame_path(pattern: str, frame: int) -> Path:
    return Path(re.sub(r"#+", lambda m: "%0*d" % (len(m.group(0)), frame), pattern))


def test_run_locally_then_load_result(nuke_shot, tiny_weights, tmp_path):
    node = prepared_node(nuke_shot, tiny_weights, tmp_path)
    nuke.TOUCHES.clear()
    run = actions.run_locally(node)
    assert run is not None, nuke.MESSAGES
    assert nuke.run_until(lambda: run.finished.is_set(), timeout=600), "the run did not finish"
    nuke.process_events()  # the finished-callback queued by the worker
    assert run.result.ok, (run.result.error, run.result.events)
    assert not nuke.MESSAGES

    # the CLI ran with JSON progress, and the progress bar saw it to the end
    assert run.command[:2] == [str(EXECUTABLE), "run"] and "--progress" in run.command
    task = nuke.PROGRESS_TASKS[-1]
    assert task.thread_name == "rmpsam-run" and task.progress[-1] == 100
    assert [e["frame"] for e in run.result.events if e["event"] == "frame"] == list(range(FIRST_FRAME, LAST_FRAME + 1))

    # worker threads never touched a node: every node/knob call was on the main thread...
    off_main = [touch for touch in nuke.TOUCHES if not touch[1]]
    assert not off_main, off_main[:5]
    # ...and the result came back through executeInMainThread from the worker
    assert any(caller == "rmpsam-run" and not inline for caller, _, inline in nuke.EXECUTE_CALLS)

    # Load result: a Read on files that exist...
    read = nuke.toNode(node.name() + "_result")
    assert read is not None and read.Class() == "Read"
    assert (read["first"].value(), read["last"].value()) == (FIRST_FRAME, LAST_FRAME)
    pattern = read["file"].getText()
    for frame in range(FIRST_FRAME, LAST_FRAME + 1):
        assert frame_path(pattern, frame).is_file()
    channels, spec = exr_channels(frame_path(pattern, FIRST_FRAME))
    nuke_channels = {".".join(nuke_channel_name(name)) for name in channels}

    # ...a Shuffle per instance taking <layer>.alpha, a channel that exists in the file...
    names = list(json.loads(spec.getattribute("rmpsam/layers")))  # the writer's instance -> layer map
    shuffles = [n for n in nuke.allNodes("Shuffle2") if n.input(0) is read]
    assert len(shuffles) == len(names) == 2
    for shuffle in shuffles:
        layer = shuffle["in1"].value()
        assert "%s.alpha" % layer in nuke_channels
        assert shuffle["mappings"].value() == [(0, layer + ".alpha", "rgba." + c) for c in ("red", "green", "blue", "alpha")]

    # ...and the Cryptomatte node on the layer the file carries, with the manifest's names
    crypto = nuke.allNodes("Cryptomatte")[0]
    assert crypto.input(0) is read and crypto["cryptoLayerChoice"].value() == "CryptoObject"
    assert "CryptoObject00.red" in nuke_channels
    manifest_names = set()
    for attribute in spec.extra_attribs:
        if attribute.name.startswith("cryptomatte/") and attribute.name.endswith("/manifest"):
            manifest_names |= set(json.loads(attribute.value))
    assert set(crypto["matteList"].value().split(", ")) == manifest_names == set(names)


def test_cancel_stops_the_process_and_loads_nothing(nuke_shot, tiny_weights, tmp_path):
    node = prepared_node(nuke_shot, tiny_weights, tmp_path)
    run = actions.run_locally(node)
    assert run is not None, nuke.MESSAGES
    assert nuke.run_until(lambda: bool(nuke.PROGRESS_TASKS), timeout=30)
    nuke.PROGRESS_TASKS[-1].cancel()  # the artist presses Cancel on the progress bar
    assert nuke.run_until(lambda: run.finished.is_set(), timeout=120)
    nuke.process_events()
    assert run.result.cancelled and not run.result.ok
    assert run.result.returncode != 0
    assert nuke.toNode(node.name() + "_result") is None and not nuke.MESSAGES


def test_a_failing_run_reports_the_tools_error(nuke_shot, tiny_weights, tmp_path):
    node = prepared_node(nuke_shot, tiny_weights, tmp_path, extra="--size 7")
    run = actions.run_locally(node)
    assert nuke.run_until(lambda: run.finished.is_set(), timeout=300)
    nuke.process_events()
    assert not run.result.ok and run.result.returncode not in (0, INTERRUPTED_EXIT)
    assert nuke.MESSAGES and "rmpsam-matte failed" in nuke.MESSAGES[-1]


def test_layer_names_follow_the_writers_rule():
    names = ["car", "car 2", "car_2", "rgba", "2cats", "CryptoObject", "CryptoObject01", "", "é"]
    assert output_layer_names(names, cryptomatte=True) == writers_layer_names(names)
    assert output_layer_names(names, cryptomatte=False) == writers_layer_names(names, cryptomatte_layer=None)


def test_load_result_without_cryptomatte_makes_a_read_and_shuffle2s_only():
    """Nuke 14-16 (the bridge's Python 3.9-3.11) all have Shuffle2; a pattern the CLI spells
    `$F4` becomes one the Read's file knob takes."""
    from nuke_bridge.result_loader import load_result

    loaded = load_result("/mattes/sh.$F4.exr", 1001, 1010, ["car", "rgba"], cryptomatte=False)
    assert loaded.read["file"].getText() == "/mattes/sh.%04d.exr"
    assert loaded.layers == {"car": "car", "rgba": "rgba_2"}
    shuffle = loaded.shuffles["rgba"]
    assert shuffle.Class() == "Shuffle2" and shuffle["in1"].value() == "rgba_2"
    assert shuffle["mappings"].value() == [(0, "rgba_2.alpha", "rgba." + c) for c in ("red", "green", "blue", "alpha")]
    assert loaded.cryptomatte is None and nuke.allNodes("Cryptomatte") == []

"""The plugin as Nuke loads it: NUKE_PATH's init.py (no UI) and menu.py, inside a Python that has
no torch, numpy or OpenImageIO, and source that Nuke's Python 3.9 can parse."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import nuke

import nuke_bridge

BRIDGE_DIR = Path(nuke_bridge.__file__).resolve().parent
NUKE_PATH_DIR = BRIDGE_DIR / "nuke_path"
FAKE_NUKE_DIR = Path(__file__).resolve().parent / "fake_nuke"
FORBIDDEN = ("torch", "numpy", "OpenImageIO", "cv2", "scipy", "rmpsam_model", "rmpsam_plugin", "rmpsam_cli")

# Runs in a fresh interpreter: the forbidden packages cannot be imported, nuke_bridge is not on
# sys.path (init.py must make it importable), the fake nuke is.
NUKE_SESSION = textwrap.dedent("""
    import importlib, json, pkgutil, runpy, sys
    FORBIDDEN = {forbidden!r}

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in FORBIDDEN:
                raise ImportError("%s is not available in Nuke's Python" % name)
            return None

    sys.meta_path.insert(0, Refuse())
    sys.path = [{fake!r}] + [p for p in sys.path if p and "site-packages" not in p and p != {repo!r}]
    import nuke
    runpy.run_path({init!r}, run_name="__main__")
    after_init = {{"menus": list(nuke.MENU_CALLS), "nodes": len(nuke.allNodes()), "tasks": len(nuke.PROGRESS_TASKS)}}
    import nuke_bridge
    modules = sorted(m.name for m in pkgutil.walk_packages(nuke_bridge.__path__, "nuke_bridge."))
    for name in modules:
        if not name.endswith((".init", ".menu")):
            importlib.import_module(name)
    runpy.run_path({menu!r}, run_name="__main__")
    menus = list(nuke.MENU_CALLS)
    item = nuke.menu("Nodes").findItem("RMP-SAM/RMPSAM")
    node = item.invoke()
    read = nuke.nodes.Read(file="/p/sh.####.exr", first=1, last=3, format=nuke.Format(100, 50))
    node.setInput(0, read)
    track = nuke_bridge.node.add_instance(node, "car")
    nuke_bridge.animation.set_key(track.positive[0], 2, [10.0, 40.0], nuke.frame())
    plate = nuke_bridge.plate_source.plate_for_node(node)
    document = nuke_bridge.prompt_export.export_document(node, plate.space)
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)
    print(json.dumps({{"after_init": after_init, "modules": modules, "menus": menus,
                      "node": node.Class(), "document": document, "forbidden_loaded": loaded,
                      "bridge_file": nuke_bridge.__file__}}))
""")


def test_plugin_loads_from_nuke_path_without_torch_numpy_or_openimageio():
    repo = str(BRIDGE_DIR.parent)
    script = NUKE_SESSION.format(forbidden=FORBIDDEN, fake=str(FAKE_NUKE_DIR), repo=repo,
                                 init=str(NUKE_PATH_DIR / "init.py"), menu=str(NUKE_PATH_DIR / "menu.py"))
    result = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=str(FAKE_NUKE_DIR))
    assert result.returncode == 0, result.stderr
    report = __import__("json").loads(result.stdout.splitlines()[-1])
    assert report["after_init"] == {"menus": [], "nodes": 0, "tasks": 0}, "init.py must not build UI"
    assert report["bridge_file"] == str(BRIDGE_DIR / "__init__.py")
    expected = {"nuke_bridge." + p.stem for p in BRIDGE_DIR.glob("*.py") if p.stem != "__init__"}
    assert expected <= set(report["modules"])
    assert report["menus"] == ["Nodes"] and report["node"] == "NoOp"
    assert report["document"]["instances"] == [
        {"name": "car", "keyframes": [{"frame": 2, "positive_clicks": [[10.0, 10.0]], "negative_clicks": [],
                                       "boxes": []}]}]
    assert report["forbidden_loaded"] == []


def test_init_py_adds_no_ui_and_menu_py_registers_the_node():
    """In-process too (nuke_bridge already imported): init touches no menu, node or panel."""
    import runpy

    runpy.run_path(str(NUKE_PATH_DIR / "init.py"))
    assert nuke.MENU_CALLS == [] and nuke.allNodes() == [] and nuke.TOUCHES == []
    runpy.run_path(str(NUKE_PATH_DIR / "menu.py"))
    assert nuke.MENU_CALLS == ["Nodes"]
    node = nuke.menu("Nodes").findItem("RMP-SAM/RMPSAM").invoke()
    assert node.knob("rmpsam_node") is not None and node.name() == "RMPSAM1"
    for button in ("add_instance", "preview", "run_locally", "load_result", "export_prompts", "import_prompts"):
        assert node[button].Class() == "PyScript_Knob"


def test_buttons_run_their_handlers():
    import nuke_bridge.node

    node = nuke_bridge.node.create_node()
    nuke.INPUT_ANSWERS.append("hero car")
    node["add_instance"].execute()
    tracks = nuke_bridge.node.instances(node)
    assert [t.name.value() for t in tracks] == ["hero car"]
    assert [k.Class() for k in tracks[0].positive + tracks[0].negative + tracks[0].boxes] == \
        ["XY_Knob"] * 5 + ["BBox_Knob"]
    node["i1_remove"].execute()
    assert nuke_bridge.node.instances(node) == []
    node["run_locally"].execute()  # no Read upstream: a message, not an exception
    assert "no Read upstream" in nuke.MESSAGES[-1]


def test_sources_parse_as_python_3_9():
    """Nuke 14, 15 and 16 ship Python 3.9, 3.10 and 3.11 (Nuke 13 shipped 3.7): no `match`, no
    3.10+ grammar anywhere in the bridge."""
    files = sorted(BRIDGE_DIR.rglob("*.py"))
    assert len(files) >= 10
    for path in files:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(path), feature_version=(3, 9))
        assert not [n for n in ast.walk(tree) if type(n).__name__ == "Match"], path
        imported = {alias.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not imported & set(FORBIDDEN), (path, imported & set(FORBIDDEN))

"""The direction of imports, enforced: cli -> rmpsam_plugin -> rmpsam_model, nuke_bridge stdlib only.

`rmpsam_model` is the network and must run anywhere torch runs (a notebook, a training job);
`rmpsam_plugin` is the tool around it and never reaches up into the command line; `nuke_bridge`
runs inside Nuke's own Python, where neither torch nor our packages exist. Every import statement
of every module is read from the source (not executed), lazy ones inside functions included.
Inside `rmpsam_plugin`, subpackages form layers too (see docs/architecture.md): a lower one never
imports a higher one, so the layout can be read from the bottom up.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"rmpsam_model": ROOT / "rmpsam_model", "rmpsam_plugin": ROOT / "rmpsam_plugin",
            "rmpsam_cli": ROOT / "cli", "nuke_bridge": ROOT / "nuke_bridge"}
MAY_IMPORT = {
    "rmpsam_model": {"rmpsam_model"},
    "rmpsam_plugin": {"rmpsam_model", "rmpsam_plugin"},
    "rmpsam_cli": {"rmpsam_model", "rmpsam_plugin", "rmpsam_cli"},
    "nuke_bridge": {"nuke_bridge"},
}
# rmpsam_plugin's subpackages (and top-level modules), lowest first: each may import only its own
# layer and the layers before it.
PLUGIN_LAYERS = [
    {"errors", "printable", "step_timing"},
    {"images"},
    {"cryptomatte"},
    {"prompts"},
    {"propagation", "refine"},
    {"mattes"},
    {"job", "synthetic", "evaluation", "training_data"},
    {"session"},
    {"server", "farm", "bench"},
    {"editor"},
]


def modules(package: str):
    for path in sorted(PACKAGES[package].rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def imported_names(tree: ast.AST, package: str, path: Path) -> set[str]:
    """Absolute dotted names of everything `tree` imports (relative imports resolved)."""
    names = set()
    relative_base = [package] + list(path.relative_to(PACKAGES[package]).parent.parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = relative_base[: len(relative_base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


OURS = set(PACKAGES)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_packages_import_only_downwards(package):
    wrong = []
    for path, tree in modules(package):
        for name in imported_names(tree, package, path):
            top = name.split(".")[0]
            if top in OURS and top not in MAY_IMPORT[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_nuke_bridge_needs_only_the_standard_library_and_nuke():
    allowed = set(sys.stdlib_module_names) | {"nuke", "nukescripts", "nuke_bridge", "__future__", "cryptomatte_utilities"}
    wrong = sorted({f"{path.relative_to(ROOT)} imports {name}" for path, tree in modules("nuke_bridge")
                    for name in imported_names(tree, "nuke_bridge", path) if name and name.split(".")[0] not in allowed})
    assert not wrong, "\n".join(wrong)


def layer_of(part: str) -> int:
    for index, layer in enumerate(PLUGIN_LAYERS):
        if part in layer:
            return index
    raise AssertionError(f"rmpsam_plugin.{part} is in no layer of PLUGIN_LAYERS: place it there")


def test_rmpsam_plugin_layers_import_only_lower_layers():
    wrong = []
    for path, tree in modules("rmpsam_plugin"):
        parts = path.relative_to(PACKAGES["rmpsam_plugin"]).with_suffix("").parts
        if parts == ("__init__",):
            continue  # the package's lazy exports name the API on top
        own = layer_of(parts[0])
        for name in imported_names(tree, "rmpsam_plugin", path):
            pieces = name.split(".")
            if pieces[0] != "rmpsam_plugin" or len(pieces) < 2 or pieces[1] in ("__version__",):
                continue
            if pieces[1] not in set().union(*PLUGIN_LAYERS):
                continue  # `from rmpsam_plugin import __version__` and the like
            if layer_of(pieces[1]) > own:
                wrong.append(f"{'/'.join(parts)} (layer {own}) imports {name} (layer {layer_of(pieces[1])})")
    assert not wrong, "\n".join(wrong)

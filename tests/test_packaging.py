"""The package list in pyproject.toml must name every package folder, or an install drops code."""

from pathlib import Path

import tomllib

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    folder_of = {name: config["package-dir"].get(name, name.replace(".", "/")) for name in listed}
    on_disk = set()
    for top in ("rmpsam_model", "rmpsam_plugin", "nuke_bridge", "cli"):
        for init in (REPO_ROOT / top).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO_ROOT).as_posix()
            on_disk.add(relative)
    missing = on_disk - set(folder_of.values())
    assert not missing, f"package folders not listed in pyproject.toml [tool.setuptools] packages: {sorted(missing)}"

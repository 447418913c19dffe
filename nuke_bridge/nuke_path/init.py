"""Nuke runs this at start-up in every session, batch (`nuke -t`, render farms) included, so it
does no UI: it only makes `nuke_bridge` importable.

It loads that one package by path instead of adding its parent folder to sys.path: installed,
the parent is the tool's site-packages, full of numpy/torch builds for another Python, which must
never shadow or leak into Nuke's own interpreter.
"""

import importlib.util
import inspect
import os
import sys


def _this_file():
    """`__file__` where Nuke defines it; the code object's own file name where it does not."""
    try:
        return __file__
    except NameError:
        return inspect.currentframe().f_code.co_filename


def _load_nuke_bridge():
    if "nuke_bridge" in sys.modules:
        return sys.modules["nuke_bridge"]
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(_this_file())))
    spec = importlib.util.spec_from_file_location(
        "nuke_bridge", os.path.join(package_dir, "__init__.py"), submodule_search_locations=[package_dir])
    module = importlib.util.module_from_spec(spec)
    sys.modules["nuke_bridge"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["nuke_bridge"]
        raise
    return module


_load_nuke_bridge()

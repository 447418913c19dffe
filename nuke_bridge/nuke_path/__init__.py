"""The folder to put on NUKE_PATH: Nuke runs its `init.py` (every session, batch included) and its
`menu.py` (GUI sessions). It is a package only so that installing rmpsam-matte ships it; Nuke
itself never imports it as one.

    export NUKE_PATH="$(rmpsam-python -c 'import nuke_bridge.nuke_path as p, os; print(os.path.dirname(p.__file__))')"
"""

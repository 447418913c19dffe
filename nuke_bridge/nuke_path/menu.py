"""Nuke runs this in GUI sessions after init.py: the RMPSAM entry in the Nodes toolbar menu."""

import nuke


def _create_rmpsam_node():
    import nuke_bridge.node

    return nuke_bridge.node.create_node()


_menu = nuke.menu("Nodes").addMenu("RMP-SAM")
_menu.addCommand("RMPSAM", _create_rmpsam_node)

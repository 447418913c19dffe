"""A stand-in for Psyop's `cryptomatte_utilities` (Psyop/Cryptomatte, nuke/cryptomatte_utilities.py),
which a studio installs with the Cryptomatte gizmo and which, like Nuke, cannot run here.

Only the public call the bridge makes: `update_cryptomatte_gizmo(node, force=False)`, which in the
plugin re-reads the input's metadata and rebuilds the gizmo's `expression` from `matteList` (its
docstring: "Not invoked by gizmo button"; setting `matteList` from Python does not run it). The
stand-in records each call with the matte list the gizmo had at that moment.
"""

UPDATES = []  # (node name, matteList raw text, force)


def update_cryptomatte_gizmo(node, force=False):
    UPDATES.append((node.name(), node.knob("matteList").getText(), force))
    node.knob("expression").setValue("rebuilt from matteList")

"""Helpers shared by the Nuke bridge tests (a module of its own: see conftest.py's docstring)."""

from __future__ import annotations

import nuke

import nuke_bridge.node

SHOT_FRAMES = 4


def plate_read(pattern="/plates/sh010.####.exr", first=1001, last=1010, width=2048, height=1080,
               pixel_aspect=1.0, proxy="", proxy_size=None):
    """A Read as Nuke makes it for a sequence, selected so the next createNode hangs below it."""
    read = nuke.nodes.Read(file=str(pattern), first=first, last=last, origfirst=first, origlast=last,
                           format=nuke.Format(width, height, pixel_aspect), proxy=proxy)
    if proxy_size is not None:
        read["proxy_format"].setValue(nuke.Format(proxy_size[0], proxy_size[1], pixel_aspect))
    read.setSelected(True)
    return read


def rmpsam_below(read, through=()):
    """An RMPSAM node under `read`, optionally with nodes (class names) in between."""
    upstream = read
    for node_class in through:
        node = getattr(nuke.nodes, node_class)()
        node.setInput(0, upstream)
        upstream = node
    for node in nuke.allNodes():
        node.setSelected(node is upstream)
    return nuke_bridge.node.create_node()

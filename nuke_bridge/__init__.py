"""Nuke integration. Runs inside Nuke's own Python: standard library only, no torch, numpy or
OpenImageIO. Talks to the tool through the command line, files and the loopback preview server."""

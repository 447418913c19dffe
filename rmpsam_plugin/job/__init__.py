"""The main job: a plate sequence and a prompt file in, one matte EXR per frame out.

`settings` holds what the user asked for, `plan` checks it all before any work (and is all a
`--dry-run` does), `weights` picks the network, `runner` reads, propagates, refines and writes
with the three overlapped, `progress` reports to people (a bar) and machines (JSON lines).
"""

"""Render-farm jobs for the managers studios already run: Open Job Description (also what AWS
Deadline Cloud runs), OpenCue and Deadline 10.

Every task is the ordinary `rmpsam-matte run ... --segment A-B --progress json` of one keyframe
segment (idempotent, so a retried task resumes), and a final check task verifies the whole shot.

    plan.py      the shot's tasks (keyframe segments), estimates, the task and check commands
    check.py     which frames are finished, missing, stale or lack a layer
    openjd.py    an Open Job Description 2023-09 job template
    opencue.py   an OpenCue job built with OpenCue's own pyoutline; spec XML or submission
    deadline.py  Deadline 10 CommandLine-plugin job files and their `deadlinecommand` submission
"""

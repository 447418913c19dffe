"""Keyframe prompts to per-frame instance mattes: the propagation engine.

`keyframe_decode` turns one instance's prompts on one keyframe into a matte (the artist's decode);
`trackers` carry an instance from frame to frame (several schemes, chosen by measurement);
`engine` runs every instance forward and backward from its keyframes over a range of frames and
blends the two runs between keyframes; `pass_cache` keeps each step on disk so a killed job
resumes exactly where it stopped.
"""
